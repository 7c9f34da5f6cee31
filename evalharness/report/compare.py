"""Compare a run against a baseline run: what changed, and which CI gates pass.

:func:`compare` is a pure function over two typed analyses. A gate whose metric is missing
from either run fails with a message saying so; it never passes silently. The gate rules
are documented in docs/reports.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.config import GATE_KEYS, check_gate
from evalharness.errors import ConfigError, did_you_mean
from evalharness.report.content import fmt_est


@dataclass(frozen=True)
class Change:
    """One metric in both runs: estimates (None where missing) and their difference."""

    metric: str
    kind: str  # "pct", "score" or "signed": how to format the values
    baseline: Estimate | None
    current: Estimate | None

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


def _value(est: Estimate | None) -> float | None:
    return None if est is None or not math.isfinite(est.value) else float(est.value)


def _usable(est: Estimate | None) -> Estimate | None:
    return est if _value(est) is not None else None


def _metrics(analysis: Analysis, criteria: list[str]) -> list[tuple[str, str, Estimate | None]]:
    """(metric, kind, estimate) for everything the comparison shows."""
    head, controlled = analysis.headline, analysis.headline.controlled
    full = controlled.length_confidence_controlled if controlled else None
    rows: list[tuple[str, str, Estimate | None]] = [
        ("win rate", "pct", head.win_rate),
        ("mean preference for tuned", "pct", controlled.raw if controlled else None),
        (
            "length-controlled win rate",
            "pct",
            controlled.length_controlled.rate if controlled else None,
        ),
        ("length+confidence-controlled win rate", "pct", full.rate if full else None),
    ]
    for name in criteria:
        entry = analysis.criteria.get(name)
        rows.append((f"{name}: tuned mean", "score", entry.tuned if entry else None))
        rows.append((f"{name}: tuned − base", "signed", entry.tuned_minus_base if entry else None))
    bias, position = analysis.bias, analysis.reliability.position
    human = analysis.human
    rows += [
        ("length bias (LBR)", "signed", bias.lbr if bias else None),
        ("confidence bias (CBR)", "signed", bias.cbr if bias else None),
        ("position consistency", "pct", position.consistency if position else None),
        ("first-slot share", "pct", position.first_slot_share if position else None),
        ("prediction-powered win rate", "pct", human.ppi_win_rate if human else None),
    ]
    return rows


def changes(baseline: Analysis, current: Analysis) -> list[Change]:
    """Every compared metric in both runs (criteria of either run, baseline's order first)."""
    names = list(baseline.criteria) + [c for c in current.criteria if c not in baseline.criteria]
    before = _metrics(baseline, names)
    after = _metrics(current, names)
    return [
        Change(metric, kind, _usable(b), _usable(a))
        for (metric, kind, b), (_, _, a) in zip(before, after, strict=True)
    ]


SETUP_FIELDS = ("judge", "rubric", "pointwise_template", "pairwise_template")


def run_setup(analysis: Analysis, saved_config: Mapping[str, object]) -> dict[str, str]:
    """What a run's numbers depend on: its judge and rubric (from the analysis) and its judge
    templates (from the config saved in the run's manifest; the defaults when absent)."""
    return {
        "judge": analysis.run.judge,
        "rubric": analysis.run.rubric,
        "pointwise_template": str(saved_config.get("pointwise_template", "pointwise")),
        "pairwise_template": str(saved_config.get("pairwise_template", "pairwise")),
    }


def check_same_setup(
    baseline: Mapping[str, str], current: Mapping[str, str], names: tuple[str, str]
) -> None:
    """ConfigError naming the first of judge, rubric and templates that differs between runs.

    Two runs judged by different judges, rubrics or judge prompts measure different things:
    their numbers are not comparable.
    """
    for key in SETUP_FIELDS:
        before, after = baseline.get(key), current.get(key)
        if before != after:
            raise ConfigError(
                f"{names[1]}: {key} differs from the baseline's ({before!r} in {names[0]}, "
                f"{after!r} here); pass --allow-different-judge to compare anyway"
            )


# --------------------------------------------------------------------------- gates


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _missing(name: str, what: str, which: str, limit: float) -> GateResult:
    return GateResult(name, False, f"n/a: {what} is missing in the {which} run", limit)


def _min_win_rate(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
    value = _value(current.headline.win_rate)
    if value is None:
        return _missing("min_win_rate", "the win rate", "current", limit)
    ok = value >= limit
    relation = "≥" if ok else "<"
    return GateResult("min_win_rate", ok, f"win rate {_pct(value)} {relation} {_pct(limit)}", limit)


def _max_win_rate_drop(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
    name = "max_win_rate_drop"
    before = _value(baseline.headline.win_rate)
    now = _usable(current.headline.win_rate)
    if before is None:
        return _missing(name, "the win rate", "baseline", limit)
    if now is None:
        return _missing(name, "the win rate", "current", limit)
    drop = before - now.value
    summary = (
        f"win rate {_pct(now.value)} vs baseline {_pct(before)} "
        f"(change {-drop * 100:+.1f} pts, limit −{limit * 100:.1f} pts)"
    )
    if drop <= limit:
        return GateResult(name, True, summary, limit)
    high = now.high if math.isfinite(now.high) and math.isfinite(now.low) else None
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


def _max_criterion_drop(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
    name = "max_criterion_drop"
    names = list(baseline.criteria)
    if not names:
        return _missing(name, "per-criterion scores", "baseline", limit)
    problems, worst = [], None
    for criterion in names:
        before = _value(baseline.criteria[criterion].tuned)
        entry = current.criteria.get(criterion)
        after = _value(entry.tuned if entry else None)
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


def _min_position_consistency(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
    name = "min_position_consistency"
    position = current.reliability.position
    value = _value(position.consistency if position else None)
    if value is None:
        return _missing(name, "position consistency", "current", limit)
    ok = value >= limit
    return GateResult(
        name, ok, f"position consistency {_pct(value)} {'≥' if ok else '<'} {_pct(limit)}", limit
    )


def _abs_bias(name: str, key: str, label: str) -> Callable[..., GateResult]:
    def gate(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
        if current.bias is None:
            return GateResult(
                name, False, f"n/a: {label}: bias probes were not run in the current run", limit
            )
        value = _value(getattr(current.bias, key))
        if value is None:
            return _missing(name, label, "current", limit)
        ok = abs(value) <= limit
        return GateResult(
            name, ok, f"|{label}| = {abs(value):.2f} {'≤' if ok else '>'} {limit:.2f}", limit
        )

    return gate


def _min_win_rate_ppi(limit: float, baseline: Analysis, current: Analysis) -> GateResult:
    name = "min_win_rate_ppi"
    value = _value(current.human.ppi_win_rate if current.human else None)
    if value is None:
        return _missing(name, "the prediction-powered win rate (human labels)", "current", limit)
    ok = value >= limit
    message = f"prediction-powered win rate {_pct(value)} {'≥' if ok else '<'} {_pct(limit)}"
    return GateResult(name, ok, message, limit)


GATES: dict[str, Callable[[float, Analysis, Analysis], GateResult]] = {
    "min_win_rate": _min_win_rate,
    "max_win_rate_drop": _max_win_rate_drop,
    "max_criterion_drop": _max_criterion_drop,
    "min_position_consistency": _min_position_consistency,
    "max_abs_length_bias": _abs_bias("max_abs_length_bias", "lbr", "LBR"),
    "max_abs_confidence_bias": _abs_bias("max_abs_confidence_bias", "cbr", "CBR"),
    "min_win_rate_ppi": _min_win_rate_ppi,
}


def compare(
    baseline: Analysis,
    current: Analysis,
    gates: Mapping[str, float],
    names: tuple[str, str] | None = None,
) -> CompareResult:
    """The changes from ``baseline`` to ``current`` and the result of each configured gate.

    ``names`` labels the two runs (the directories they were read from); without it the
    directory stored in each analysis is used.
    """
    for gate, limit in gates.items():
        if gate not in GATES:
            raise ConfigError(f"gates: unknown gate {gate!r}{did_you_mean(gate, list(GATE_KEYS))}")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not math.isfinite(limit)
        ):
            raise ConfigError(f"gates.{gate} must be a finite number, got {limit!r}")
        check_gate(gate, limit, f"gates.{gate}")
    results = [GATES[g](float(gates[g]), baseline, current) for g in GATE_KEYS if g in gates]
    baseline_name, current_name = names or (
        baseline.run.dir or "baseline",
        current.run.dir or "current",
    )
    return CompareResult(
        changes=changes(baseline, current),
        gates=results,
        baseline_run=baseline_name,
        current_run=current_name,
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
