"""The backend interface: two methods, everything else an overridable default.

A backend turns requests into results. It never reads or writes run files; stages do that.

* ``generate(requests)`` produces text for each :class:`GenerationRequest`.
* ``choice_probs(requests)`` reads the next-token distribution at the end of each
  :class:`ChoiceRequest` prompt and returns the probability of each allowed choice.

Both take a list and return a list of the same length and order. A failed item is a result
with ``error`` set, never an exception, so that one bad request does not lose the others.
Exceptions are reserved for failures of the whole backend (a model that cannot be loaded).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evalharness.records import Message as Message  # re-exported: backends speak in messages

Progress = Callable[[int], None]
"""Called with the number of items just finished (for progress bars)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One text generation.

    Exactly one of ``messages`` (chat models) or ``prompt`` (plain completion) is set.
    """

    key: str
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass
class GenerationResult:
    """What a backend produced for one :class:`GenerationRequest`."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length" | "error"
    seconds: float
    rendered_prompt: str = ""
    error: str | None = None


@dataclass(frozen=True)
class ChoiceRequest:
    """Read P(choice) for each choice as the next token after the prompt.

    ``messages`` are rendered through the chat template (if the model has one) with the
    assistant turn opened, then ``answer_prefix`` (for example ``"Score:"``) is appended, and
    the distribution over the next token is read. Without ``messages``, ``prompt`` is used
    as the exact text. A backend that cannot place ``answer_prefix`` before the answer
    (:attr:`Backend.prefills_answer` False: a chat server) sends the messages as they are;
    the judge has then already asked for the bare choice in them.

    A choice matches the tokens ``choice`` and ``" " + choice`` (and other leading-space
    forms a tokenizer uses), summed.
    """

    key: str
    choices: tuple[str, ...]
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    answer_prefix: str = ""


@dataclass
class ChoiceResult:
    """The judge's next-token probabilities for one :class:`ChoiceRequest`.

    ``probs`` are raw probabilities (not renormalized): their sum is ``mass``, the share of
    the next-token distribution that fell on an allowed choice. ``text`` is set in text mode
    (backends without logprobs), where ``probs`` is one-hot on the parsed verdict, or empty
    with ``error`` set when no verdict could be parsed. ``mode`` says how this result was
    read (``"logprobs"`` or ``"text"``) when it differs from the judge's configured mode.
    ``no_logprobs`` says that the backend got no distribution at all for this request (a
    server without logprobs): ``error`` says why, and the judge reads the verdict as text.
    """

    probs: dict[str, float]
    rendered_prompt: str = ""
    text: str | None = None
    error: str | None = None
    seconds: float = 0.0
    mode: str | None = None
    no_logprobs: bool = False

    @property
    def mass(self) -> float:
        """Total probability on the allowed choices."""
        return float(sum(self.probs.values()))


@dataclass
class BackendInfo:
    """Identity of the loaded model, for manifests and records."""

    spec: str
    resolved: str  # a file hash, a revision, or a server model id
    has_chat_template: bool
    details: dict[str, object] = field(default_factory=dict)


class Backend(ABC):
    """A model that can generate text and read next-token choice probabilities."""

    info: BackendInfo
    prefills_answer: bool = True
    """Whether ``choice_probs`` places a request's ``answer_prefix`` right before the answer
    (in the opened assistant turn, or after the prompt text). A chat server cannot: the judge
    then appends its template's choice instruction to the last user message instead."""

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Generate text for each request, in order."""

    @abstractmethod
    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        """Return the next-token probability of each allowed choice, in order."""

    def render(self, messages: Sequence[Message] | None, prompt: str | None) -> str:
        """The exact text the model sees (chat template applied where there is one)."""
        if messages is None:
            return prompt or ""
        return json.dumps(list(messages), ensure_ascii=False)

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (a whitespace estimate unless overridden)."""
        return len(text.split())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (models, connections)."""
