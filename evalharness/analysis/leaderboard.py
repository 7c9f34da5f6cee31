"""The leaderboard of a run with more than two models: ratings with and without style control.

Battles are the run's pairwise records whose comparison is ``battle_comparison(x, y)``
(``f"{x}_vs_{y}"``), X and Y being model names, judged in both orders. The rating target
(config ``rating_target``) is either

* ``outcome`` (default): per prompt and pair, the two orders' ``p_x`` averaged and mapped to
  win / tie / loss with the run's tie band (1, 0.5 or 0), one battle row per prompt and pair;
  with two models the rating's win probability against the reference is then today's
  headline win rate; or
* ``soft``: the judge's soft preference ``p_x`` in each order, one row per order.

The ratings come from :func:`evalharness.analysis.ratings.rate_battles` at the run's
:class:`~evalharness.analysis.settings.StatsSettings`; LBR and CBR per model are the bias
section's rates restricted to that model's probes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalharness.analysis.battles import Battle, StyleFeatures, style_of
from evalharness.analysis.bias_section import boot, probe_rate, unit
from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model_leaderboard import Leaderboard, LeaderboardRow, StyleTerm
from evalharness.analysis.ratings import Interval, Ratings, rate_battles
from evalharness.analysis.stats import mean_ci, outcome
from evalharness.records import (
    CONFIDENCE_COMPARISON,
    GenerationRecord,
    PairwiseRecord,
    battle_comparison,
    is_probe_comparison,
    is_variant_subject,
    parse_probe_comparison,
)
from evalharness.text.rules import ProbeRules

__all__ = [
    "battle_comparison",
    "battles_from_records",
    "build_leaderboard",
    "checkpoint_order",
    "style_readings",
]

TARGETS = ("outcome", "soft")
_STEP = re.compile(r"^(.*?)[-_.]?(\d+)$")
_OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}
_STYLE_WORDS = {
    "length": "longer answers",
    "markdown": "more markdown (headers, lists, bold)",
    "confidence": "more assertive wording",
}

Pairs = dict[str, dict[str, tuple[float, float]]]


def battle_pairs(records: Iterable[PairwiseRecord]) -> dict[tuple[str, str], dict[str, Any]]:
    """(x, y) -> prompt id -> order -> p_x, for the battles between models (no probes)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r.error is not None or r.p_x is None or is_probe_comparison(r.comparison):
            continue
        if is_variant_subject(r.x) or is_variant_subject(r.y):
            continue
        if r.comparison != battle_comparison(r.x, r.y):
            continue
        out.setdefault((r.x, r.y), {}).setdefault(r.prompt_id, {})[r.order] = r.p_x
    return out


def battles_from_records(
    records: Iterable[PairwiseRecord],
    generations: Mapping[str, Mapping[str, GenerationRecord]],
    rules: ProbeRules,
    target: str = "outcome",
    tie_band: float = 0.1,
) -> list[Battle]:
    """The :class:`Battle` rows of a run's battles (prompts judged in both orders only).

    ``generations`` is prompt id -> model -> its answer, whose text and token count give the
    style features.
    """
    if target not in TARGETS:
        raise ValueError(f"rating_target must be one of {', '.join(TARGETS)}, got {target!r}")
    styles: dict[tuple[str, str], StyleFeatures] = {}

    def style(prompt_id: str, model: str) -> StyleFeatures:
        key = (prompt_id, model)
        if key not in styles:
            g = generations.get(prompt_id, {}).get(model)
            styles[key] = (
                StyleFeatures(0.0) if g is None else style_of(g.output, g.output_tokens, rules)
            )
        return styles[key]

    out: list[Battle] = []
    for (x, y), prompts in battle_pairs(records).items():
        for prompt_id in sorted(prompts):
            orders = prompts[prompt_id]
            if not {"xy", "yx"} <= orders.keys():
                continue
            sx, sy = style(prompt_id, x), style(prompt_id, y)
            if target == "soft":
                for order in ("xy", "yx"):
                    out.append(Battle(prompt_id, x, y, float(orders[order]), sx, sy))
            else:
                mean = (float(orders["xy"]) + float(orders["yx"])) / 2.0
                score = _OUTCOME_SCORE[outcome(mean, tie_band)]
                out.append(Battle(prompt_id, x, y, score, sx, sy))
    return out


