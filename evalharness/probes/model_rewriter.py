"""Counterfactual variants written by a model (opt-in with ``--rewriter SPEC``).

Each (response, kind) becomes one greedy generation request, so a deterministic backend
gives the same variants every time. A failed, empty or truncated generation falls back to
the rule-based variant, marked ``rules-fallback``. An empty response is not sent to the
model: its variants are the rule-based no-ops.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

from evalharness.backends.base import Backend, GenerationRequest, GenerationResult
from evalharness.errors import ConfigError, did_you_mean
from evalharness.probes.rewrite import VARIANTS, Variant, make_variant
from evalharness.text.rules import ProbeRules, load_rules

FALLBACK = "rules-fallback"

DEFAULT_TEMPLATE: dict[str, str] = {
    "system": (
        "You rewrite answers for a controlled experiment. Change only the property you are "
        "asked to change. Keep every fact, number, name, code block and list item of the "
        "original; never add new facts, examples or advice. Reply with the rewritten answer "
        "only, without any preamble."
    ),
    "user": ("{task}\n\nQuestion:\n{instruction}\n\nResponse:\n{response}\n\nRewritten response:"),
    "padded": (
        "Rewrite the response so it is about twice as long without adding any new facts: "
        "restate the question, add transitions and repeat or rephrase what the response "
        "already says. Keep its meaning and its level of confidence."
    ),
    "shortened": (
        "Rewrite the response so it is about half as long (50 to 70 percent of the words) "
        "by removing repetition and less important sentences. Do not add anything. Keep its "
        "level of confidence."
    ),
    "assertive": (
        "Rewrite the response so it sounds fully confident: remove hedges such as 'I think', "
        "'probably' or 'maybe' and state the claims plainly and with certainty. Keep the same "
        "content and about the same length."
    ),
    "hedged": (
        "Rewrite the response so it sounds unsure: add hedges such as 'I think', 'probably' "
        "or 'I'm not entirely sure, but'. Keep the same content and about the same length."
    ),
}
"""Prompt pieces: ``system``, the ``user`` message (``{task}``, ``{instruction}``,
``{response}``) and one task instruction per variant kind."""

_LENGTH_FACTOR = {"padded": 3.0, "shortened": 1.2, "assertive": 1.5, "hedged": 1.5}


class ModelRewriter:
    """Builds the four variants of each response with a model instead of the rules."""

    def __init__(
        self,
        backend: Backend,
        template: dict[str, str] | None = None,
        max_new_tokens: int = 256,
        seed: int = 0,
        rules: ProbeRules | None = None,
    ) -> None:
        unknown = sorted(set(template or {}) - set(DEFAULT_TEMPLATE))
        if unknown:
            raise ConfigError(
                f"rewriter template: unknown key {unknown[0]!r}"
                f"{did_you_mean(unknown[0], list(DEFAULT_TEMPLATE))}"
            )
        self.backend = backend
        self.template = {**DEFAULT_TEMPLATE, **(template or {})}
        _check_user_template(self.template["user"])
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.rules = rules if rules is not None else load_rules()
        info = getattr(backend, "info", None)
        self.name = f"model:{info.spec if info is not None else type(backend).__name__}"

    def requests(self, items: Sequence[tuple[str, str, str]]) -> list[GenerationRequest]:
        """The generation requests for ``items`` (key, instruction, response), non-empty only."""
        return [
            self._request(key, instruction, response, kind)
            for key, instruction, response in items
            if response.strip()
            for kind in VARIANTS
        ]

    def make_variants(self, items: Sequence[tuple[str, str, str]]) -> list[dict[str, Variant]]:
        """All four variants for each (key, instruction, response), in the order given."""
        requests = self.requests(items)
        results = self.backend.generate(requests) if requests else []
        if len(results) != len(requests):
            raise ConfigError(
                f"rewriter {self.name}: backend returned {len(results)} results "
                f"for {len(requests)} requests"
            )
        pending = iter(results)
        out = []
        for key, instruction, response in items:
            sent = bool(response.strip())
            out.append(
                {
                    kind: self._variant(
                        kind, key, instruction, response, next(pending) if sent else None
                    )
                    for kind in VARIANTS
                }
            )
        return out

    def _request(self, key: str, instruction: str, response: str, kind: str) -> GenerationRequest:
        user = self.template["user"].format(
            task=self.template[kind], instruction=instruction, response=response
        )
        needed = math.ceil(_LENGTH_FACTOR[kind] * self.backend.count_tokens(response)) + 16
        return GenerationRequest(
            key=_request_key(key, kind),
            messages=(
                {"role": "system", "content": self.template["system"]},
                {"role": "user", "content": user},
            ),
            max_new_tokens=max(self.max_new_tokens, needed),
            temperature=0.0,
            seed=self.seed,
        )

    def _variant(
        self,
        kind: str,
        key: str,
        instruction: str,
        response: str,
        result: GenerationResult | None,
    ) -> Variant:
        if result is None:  # empty response: nothing was sent
            return make_variant(kind, response, instruction, self.rules, self.seed, key)
        text = result.text.strip()
        if result.error is None and text and result.finish_reason != "length":
            return Variant(kind, text, self.name)
        fallback = make_variant(kind, response, instruction, self.rules, self.seed, key)
        return Variant(kind, fallback.text, FALLBACK)


def _check_user_template(user: str) -> None:
    allowed = {"task", "instruction", "response"}
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(user) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"rewriter template: key 'user': {exc}") from exc
    unknown = sorted(names - allowed)
    if unknown:
        raise ConfigError(
            f"rewriter template: key 'user' has unknown variable {{{unknown[0]}}}; "
            "use {task}, {instruction} and {response}"
        )


def _request_key(key: str, kind: str) -> str:
    return f"probe:{key}:{kind}"
