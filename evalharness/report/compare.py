"""Compare a run against a baseline run: what changed, and which CI gates pass.

:func:`compare` is a pure function over two analysis dicts. A gate whose metric is missing
from either run fails with a message saying so; it never passes silently. The gate rules
are documented in docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evalharness.config import GATE_KEYS
from evalharness.errors import ConfigError, did_you_mean
from evalharness.report.content import dig, estimate, fmt_est, number


@dataclass(frozen=True)
class Change:
    """One metric in both runs: estimates (``{value, low, high, n, note}`` or None) and delta."""

    metric: str
    kind: str  # "pct", "score" or "signed": how to format the values
    baseline: dict[str, Any] | None
    current: dict[str, Any] | None

    @property
    def delta(self) -> float | None:
        """current − baseline, None when either value is missing."""
        before, after = _value(self.baseline), _value(self.current)
        return None if before is None or after is None else after - before

    def formatted(self) -> tuple[str, str, str]:
        """(baseline, current, delta) as display strings."""
        delta = self.delta
        if delta is None:
            shown = "n/a"
        elif self.kind == "pct":
            shown = f"{delta * 100:+.1f} pts"
        else:
            shown = f"{delta:+.2f}"
        return fmt_est(self.baseline, self.kind), fmt_est(self.current, self.kind), shown


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate."""

    name: str
    passed: bool
    message: str
    limit: float | None = None


@dataclass(frozen=True)
class CompareResult:
    """Every change between the runs and every configured gate's result."""

    changes: list[Change]
    gates: list[GateResult] = field(default_factory=list)
    baseline_run: str = "baseline"
    current_run: str = "current"

    @property
    def passed(self) -> bool:
        """True when no gate failed (also when no gate is configured)."""
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        """The gates that failed."""
        return [g for g in self.gates if not g.passed]


def _value(est: Any) -> float | None:
    found = estimate(est)
    return None if found is None else float(found["value"])


def _metrics(analysis: Mapping[str, Any], criteria: list[str]) -> list[tuple[str, str, Any]]:
    """(metric, kind, estimate) for everything the comparison shows."""
    head = analysis.get("headline")
    rows: list[tuple[str, str, Any]] = [
        ("win rate", "pct", dig(head, "win_rate")),
        ("mean preference for tuned", "pct", dig(head, "controlled", "raw")),
        ("length-controlled win rate", "pct", dig(head, "controlled", "length_controlled")),
        (
            "length+confidence-controlled win rate",
            "pct",
            dig(head, "controlled", "length_confidence_controlled"),
        ),
    ]
    for name in criteria:
        entry = dig(analysis.get("criteria"), name)
        rows.append((f"{name}: tuned mean", "score", dig(entry, "tuned")))
        rows.append((f"{name}: tuned − base", "signed", dig(entry, "tuned_minus_base")))
    rel = analysis.get("reliability")
    rows += [
        ("length bias (LBR)", "signed", dig(analysis.get("bias"), "lbr")),
        ("confidence bias (CBR)", "signed", dig(analysis.get("bias"), "cbr")),
        ("position consistency", "pct", dig(rel, "position", "consistency")),
        ("first-slot share", "pct", dig(rel, "position", "first_slot_share")),
    ]
    rows.append(("prediction-powered win rate", "pct", dig(analysis.get("human"), "ppi_win_rate")))
    return rows


def _criteria(analysis: Mapping[str, Any]) -> list[str]:
    criteria = analysis.get("criteria")
    return [str(name) for name in criteria] if isinstance(criteria, dict) else []


def changes(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """Every compared metric in both runs (criteria of either run, baseline's order first)."""
    names = _criteria(baseline) + [c for c in _criteria(current) if c not in _criteria(baseline)]
    before = _metrics(baseline, names)
    after = _metrics(current, names)
    return [
        Change(metric, kind, estimate(b), estimate(a))
        for (metric, kind, b), (_, _, a) in zip(before, after, strict=True)
    ]


# --------------------------------------------------------------------------- gates


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _missing(name: str, what: str, which: str, limit: float) -> GateResult:
    return GateResult(name, False, f"n/a: {what} is missing in the {which} run", limit)


def _min_win_rate(
    limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]
) -> GateResult:
    value = _value(dig(current, "headline", "win_rate"))
    if value is None:
        return _missing("min_win_rate", "the win rate", "current", limit)
    ok = value >= limit
    relation = "≥" if ok else "<"
    return GateResult("min_win_rate", ok, f"win rate {_pct(value)} {relation} {_pct(limit)}", limit)


def _max_win_rate_drop(
    limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]
) -> GateResult:
    name = "max_win_rate_drop"
    before = _value(dig(baseline, "headline", "win_rate"))
    now = estimate(dig(current, "headline", "win_rate"))
    if before is None:
        return _missing(name, "the win rate", "baseline", limit)
    if now is None:
        return _missing(name, "the win rate", "current", limit)
    drop = before - float(now["value"])
    summary = (
        f"win rate {_pct(float(now['value']))} vs baseline {_pct(before)} "
        f"(change {-drop * 100:+.1f} pts, limit −{limit * 100:.1f} pts)"
    )
    if drop <= limit:
        return GateResult(name, True, summary, limit)
    high = number(now.get("high"))
    if high is not None and high >= before:
        return GateResult(
            name,
            True,
            f"{summary}: the fall is not significant (current CI high {_pct(high)} "
            f"reaches the baseline)",
            limit,
        )
    reason = "current CI lies below the baseline" if high is not None else "no CI in current run"
    return GateResult(name, False, f"{summary}: significant fall ({reason})", limit)