def checkpoint_order(models: Sequence[str], model_order: Sequence[str] | None = None) -> (
    list[str] | None
):  # fmt: skip
    """The models in training order: ``model_order`` when given (models it does not name are
    left out), else by step number when every name is one prefix and a step number
    (``sft-500``, ``sft-1000``); else None."""
    if model_order:
        ordered = [m for m in model_order if m in models]
        return ordered if len(ordered) >= 2 else None
    steps: list[tuple[int, str]] = []
    for name in models:
        match = _STEP.match(name)
        if match is None:
            return None
        steps.append((int(match.group(2)), name))
    prefixes = {_STEP.match(name).group(1) for _, name in steps}  # type: ignore[union-attr]
    if len({s for s, _ in steps}) != len(steps) or len(prefixes) != 1:
        return None
    return [name for _, name in sorted(steps)]


def _estimate(interval: Interval, n: int) -> Estimate:
    return Estimate(interval.estimate, interval.low, interval.high, n)


def style_readings(ratings: Ratings) -> list[str]:
    """One sentence per style coefficient whose interval excludes 0 (quiet otherwise)."""
    out: list[str] = []
    level = f"{ratings.settings.confidence:.0%}"
    for term in ratings.style:
        if not term.estimable:
            continue
        est = Estimate(term.points.estimate, term.points.low, term.points.high, ratings.prompts)
        if not est.excludes(0.0):
            continue
        verb = "rewards" if est.value > 0 else "penalizes"
        out.append(
            f"Ratings change under style control: the judge {verb} "
            f"{_STYLE_WORDS.get(term.name, term.name)} across models "
            f"({term.name} coefficient {est.value:+.0f} rating points per SD, {level} interval "
            f"[{est.low:+.0f}, {est.high:+.0f}] excludes 0)."
        )
    return out


def separation_warnings(battles: Sequence[Battle], ratings: Ratings) -> list[str]:
    """A warning for each split of the models (in raw rating order) where the upper group
    won every decided battle against the lower one: the gap across it is then not
    estimable (maximum likelihood puts it at infinity; the fit stops at its ridge bound)."""
    decided = [b for b in battles if b.decided]
    order = sorted(ratings.models, key=lambda m: -ratings.raw_of(m).rating.estimate)
    out: list[str] = []
    for cut in range(1, len(order)):
        top = set(order[:cut])
        crossing = [b for b in decided if (b.model_a in top) != (b.model_b in top)]
        upsets = [b for b in crossing if (b.p_a if b.model_b in top else 1.0 - float(b.p_a or 0.0))]
        if crossing and not upsets:
            out.append(
                f"{', '.join(order[:cut])} won every decided battle against "
                f"{', '.join(order[cut:])}: the rating gap between them is not estimable "
                "(shown at the fit's bound, far too large); a judge with soft preferences "
                "(rating_target: soft) or more prompts may separate them less."
            )
    return out


def _mean(values: Iterable[float]) -> float | None:
    items = [v for v in values if math.isfinite(v)]
    return sum(items) / len(items) if items else None


def _probe_source(comparison: str) -> str | None:
    probe = parse_probe_comparison(comparison)
    return None if probe is None else probe[1]


