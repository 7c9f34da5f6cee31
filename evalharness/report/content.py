"""What the reports say, independent of the output format.

Each function turns a part of the typed analysis into rows of plain strings (values already
formatted, with a one-line reading in plain language). The Markdown and HTML writers only
escape and lay out these rows, so both reports always say the same thing. The sections live
in their own modules (``headline``, ``reliability``, ``bias_rows``, ``fmt``); this module
gathers them and holds the run facts, the warnings and the side-by-side examples.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.analysis.model import Analysis
from evalharness.analysis.model_parts import Example as ExampleData
from evalharness.report.bias_rows import (
    PROBE_TEXT,
    ExploitRow,
    bias_rows,
    exploit_rows,
    preference_estimates,
    preference_reading,
    score_shift_estimates,
)
from evalharness.report.fmt import (
    NA,
    NOT_RUN,
    Row,
    as_estimate,
    ci_label,
    fmt_est,
    fmt_number,
    points,
    side,
)
from evalharness.report.headline import CriterionRow, criteria_rows, headline_rows
from evalharness.report.reliability import reliability_rows, self_judging_warning

__all__ = [
    "EXAMPLE_LIMIT", "NA", "NOT_RUN", "PROBE_TEXT", "CriterionRow", "Example", "ExploitRow",
    "Row", "as_estimate", "bias_rows", "ci_label", "criteria_rows", "examples", "exploit_rows",
    "fmt_est", "fmt_number", "headline_rows", "points", "preference_estimates",
    "preference_reading", "reliability_rows", "run_facts", "score_shift_estimates",
    "self_judging_warning", "side", "warnings_list",
]  # fmt: skip

EXAMPLE_LIMIT = 4
TIME_PROMPT = "Can you tell me the time?"


@dataclass(frozen=True)
class Example:
    """A prompt with the base and tuned answers and their per-criterion scores."""

    prompt_id: str
    prompt: str
    responses: dict[str, str]
    details: dict[str, str]
    scores: dict[str, str]


def warnings_list(analysis: Analysis) -> list[str]:
    """The analysis warnings as strings."""
    return list(analysis.warnings)


def run_facts(analysis: Analysis) -> list[Row]:
    """What was compared: models, judge, rubric, prompts, seed, run directory."""
    run = analysis.run
    return [
        Row("Tuned model", run.tuned),
        Row("Base model", run.base),
        Row("Judge", run.judge),
        Row("Rubric", run.rubric),
        Row("Prompts", str(run.prompts)),
        Row("Seed", str(run.seed)),
        Row("Run directory", run.dir),
    ]


def examples(analysis: Analysis, limit: int = EXAMPLE_LIMIT) -> list[Example]:
    """Up to ``limit`` side-by-side examples, the "time" prompt first."""
    items = sorted(
        analysis.examples, key=lambda e: not (e.prompt_id == "time" or e.prompt == TIME_PROMPT)
    )
    return [
        Example(
            prompt_id=item.prompt_id,
            prompt=item.prompt,
            responses={r: item.responses.get(r) or "" for r in ("base", "tuned")},
            details={r: _detail(item, r) for r in ("base", "tuned")},
            scores={r: _scores_text(item.scores.get(r)) for r in ("base", "tuned")},
        )
        for item in items[:limit]
    ]


def _detail(item: ExampleData, role: str) -> str:
    tokens = item.tokens.get(role)
    finish = item.finish_reason.get(role)
    parts = [
        f"{tokens} tokens" if tokens is not None else None,
        f"finish: {finish}" if finish else None,
    ]
    return ", ".join(p for p in parts if p) or NA


def _scores_text(scores: dict[str, float | None] | None) -> str:
    if not scores:
        return NA
    return " · ".join(f"{name} {fmt_number(value)}" for name, value in scores.items())
