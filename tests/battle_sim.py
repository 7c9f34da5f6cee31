"""Scripted many-model runs as records: models of known strength, length and assertiveness,
judged by a scripted judge whose preference is known.

``P(X beats Y) = logistic(sX - sY + length_effect * (lX - lY) / (lX + lY)
+ confidence_effect * (cX - cY) / 4)``, where ``c`` is the answer's confidence-marker
density per 100 words (about ±4 for one marker in 25 words). Each order's verdict is a 0/1
draw from that probability (``soft=False``) or the probability itself.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalharness.analysis.battles import Battle, StyleFeatures
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.text.markers import confidence_density
from evalharness.text.rules import load_rules

JUDGE = "fake:judge"
RUBRIC = "helpfulness@1"
TEMPLATE = "pairwise@1"


@dataclass
class SimConfig:
    """The run settings the leaderboard reads (a stand-in for RunConfig's fields)."""

    seed: int = 0
    bootstrap: int = 400
    confidence: float = 0.95
    tie_band: float = 0.1
    reference: str | None = None
    model_order: list[str] | None = None
    rating_target: str = "outcome"
    models: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimRun:
    """The records of a scripted run."""

    generations: list[GenerationRecord]
    pairwise: list[PairwiseRecord]
    pointwise: list[PointwiseRecord]

    def by_prompt(self) -> dict[str, dict[str, GenerationRecord]]:
        """prompt id -> model -> answer."""
        out: dict[str, dict[str, GenerationRecord]] = {}
        for g in self.generations:
            out.setdefault(g.prompt_id, {})[g.role] = g
        return out

    def scores(self) -> dict[tuple[str, str], dict[str, float]]:
        """(model, criterion) -> prompt id -> expected score."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for r in self.pointwise:
            assert r.expected is not None
            out.setdefault((r.subject, r.criterion), {})[r.prompt_id] = r.expected
        return out


def answer_text(words: int, assertive: int) -> str:
    """An answer of ``words`` filler words with ``assertive`` certainty openers (negative:
    hedges)."""
    marker = "Clearly, it is so." if assertive > 0 else "Probably it is so."
    sentences = [marker] * abs(assertive)
    filler = " ".join("word" for _ in range(max(1, words - 4 * abs(assertive))))
    return " ".join([*sentences, filler + "."])


def simulate_run(
    rng: np.random.Generator,
    strengths: dict[str, float],
    n_prompts: int,
    *,
    lengths: dict[str, float] | None = None,
    assertive: dict[str, int] | None = None,
    length_effect: float = 0.0,
    confidence_effect: float = 0.0,
    soft: bool = False,
    quality_score: bool = True,
) -> SimRun:
    """Every pair on every prompt, both orders, scripted as the module docstring says."""
    models = list(strengths)
    lengths = lengths or {m: 60.0 for m in models}
    assertive = assertive or {m: 0 for m in models}
    rules = load_rules(None)
    gens: list[GenerationRecord] = []
    pairs: list[PairwiseRecord] = []
    points: list[PointwiseRecord] = []
    for i in range(n_prompts):
        pid = f"p{i:04d}"
        style: dict[str, tuple[float, float]] = {}
        for m in models:
            words = max(8, round(lengths[m] * math.exp(rng.normal(0.0, 0.3))))
            extra = assertive[m] + int(rng.integers(-1, 2))
            text = answer_text(words, extra)
            style[m] = (float(words), confidence_density(text, rules))
            gens.append(_generation(pid, m, text, words))
            score = 3.0 + (strengths[m] if quality_score else 0.0) + rng.normal(0.0, 0.3)
            points.append(_point(pid, m, score))
        for x, y in itertools.combinations(models, 2):
            (lx, cx), (ly, cy) = style[x], style[y]
            logit = (
                strengths[x]
                - strengths[y]
                + length_effect * (lx - ly) / (lx + ly)
                + confidence_effect * (cx - cy) / 4.0
            )
            p = 1.0 / (1.0 + math.exp(-logit))
            for order in ("xy", "yx"):
                verdict = p if soft else float(rng.random() < p)
                pairs.append(_pair(pid, x, y, order, verdict))
    return SimRun(gens, pairs, points)


def _generation(pid: str, model: str, text: str, tokens: int) -> GenerationRecord:
    return GenerationRecord(
        prompt_id=pid, role=model, model=f"fake:{model}", resolved="", prompt="q",
        rendered_prompt="q", output=text, prompt_tokens=1, output_tokens=tokens,
        finish_reason="stop", seconds=0.0,
    )  # fmt: skip


def _point(pid: str, model: str, score: float) -> PointwiseRecord:
    return PointwiseRecord(
        prompt_id=pid, subject=model, judge=JUDGE, rubric=RUBRIC, template="pointwise@1",
        criterion="overall", rendered_prompt="", probs={}, mass=1.0,
        expected=min(5.0, max(1.0, score)), argmax=None, low_mass=False, mode="text",
    )  # fmt: skip


def _pair(pid: str, x: str, y: str, order: str, p_x: float) -> PairwiseRecord:
    return PairwiseRecord(
        prompt_id=pid, comparison=f"{x}_vs_{y}", x=x, y=y, order=order, judge=JUDGE,
        rubric=RUBRIC, template=TEMPLATE, rendered_prompt="", probs={}, mass=1.0,
        p_first=None, p_x=p_x, low_mass=False, mode="text",
    )  # fmt: skip


def simulate_battles(
    rng: np.random.Generator,
    n_models: int,
    n_prompts: int,
    *,
    length_effect: float = 0.0,
    markdown_effect: float = 0.0,
    confidence_effect: float = 0.0,
    tie_band: float = 0.1,
) -> list[Battle]:
    """Battles of equal-strength models with random style, straight as :class:`Battle` rows
    (the outcome target: both orders' 0/1 verdicts averaged and mapped with the tie band).

    The judge's logit is ``length_effect * normalized length difference + markdown_effect *
    markdown difference / 2 + confidence_effect * confidence difference / 4``.
    """
    models = [f"m{k}" for k in range(n_models)]
    out: list[Battle] = []
    for i in range(n_prompts):
        style = {
            m: StyleFeatures(
                length=100.0 * math.exp(rng.normal(0.0, 0.4)),
                markdown=max(0.0, rng.normal(2.0, 2.0)),
                confidence=rng.normal(0.0, 4.0),
            )
            for m in models
        }
        for x, y in itertools.combinations(models, 2):
            sx, sy = style[x], style[y]
            logit = (
                length_effect * (sx.length - sy.length) / (sx.length + sy.length)
                + markdown_effect * (sx.markdown - sy.markdown) / 2.0
                + confidence_effect * (sx.confidence - sy.confidence) / 4.0
            )
            p = 1.0 / (1.0 + math.exp(-logit))
            mean = (float(rng.random() < p) + float(rng.random() < p)) / 2.0
            score = 1.0 if mean > 0.5 + tie_band / 2 else 0.0 if mean < 0.5 - tie_band / 2 else 0.5
            out.append(Battle(f"p{i}", x, y, score, sx, sy))
    return out
