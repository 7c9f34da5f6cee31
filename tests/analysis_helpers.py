"""Typed analyses for tests: edited copies of a real one, and a nearly empty one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_probes import Human


def edited(analysis: Analysis, change: Callable[[dict[str, Any]], Any]) -> Analysis:
    """A copy of ``analysis`` whose JSON document went through ``change`` (it edits in place)."""
    data = copy.deepcopy(analysis.to_json())
    change(data)
    return Analysis.from_json(data)


def no_estimate() -> dict[str, Any]:
    """An Estimate without data."""
    return {"value": None, "low": None, "high": None, "n": 0, "note": "no data"}


def nearly_empty_json() -> dict[str, Any]:
    """The document of a run where nothing could be computed: every section empty or null."""
    position = None
    return {
        "schema_version": 1,
        "examples": [],
        "run": {"dir": "r", "base": "b", "tuned": "t", "judge": "j", "rubric": "x@1",
                "criteria": [], "prompts": 0, "seed": 0, "bootstrap": 10, "confidence": 0.95},
        "headline": {"n": 0, "win_rate": no_estimate(), "outcomes": {}, "outcome_shares": {},
                     "order_disagreements": 0, "order_disagreement_ids": [], "undecided": 0,
                     "tie_band": 0.1, "controlled": None, "per_prompt": {}},
        "criteria": {},
        "reliability": {"position": position, "position_all_comparisons": position,
                        "pointwise_mass": no_estimate(), "pairwise_mass": no_estimate(),
                        "pointwise_low_mass_share": None, "pairwise_low_mass_share": None,
                        "modes": {}, "parse_failures": {"pointwise": 0, "pairwise": 0,
                                                        "total_judgments": 0},
                        "judges_itself": [], "judge": "j"},
        "bias": None,
        "points": [],
        "human": None,
        "cost": {"stages": {"generate": {"answers": 0, "prompt_tokens": 0, "output_tokens": 0,
                                         "seconds": 0.0, "by_role": {}},
                            "judge": {"judgments": 0, "seconds": 0.0, "failed": 0,
                                      "judge_tokens_computed": None, "wall_seconds": None},
                            "bias": {"judgments": 0, "seconds": 0.0, "failed": 0,
                                     "judge_tokens_computed": None, "wall_seconds": None}},
                 "seconds": 0.0, "share": {}},
        "failures": {"records": 0, "failed": 0, "share": 0.0, "stages": []},
        "warnings": [],
    }  # fmt: skip


def nearly_empty() -> Analysis:
    """:func:`nearly_empty_json` as an Analysis."""
    return Analysis.from_json(nearly_empty_json())


def human_with(ppi_win_rate: Estimate | None) -> Human:
    """A human section holding only a prediction-powered win rate."""
    return Human(
        n_labels=0, n_label_records=0, annotators=[], extra_labeled=[], unlabeled_prompts=0,
        labels_without_judgment=[], agreement=None, kappa=None, confusion={}, disagreements=[],
        inter_annotator=None, human_win_rate=None, ppi_win_rate=ppi_win_rate,
        judge_win_rate=None, lambda_=None, correlation=None, effective_labels=None,
        labels_needed=None, criteria=None,
    )  # fmt: skip
