"""The judge: rubric-prompted pointwise scores and pairwise verdicts in both orders.

Stages (main run, probes, validation) describe *what* to judge as items; this module turns
items into backend requests and backend results into records. Nothing here touches files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalharness.backends.base import (
    Backend,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
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


def _request(
    template: PromptTemplate, values: dict[str, str], key: str, group: str, context: tuple[str, ...]
) -> ChoiceRequest:
    """A choice request rendered from a template; ``context`` names the values to pass along."""
    return ChoiceRequest(
        key=key,
        choices=tuple(template.choices),
        messages=template.render(**values),
        answer_prefix=template.answer_prefix,
        group=group,
        context=tuple((name, values[name]) for name in context),
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
    ) -> None:
        check_template(pointwise, POINTWISE_VARS)
        check_template(pairwise, PAIRWISE_VARS)
        self.backend = backend
        self.rubric = rubric
        self.pointwise = pointwise
        self.pairwise = pairwise
        self.mode = mode
        self.low_mass = low_mass
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
        )

    def _rubric_values(self) -> dict[str, str]:
        return {
            "rubric_description": self.rubric.description,
            "criteria_block": self.rubric.criteria_block(),
            "rubric_id": self.rubric.id,
        }

    def pointwise_requests(self, items: Sequence[PointwiseItem]) -> list[ChoiceRequest]:
        """One request per (item, criterion); an item's criteria share a group."""
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
                        group=f"{item.prompt_id}/{item.subject}",
                        context=("instruction", "response", "criterion_name"),
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
                        group=f"{item.prompt_id}/{item.comparison}",
                        context=("instruction", "response_a", "response_b"),
                    )
                )
        return requests

    def _run(self, requests: list[ChoiceRequest], progress: Progress | None) -> list[ChoiceResult]:
        callback = progress
        if self.mode == "logprobs":
            return self.backend.choice_probs(requests, callback)
        generations = self.backend.generate(
            [
                GenerationRequest(
                    key=r.key, messages=r.messages, prompt=r.prompt, max_new_tokens=TEXT_MODE_TOKENS
                )
                for r in requests
            ],
            callback,
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
                    low_mass=self._low_mass(result),
                    mode=self._mode(result),
                    raw_text=result.text,
                    error=result.error,
                    seconds=result.seconds,
                    device=self.device,
                    dtype=self.dtype,
                )
            )
        return records

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
                    low_mass=self._low_mass(result),
                    mode=self._mode(result),
                    raw_text=result.text,
                    error=result.error,
                    seconds=result.seconds,
                    device=self.device,
                    dtype=self.dtype,
                )
            )
        return records
