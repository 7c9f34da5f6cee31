"""The report's judge-reliability rows and the self-judging warning."""

from __future__ import annotations

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_parts import ParseFailures, Position
from evalharness.report.fmt import NA, Row, as_estimate, fmt_est, fmt_number


def self_judging_warning(analysis: Analysis) -> str | None:
    """The loud warning when the judge is also one of the compared models, else None."""
    rel = analysis.reliability
    if not rel.judges_itself:
        return None
    names = "/".join(rel.judges_itself)
    return (
        f"THE JUDGE ({rel.judge}) IS ALSO THE {names.upper()} MODEL: it may prefer "
        "its own outputs (self-preference). Use an independent judge before trusting the verdict."
    )


def reliability_rows(analysis: Analysis) -> list[Row]:
    """Position consistency, first-slot share, mass on allowed tokens, parse failures."""
    rel = analysis.reliability
    position, every = rel.position, rel.position_all_comparisons
    return [
        Row("Judge", rel.judge),
        Row(
            "Position consistency (tuned vs base)",
            fmt_est(position.consistency if position else None, "pct"),
            _consistency_reading(position),
        ),
        Row(
            "Position consistency (all comparisons)",
            fmt_est(every.consistency if every else None, "pct"),
            "Includes the probe comparisons.",
        ),
        Row(
            "First-slot share of verdicts",
            fmt_est(position.first_slot_share if position else None, "pct"),
            _first_slot_reading(position),
        ),
        Row(
            "Mass on allowed tokens, pointwise",
            fmt_est(rel.pointwise_mass, "pct"),
            _mass_reading(rel.pointwise_mass),
        ),
        Row(
            "Mass on allowed tokens, pairwise",
            fmt_est(rel.pairwise_mass, "pct"),
            _mass_reading(rel.pairwise_mass),
        ),
        Row(
            "Low-mass judgments, pointwise",
            fmt_number(rel.pointwise_low_mass_share, "pct"),
            "Share of judgments with most probability outside the allowed answers.",
        ),
        Row("Low-mass judgments, pairwise", fmt_number(rel.pairwise_low_mass_share, "pct")),
        Row(
            "Parse failures",
            _failures_text(rel.parse_failures),
            _failures_reading(rel.parse_failures),
        ),
        Row("Judgments per mode", _modes_text(rel.modes), _modes_reading(rel.modes)),
    ]


def _modes_text(modes: dict[str, dict[str, int]]) -> str:
    parts = []
    for kind, counts in modes.items():
        if counts:
            inner = ", ".join(f"{m} {c}" for m, c in counts.items())
            parts.append(f"{kind}: {inner}")
    return "; ".join(parts) or NA


def _modes_reading(modes: dict[str, dict[str, int]]) -> str:
    used = {m for counts in modes.values() for m in counts}
    if len(used) > 1:
        return "Mixed modes: text-mode verdicts are all-or-nothing and carry no mass."
    if used == {"text"}:
        return "Text mode: verdicts are parsed from generated text; mass is not measured."
    return "Next-token probabilities; mass is measured on these records only."


def _consistency_reading(position: Position | None) -> str:
    found = as_estimate(position.consistency) if position else None
    if position is None or found is None:
        return "No pair was judged in both orders."
    value = found.value
    text = (
        f"The verdict names the same answer in both orders in {value:.0%} of pairs "
        f"({position.order_disagreements} order disagreements, "
        f"{position.undecided} undecided at exactly 50%)"
    )
    if position.slot_decides:
        return text + ": when the order changes the verdict, the slot decided it."
    if value >= 0.9:
        return text + ": the judge looks at content, not position."
    return text + ": verdicts often change with the order (the judge is unsure or noisy)."


def _first_slot_reading(position: Position | None) -> str:
    if position is None or as_estimate(position.first_slot_share) is None:
        return NA
    if position.favours:
        return (
            f"The judge favours whichever answer comes {position.favours} (the position warning)."
        )
    return "No detectable slot preference (50% is ideal)."


def _mass_reading(est: Estimate) -> str:
    found = as_estimate(est)
    if found is None:
        return NA
    if found.value < 0.5:
        return f"Only {found.value:.0%} on the answer tokens: the judge mostly did not answer."
    return f"{found.value:.0%} of the judge's probability is on the allowed answers."


def _failures_text(failures: ParseFailures) -> str:
    return (
        f"{failures.pointwise} pointwise, {failures.pairwise} pairwise "
        f"(of {failures.total_judgments})"
    )


def _failures_reading(failures: ParseFailures) -> str:
    bad = failures.pointwise + failures.pairwise
    return (
        "Every judgment was read." if bad == 0 else "Failed judgments are left out of all numbers."
    )
