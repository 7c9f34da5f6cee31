"""The judge: rubric-prompted pointwise scores and pairwise verdicts in both orders.

Stages (main run, probes, validation) describe *what* to judge as items; this module turns
items into backend requests and backend results into records. Nothing here touches files.

Text mode has its home here: with ``mode="text"``, and for any request whose backend got no
logprobs (a server without them), the judge has the backend write a short answer
(``text_tokens`` tokens) and takes the last verdict in it (:mod:`evalharness.judge.parse`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from evalharness.backends.base import (
    Backend,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    Message,
    Progress,
)
from evalharness.judge.parse import argmax_choice, expected_score, parse_last_verdict
from evalharness.records import PairwiseRecord, PointwiseRecord
from evalharness.rubrics import Rubric
from evalharness.templates import JudgeSetup, PromptTemplate, check_template

POINTWISE_VARS = {
    "instruction",
    "response",
    "criterion_name",
    "criterion_question",
    "criterion_levels",
    "rubric_description",
    "criteria_block",
    "rubric_id",
}
PAIRWISE_VARS = {
    "instruction",
    "response_a",
    "response_b",
    "rubric_description",
    "criteria_block",
    "rubric_id",
}
TEXT_MODE_TOKENS = 24
"""Default tokens written in text mode: room for "Score: 4" and a few words around it."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PointwiseItem:
    """One response to score on every criterion."""

    prompt_id: str
    subject: str
    instruction: str
    response: str


@dataclass(frozen=True)
class PairItem:
    """X vs Y for one instruction, judged in both orders."""

    prompt_id: str
    comparison: str
    x: str
    y: str
    instruction: str
    text_x: str
    text_y: str


def with_choice_instruction(messages: Sequence[Message], line: str) -> tuple[Message, ...]:
    """``messages`` with ``line`` (a template's choice instruction) appended to the last user
    message; when the conversation does not end with a user message, ``line`` becomes one."""
    out = [dict(m) for m in messages]
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = f"{out[-1]['content'].rstrip()}\n\n{line}"
    else:
        out.append({"role": "user", "content": line})
    return tuple(out)


def _request(
    template: PromptTemplate, values: dict[str, str], key: str, instruct: bool
) -> ChoiceRequest:
    """A choice request rendered from a template; ``instruct`` appends the template's choice
    instruction (for a backend that cannot place the answer prefix)."""
    messages = template.render(**values)
    if instruct:
        messages = with_choice_instruction(messages, template.choice_line())
    return ChoiceRequest(
        key=key,
        choices=tuple(template.choices),
        messages=messages,
        answer_prefix=template.answer_prefix,
    )