def _max_criterion_drop(
    limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]
) -> GateResult:
    name = "max_criterion_drop"
    names = _criteria(baseline)
    if not names:
        return _missing(name, "per-criterion scores", "baseline", limit)
    problems, worst = [], None
    for criterion in names:
        before = _value(dig(baseline, "criteria", criterion, "tuned"))
        after = _value(dig(current, "criteria", criterion, "tuned"))
        if before is None or after is None:
            which = "baseline" if before is None else "current"
            problems.append(f"{criterion}: n/a in the {which} run")
            continue
        drop = before - after
        if drop > limit:
            problems.append(f"{criterion} fell by {drop:.2f} ({before:.2f} → {after:.2f})")
        if worst is None or drop > worst[1]:
            worst = (criterion, drop)
    if problems or worst is None:
        return GateResult(name, False, f"{'; '.join(problems)} (limit {limit:.2f})", limit)
    return GateResult(
        name, True, f"largest fall: {worst[0]} {worst[1]:+.2f} (limit {limit:.2f})", limit
    )


def _min_position_consistency(
    limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]
) -> GateResult:
    name = "min_position_consistency"
    value = _value(dig(current, "reliability", "position", "consistency"))
    if value is None:
        return _missing(name, "position consistency", "current", limit)
    ok = value >= limit
    return GateResult(
        name, ok, f"position consistency {_pct(value)} {'≥' if ok else '<'} {_pct(limit)}", limit
    )


def _abs_bias(name: str, key: str, label: str) -> Callable[..., GateResult]:
    def gate(limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]) -> GateResult:
        if not isinstance(current.get("bias"), dict):
            return GateResult(
                name, False, f"n/a: {label}: bias probes were not run in the current run", limit
            )
        value = _value(dig(current, "bias", key))
        if value is None:
            return _missing(name, label, "current", limit)
        ok = abs(value) <= limit
        return GateResult(
            name, ok, f"|{label}| = {abs(value):.2f} {'≤' if ok else '>'} {limit:.2f}", limit
        )

    return gate


def _min_win_rate_ppi(
    limit: float, baseline: Mapping[str, Any], current: Mapping[str, Any]
) -> GateResult:
    name = "min_win_rate_ppi"
    value = _value(dig(current, "human", "ppi_win_rate"))
    if value is None:
        return _missing(name, "the prediction-powered win rate (human labels)", "current", limit)
    ok = value >= limit
    message = f"prediction-powered win rate {_pct(value)} {'≥' if ok else '<'} {_pct(limit)}"
    return GateResult(name, ok, message, limit)


GATES: dict[str, Callable[[float, Mapping[str, Any], Mapping[str, Any]], GateResult]] = {
    "min_win_rate": _min_win_rate,
    "max_win_rate_drop": _max_win_rate_drop,
    "max_criterion_drop": _max_criterion_drop,
    "min_position_consistency": _min_position_consistency,
    "max_abs_length_bias": _abs_bias("max_abs_length_bias", "lbr", "LBR"),
    "max_abs_confidence_bias": _abs_bias("max_abs_confidence_bias", "cbr", "CBR"),
    "min_win_rate_ppi": _min_win_rate_ppi,
}


def compare(
    baseline: Mapping[str, Any], current: Mapping[str, Any], gates: Mapping[str, float]
) -> CompareResult:
    """The changes from ``baseline`` to ``current`` and the result of each configured gate."""
    for gate, limit in gates.items():
        if gate not in GATES:
            raise ConfigError(f"gates: unknown gate {gate!r}{did_you_mean(gate, list(GATE_KEYS))}")
        if number(limit) is None:
            raise ConfigError(f"gates.{gate} must be a finite number, got {limit!r}")
    results = [GATES[g](float(gates[g]), baseline, current) for g in GATE_KEYS if g in gates]
    return CompareResult(
        changes=changes(baseline, current),
        gates=results,
        baseline_run=str(dig(baseline, "run", "dir") or "baseline"),
        current_run=str(dig(current, "run", "dir") or "current"),
    )


def compare_markdown(result: CompareResult) -> str:
    """The comparison as Markdown (for the CI job summary)."""
    from evalharness.report.markdown import md_table

    verdict = "✅ all gates passed" if result.passed else f"❌ {len(result.failed)} gate(s) failed"
    if not result.gates:
        verdict = "no gates configured"
    gates = (
        md_table(
            ("gate", "result", "detail"),
            [(g.name, "pass" if g.passed else "FAIL", g.message) for g in result.gates],
        )
        if result.gates
        else "Pass `--config FILE` with a `gates:` mapping to gate this run."
    )
    rows = md_table(
        ("metric", "baseline", "current", "change"),
        [(c.metric, *c.formatted()) for c in result.changes],
    )
    return f"## evalharness compare: {verdict}\n\n{gates}\n\n{rows}\n"