def _row(
    model: str,
    ratings: Ratings,
    scores: Mapping[tuple[str, str], Mapping[str, float]],
    criteria: Sequence[str],
    answers: Sequence[GenerationRecord],
    rules: ProbeRules,
    pairs: Pairs,
    config: Any,
) -> LeaderboardRow:
    raw, ctl = ratings.raw_of(model), ratings.controlled_of(model)
    n = ratings.prompts
    per_criterion: dict[str, Estimate] = {}
    for c in criteria:
        by_prompt = scores.get((model, c), {})
        ids = sorted(by_prompt)
        per_criterion[c] = mean_ci(
            [by_prompt[i] for i in ids], clusters=[unit(i) for i in ids], **boot(config)
        )
    ok = [g for g in answers if g.error is None]
    styles = [style_of(g.output, g.output_tokens, rules) for g in ok]
    mine = {c: v for c, v in pairs.items() if _probe_source(c) == model}
    has_probes = bool(mine)
    return LeaderboardRow(
        model=model,
        rating=_estimate(raw.rating, n),
        controlled_rating=_estimate(ctl.rating, n),
        rank=raw.rank,
        rank_low=raw.rank_low,
        rank_high=raw.rank_high,
        controlled_rank=ctl.rank,
        controlled_rank_low=ctl.rank_low,
        controlled_rank_high=ctl.rank_high,
        win_vs_reference=_estimate(raw.win_vs_reference, n),
        controlled_win_vs_reference=_estimate(ctl.win_vs_reference, n),
        battles=raw.battles,
        criteria=per_criterion,
        mean_tokens=_mean(float(g.output_tokens) for g in ok),
        confidence_density=_mean(s.confidence for s in styles),
        markdown_density=_mean(s.markdown for s in styles),
        lbr=probe_rate(mine, "padded", config) if has_probes else None,
        cbr=probe_rate(mine, CONFIDENCE_COMPARISON, config) if has_probes else None,
    )


def build_leaderboard(
    config: Any,
    models: Sequence[str],
    records: Sequence[PairwiseRecord],
    generations: Mapping[str, Mapping[str, GenerationRecord]],
    scores: Mapping[tuple[str, str], Mapping[str, float]],
    criteria: Sequence[str],
    pairs: Pairs,
    rules: ProbeRules,
) -> Leaderboard:
    """The leaderboard of ``models`` from a run's pairwise records, answers and scores.

    ``config`` supplies ``seed``, ``bootstrap``, ``confidence`` and ``tie_band``, and when
    present ``reference``, ``model_order`` and ``rating_target``; ``pairs`` are the paired
    orders of every comparison (probes included) for LBR and CBR per model.
    """
    target = getattr(config, "rating_target", None) or "outcome"
    battles = battles_from_records(records, generations, rules, target, config.tie_band)
    reference = getattr(config, "reference", None) or (models[0] if models else None)
    settings = boot(config)["settings"]
    ratings = rate_battles(battles, reference=reference, settings=settings)
    order = [ratings.reference, *(m for m in models if m != ratings.reference)]
    order += [m for m in ratings.models if m not in order]
    by_model: dict[str, list[GenerationRecord]] = {}
    for answers in generations.values():
        for role, g in answers.items():
            by_model.setdefault(role, []).append(g)
    rows = [
        _row(m, ratings, scores, criteria, by_model.get(m, []), rules, pairs, config)
        for m in order
        if m in ratings.models
    ]
    n = ratings.prompts
    return Leaderboard(
        reference=ratings.reference,
        rating_target=target,
        models=rows,
        checkpoint_order=checkpoint_order(
            list(ratings.models), getattr(config, "model_order", None)
        ),
        style=[
            StyleTerm(
                name=t.name,
                logit=_estimate(t.logit, n),
                points=_estimate(t.points, n),
                scale=t.scale,
                estimable=t.estimable,
            )
            for t in ratings.style
        ],
        win_matrix=[list(r) for r in ratings.win_matrix],
        controlled_win_matrix=[list(r) for r in ratings.controlled_win_matrix],
        controlled_difference=[
            [_estimate(d, n) for d in row] for row in ratings.controlled_differences
        ],
        battles=ratings.battles,
        excluded=ratings.excluded,
        prompts=n,
        converged=ratings.converged,
        readings=style_readings(ratings),
        warnings=separation_warnings(battles, ratings),
    )