class Judge:
    """A backend plus a rubric and two prompt templates."""

    def __init__(
        self,
        backend: Backend,
        rubric: Rubric,
        pointwise: PromptTemplate,
        pairwise: PromptTemplate,
        *,
        mode: str = "logprobs",
        low_mass: float = 0.5,
        text_tokens: int = TEXT_MODE_TOKENS,
    ) -> None:
        check_template(pointwise, POINTWISE_VARS)
        check_template(pairwise, PAIRWISE_VARS)
        self.backend = backend
        self.rubric = rubric
        self.pointwise = pointwise
        self.pairwise = pairwise
        self.mode = mode
        self.low_mass = low_mass
        self.text_tokens = text_tokens
        # Reading logprobs from a backend that cannot open the answer with the answer prefix
        # (a chat server), the template's choice instruction asks for the bare choice.
        self._instruct = mode == "logprobs" and not backend.prefills_answer
        self.spec = backend.info.spec
        details = backend.info.details
        self.device = None if details.get("device") is None else str(details["device"])
        self.dtype = None if details.get("dtype") is None else str(details["dtype"])

    @classmethod
    def from_setup(cls, backend: Backend, setup: JudgeSetup) -> Judge:
        """A judge reading ``backend`` with a resolved setup's rubric, templates and mode."""
        return cls(
            backend,
            setup.rubric,
            setup.pointwise,
            setup.pairwise,
            mode=setup.mode,
            low_mass=setup.low_mass,
            text_tokens=setup.text_tokens,
        )

    def _rubric_values(self) -> dict[str, str]:
        return {
            "rubric_description": self.rubric.description,
            "criteria_block": self.rubric.criteria_block(),
            "rubric_id": self.rubric.id,
        }

    def pointwise_requests(self, items: Sequence[PointwiseItem]) -> list[ChoiceRequest]:
        """One request per (item, criterion)."""
        requests = []
        for item in items:
            for criterion in self.rubric.criteria:
                levels = "\n".join(f"{k}: {v}" for k, v in sorted(criterion.levels.items()))
                values = {
                    **self._rubric_values(),
                    "instruction": item.instruction,
                    "response": item.response,
                    "criterion_name": criterion.name,
                    "criterion_question": criterion.question,
                    "criterion_levels": levels,
                }
                requests.append(
                    _request(
                        self.pointwise,
                        values,
                        key=f"{item.prompt_id}/{item.subject}/{criterion.name}",
                        instruct=self._instruct,
                    )
                )
        return requests

    def pair_requests(self, items: Sequence[PairItem]) -> list[ChoiceRequest]:
        """Two requests per item: X in slot A ("xy"), then X in slot B ("yx")."""
        requests = []
        for item in items:
            for order, (a, b) in (
                ("xy", (item.text_x, item.text_y)),
                ("yx", (item.text_y, item.text_x)),
            ):
                values = {
                    **self._rubric_values(),
                    "instruction": item.instruction,
                    "response_a": a,
                    "response_b": b,
                }
                requests.append(
                    _request(
                        self.pairwise,
                        values,
                        key=f"{item.prompt_id}/{item.comparison}/{order}",
                        instruct=self._instruct,
                    )
                )
        return requests

    def _run(self, requests: list[ChoiceRequest], progress: Progress | None) -> list[ChoiceResult]:
        if self.mode != "logprobs":
            return self._read_text(requests, progress)
        results = self.backend.choice_probs(requests, progress)
        missing = [i for i, r in enumerate(results) if r.no_logprobs]
        if missing:
            # Only these responses lacked logprobs: they are read as text (their records
            # say so in ``mode``); the next requests ask for logprobs again.
            if "text_mode_auto" not in self.backend.info.details:
                self.backend.info.details["text_mode_auto"] = True
                log.warning("%s returned no logprobs: reading that verdict as text", self.spec)
            texts = self._read_text([requests[i] for i in missing], None)
            for i, text in zip(missing, texts, strict=True):
                seconds = results[i].seconds + text.seconds
                results[i] = replace(text, mode="text", seconds=seconds)
        return results

    def _read_text(
        self, requests: list[ChoiceRequest], progress: Progress | None
    ) -> list[ChoiceResult]:
        """Text mode: a short answer per request, its last verdict one-hot."""
        generations = self.backend.generate(
            [
                GenerationRequest(
                    key=r.key, messages=r.messages, prompt=r.prompt, max_new_tokens=self.text_tokens
                )
                for r in requests
            ],
            progress,
        )
        results = []
        for request, gen in zip(requests, generations, strict=True):
            if gen.error:
                results.append(
                    ChoiceResult({}, gen.rendered_prompt, gen.text, gen.error, mode="text")
                )
                continue
            verdict = parse_last_verdict(gen.text, request.choices)
            if verdict is None:
                reason = f"no verdict among {','.join(request.choices)} in {gen.text[:80]!r}"
                results.append(ChoiceResult({}, gen.rendered_prompt, gen.text, reason, mode="text"))
                continue
            probs = {c: 1.0 if c == verdict else 0.0 for c in request.choices}
            results.append(
                ChoiceResult(probs, gen.rendered_prompt, gen.text, None, gen.seconds, mode="text")
            )
        return results

    def _mode(self, result: ChoiceResult) -> str:
        """The mode a result was read in: the backend's per-request answer, else the judge's."""
        return result.mode or self.mode

    def _low_mass(self, result: ChoiceResult) -> bool:
        """Low mass is a logprob-mode notion; a text verdict has no probability to lack."""
        return self._mode(result) == "logprobs" and result.mass < self.low_mass

    def score(
        self, items: Sequence[PointwiseItem], progress: Progress | None = None
    ) -> list[PointwiseRecord]:
        """Pointwise records, one per (item, criterion)."""
        requests = self.pointwise_requests(items)
        results = self._run(requests, progress)
        records = []
        pairs = [(item, criterion) for item in items for criterion in self.rubric.criteria]
        for (item, criterion), request, result in zip(pairs, requests, results, strict=True):
            probs = {c: result.probs.get(c, 0.0) for c in request.choices} if result.probs else {}
            best = argmax_choice(probs)
            records.append(
                PointwiseRecord(
                    prompt_id=item.prompt_id,
                    subject=item.subject,
                    judge=self.spec,
                    rubric=self.rubric.key,
                    template=self.pointwise.key,
                    criterion=criterion.name,
                    rendered_prompt=result.rendered_prompt,
                    probs=probs,
                    mass=result.mass,
                    expected=expected_score(probs),
                    argmax=int(best) if best is not None and best.isdigit() else None,
                    **self._outcome(result),
                )
            )
        return records

    def _outcome(self, result: ChoiceResult) -> dict[str, Any]:
        """The fields every judgment record shares: mass flag, mode, raw text, error, timing
        and where the judge ran."""
        return {
            "low_mass": self._low_mass(result),
            "mode": self._mode(result),
            "raw_text": result.text,
            "error": result.error,
            "seconds": result.seconds,
            "device": self.device,
            "dtype": self.dtype,
        }

    def compare(
        self, items: Sequence[PairItem], progress: Progress | None = None
    ) -> list[PairwiseRecord]:
        """Pairwise records, two per item (both orders)."""
        requests = self.pair_requests(items)
        results = self._run(requests, progress)
        first, second = self.pairwise.choices[0], self.pairwise.choices[1]
        records = []
        orders = [(item, order) for item in items for order in ("xy", "yx")]
        for (item, order), result in zip(orders, results, strict=True):
            p_a, p_b = result.probs.get(first, 0.0), result.probs.get(second, 0.0)
            p_first = p_a / (p_a + p_b) if p_a + p_b > 0 else None
            p_x = None if p_first is None else (p_first if order == "xy" else 1 - p_first)
            records.append(
                PairwiseRecord(
                    prompt_id=item.prompt_id,
                    comparison=item.comparison,
                    x=item.x,
                    y=item.y,
                    order=order,
                    judge=self.spec,
                    rubric=self.rubric.key,
                    template=self.pairwise.key,
                    rendered_prompt=result.rendered_prompt,
                    probs={first: p_a, second: p_b},
                    mass=result.mass,
                    p_first=p_first,
                    p_x=p_x,
                    **self._outcome(result),
                )
            )
        return records
