"""A scripted backend whose behaviour and biases are set by the spec, for known-answer tests.

Spec: ``fake:NAME?key=value&...``. Generation returns deterministic text built from the
prompt; ``style=short|long|hedged|assertive`` shapes it. The judge's pairwise preference
P(A) starts at 0.5 plus a small deterministic jitter (``jitter``, default 0.2) and is then
set by the first bias that applies:

* ``position=p``: P(A) = p whatever the responses (1.0 always picks the first slot);
* ``length=p``: the longer response wins with probability p;
* ``confidence=p``: the response with more certainty markers wins with probability p;
* ``prefer=WORD``: a response containing WORD wins with probability 0.9.

``hard=1`` turns each soft preference into a one-hot verdict drawn with that probability
(deterministically, from a hash of the prompt). ``mass=m`` scales the choice probabilities
(the rest of the distribution falls outside the allowed tokens). Pointwise, the score
distribution centres on 3, moved by ``score_length`` (points per 100 words) and
``score_confidence`` (points per certainty marker). ``sleep=s`` waits s seconds per item,
``fail=WORD`` fails items whose prompt contains WORD. Every call is recorded in ``calls``.

Like any backend it sees only the rendered prompt: it reads the responses from the sections
of the shipped judge templates (``[Response]`` before ``[Criterion: …]``; ``[Response A]``
and ``[Response B]`` before the closing question), see :func:`judged_responses`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence

from evalharness.backends.base import (
    Backend,
    BackendInfo,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
    Progress,
)
from evalharness.specs import ModelSpec

CERTAINTY = ("certainly", "definitely", "without a doubt", "clearly", "undoubtedly")
HEDGES = ("i think", "might", "perhaps", "maybe", "not entirely sure", "possibly", "probably")


def _unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from strings."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


_POINT = ("[Response]\n", "\n\n[Criterion:")
_PAIR = ("[Response A]\n", "\n\n[Response B]\n", "\n\nWhich response is better")


def judged_responses(text: str) -> dict[str, str]:
    """The responses in a judge prompt written with the shipped templates: ``response``
    (pointwise) or ``response_a`` and ``response_b`` (pairwise); {} when the sections are
    not there. The last sections are read, so an instruction that quotes them is skipped."""
    end_b = text.rfind(_PAIR[2])
    start_b = text.rfind(_PAIR[1], 0, end_b) if end_b >= 0 else -1
    start_a = text.rfind(_PAIR[0], 0, start_b) if start_b >= 0 else -1
    if start_a >= 0:
        return {
            "response_a": text[start_a + len(_PAIR[0]) : start_b],
            "response_b": text[start_b + len(_PAIR[1]) : end_b],
        }
    end = text.rfind(_POINT[1])
    start = text.rfind(_POINT[0], 0, end) if end >= 0 else -1
    return {"response": text[start + len(_POINT[0]) : end]} if start >= 0 else {}


def confidence_score(text: str) -> int:
    """Certainty markers minus hedges (the scripted judge's notion of confidence)."""
    lower = text.lower()
    return sum(lower.count(m) for m in CERTAINTY) - sum(lower.count(m) for m in HEDGES)


class FakeBackend(Backend):
    """Scripted model: deterministic generation and a judge with settable biases."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.params = dict(spec.params)
        self.info = BackendInfo(
            spec=spec.raw,
            resolved=f"fake:{spec.target}",
            has_chat_template=self.params.get("chat", "1") == "1",
        )
        self.calls: list[tuple[str, str]] = []

    def _float(self, name: str, default: float | None = None) -> float | None:
        value = self.params.get(name)
        return float(value) if value is not None else default

    def _pause(self) -> None:
        delay = self._float("sleep", 0.0) or 0.0
        if delay:
            time.sleep(delay)

    def count_tokens(self, text: str) -> int:
        """Whitespace tokens."""
        return len(text.split())

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Deterministic text derived from the prompt and the ``style`` parameter."""
        results = []
        for request in requests:
            self._pause()
            rendered = self.render(request.messages, request.prompt)
            self.calls.append(("generate", request.key))
            fail = self.params.get("fail")
            if fail and fail in rendered:
                results.append(GenerationResult("", 0, 0, "error", 0.0, rendered, "scripted"))
                continue
            user = request.messages[-1]["content"] if request.messages else request.prompt or ""
            text = self._reply(user, request.seed if request.temperature > 0 else 0)
            words = text.split()
            finish = "length" if len(words) > request.max_new_tokens else "stop"
            text = " ".join(words[: request.max_new_tokens])
            results.append(
                GenerationResult(
                    text=text,
                    prompt_tokens=len(rendered.split()),
                    output_tokens=len(text.split()),
                    finish_reason=finish,
                    seconds=0.0,
                    rendered_prompt=rendered,
                )
            )
            if progress:
                progress(1)
        return results

    def _reply(self, user: str, seed: int) -> str:
        style = self.params.get("style", "short")
        topic = " ".join(user.split()[:6])
        core = f"The answer about {topic} is {int(_unit(user, str(seed)) * 100)}."
        if style == "long":
            return core + " " + " ".join(f"Detail {i} explains it further." for i in range(6))
        if style == "hedged":
            return "I think " + core[0].lower() + core[1:] + " It might be otherwise."
        if style == "assertive":
            return "Certainly, " + core[0].lower() + core[1:] + " This is definitely right."
        return core

    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        """Scripted distributions over the choices."""
        results = []
        mass = self._float("mass", 1.0) or 1.0
        for request in requests:
            self._pause()
            rendered = self.render(request.messages, request.prompt) + request.answer_prefix
            self.calls.append(("choice", request.key))
            fail = self.params.get("fail")
            if fail and fail in rendered:
                results.append(ChoiceResult({}, rendered, error="scripted failure"))
                continue
            user = request.messages[-1]["content"] if request.messages else request.prompt or ""
            context = judged_responses(user)
            if set(request.choices) == {"A", "B"}:
                p_a = self._p_first(context, rendered)
                if self.params.get("hard") == "1":
                    p_a = 1.0 if _unit(rendered, "hard") < p_a else 0.0
                probs = {"A": p_a * mass, "B": (1 - p_a) * mass}
            else:
                probs = self._score_probs(request.choices, context, rendered, mass)
            results.append(ChoiceResult(probs, rendered))
            if progress:
                progress(1)
        return results

    def _p_first(self, context: dict[str, str], rendered: str) -> float:
        a, b = context.get("response_a", ""), context.get("response_b", "")
        jitter = self._float("jitter", 0.2) or 0.0
        p = 0.5 + jitter * (_unit(rendered, "jitter") - 0.5)
        position = self._float("position")
        if position is not None:
            return position
        length = self._float("length")
        if length is not None and len(a.split()) != len(b.split()):
            return length if len(a.split()) > len(b.split()) else 1 - length
        confidence = self._float("confidence")
        if confidence is not None and confidence_score(a) != confidence_score(b):
            return confidence if confidence_score(a) > confidence_score(b) else 1 - confidence
        prefer = self.params.get("prefer")
        if prefer and (prefer in a) != (prefer in b):
            return 0.9 if prefer in a else 0.1
        return p

    def _score_probs(
        self, choices: tuple[str, ...], context: dict[str, str], rendered: str, mass: float
    ) -> dict[str, float]:
        response = context.get("response", "")
        centre = 3.0 + 0.6 * (_unit(rendered, "score") - 0.5)
        centre += (self._float("score_length", 0.0) or 0.0) * len(response.split()) / 100
        centre += (self._float("score_confidence", 0.0) or 0.0) * confidence_score(response)
        weights = [math.exp(-(((i + 1) - centre) ** 2)) for i in range(len(choices))]
        total = sum(weights)
        return {c: mass * w / total for c, w in zip(choices, weights, strict=True)}
