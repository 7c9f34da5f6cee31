"""The report's headline (win rates, raw and controlled) and per-criterion score rows."""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_parts import AdjustedRate
from evalharness.report.fmt import NA, Row, as_estimate, fmt_est, note_of, points, side


@dataclass(frozen=True)
class CriterionRow:
    """Mean scores of both models on one criterion and their paired difference."""

    criterion: str
    base: str
    tuned: str
    difference: str
    reading: str


def headline_rows(analysis: Analysis) -> list[Row]:
    """Win rates (raw and controlled), n, outcomes and order disagreements."""
    head = analysis.headline
    controlled = head.controlled
    raw = controlled.raw if controlled else None
    length = controlled.length_controlled if controlled else None
    full = controlled.length_confidence_controlled if controlled else None
    return [
        Row(
            "Win rate, raw (ties count half)",
            fmt_est(head.win_rate, "pct"),
            _win_reading(head.win_rate),
        ),
        Row(
            "Mean preference for tuned (soft)",
            fmt_est(raw, "pct"),
            "The judge's average probability that tuned is better, over both orders.",
        ),
        Row(
            "Length-controlled win rate",
            fmt_est(length.rate, "pct") if length else NA,
            _controlled_reading(length, raw, "length"),
        ),
        Row(
            "Length- and confidence-controlled win rate",
            fmt_est(full.rate, "pct") if full else NA,
            _controlled_reading(full, raw, "length and confidence"),
        ),
        Row("Prompts compared (n)", str(head.n)),
        Row(
            "Wins / ties / losses",
            " / ".join(str(head.outcomes.get(k, NA)) for k in ("win", "tie", "loss")),
            f"A tie is a preference within {head.tie_band * 50:.0f} points of 50%.",
        ),
        Row(
            "Order disagreements",
            f"{head.order_disagreements} of {head.n}",
            "Prompts where the same slot won both orders, so the winner changed with the order"
            + (
                f"; {head.undecided} more were undecided (exactly 50% in an order)."
                if head.undecided
                else "."
            ),
        ),
    ]


def _win_reading(est: Estimate) -> str:
    if as_estimate(est) is None:
        return "No pairwise judgments could be paired in both orders."
    where = side(est, 0.5)
    if where == 1:
        return "Tuned beats base (CI above 50%)."
    if where == -1:
        return "Base beats tuned (CI below 50%)."
    if where == 0:
        return "No detectable difference (CI covers 50%)."
    return "No interval (all prompts agree or too few): read with care."


def _controlled_reading(rate: AdjustedRate | None, raw: Estimate | None, what: str) -> str:
    """What a controlled rate says, from its difference to raw (a paired bootstrap interval)."""
    if rate is None:
        return NA
    found, base = as_estimate(rate.rate), as_estimate(raw)
    if found is None:
        return f"Could not be computed: {note_of(rate.rate)}"
    if rate.dropped_terms:
        terms = " and ".join(rate.dropped_terms)
        why = "; ".join(rate.dropped_terms.values())
        return (
            f"{terms.capitalize()} could not be estimated ({why}): this rate does not hold "
            f"{terms} equal, so it says nothing about whether {terms} explains the preference."
        )
    if base is None:
        return ""
    where = side(rate.minus_raw)
    gap = found.value - base.value
    if where in (1, -1):
        verb = "Falls" if gap < 0 else "Rises"
        text = f"{verb} by {points(gap)} with {what} held equal (the difference's CI excludes 0)"
        text += (
            f": part of the raw preference is explained by {what}."
            if gap < 0
            else f": {what} works against tuned."
        )
    elif where == 0:
        text = f"No detectable change with {what} held equal (the difference's CI covers 0)."
    else:
        text = f"Changes by {points(gap)} with {what} held equal; no interval for the change."
    if rate.extrapolation:
        text += f" Read with care: {rate.extrapolation}."
    return text


def criteria_rows(analysis: Analysis) -> list[CriterionRow]:
    """Each criterion's mean score per model and the paired difference, in rubric order."""
    rows = []
    for name, entry in analysis.criteria.items():
        diff = entry.tuned_minus_base
        where = side(diff)
        if as_estimate(diff) is None:
            reading = "No paired scores."
        elif where == 1:
            reading = "Tuned scores higher (CI excludes 0)."
        elif where == -1:
            reading = "Tuned scores lower (CI excludes 0)."
        elif where == 0:
            reading = "No detectable difference (CI covers 0)."
        else:
            reading = "No interval: read with care."
        rows.append(
            CriterionRow(
                criterion=name,
                base=fmt_est(entry.base),
                tuned=fmt_est(entry.tuned),
                difference=fmt_est(diff, "signed"),
                reading=reading,
            )
        )
    return rows
