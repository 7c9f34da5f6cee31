"""The `judge-validate` table and its warnings, printed to the terminal."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from evalharness.analysis.model import Analysis
from evalharness.config import RunConfig
from evalharness.progress import console
from evalharness.report.content import fmt_est
from evalharness.report.leaderboard import rating_text

BASELINE_LABELS = {
    "majority_label": "baseline: always the majority label",
    "always_first_slot": "baseline: always slot A (a tie after both orders)",
    "longer_chars": "baseline: pick the longer (characters)",
    "longer_words": "baseline: pick the longer (words)",
    "longer_tokens": "baseline: pick the longer (judge tokens)",
}


def validation_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, formatted value) rows of a validation result."""
    position = result.get("position") or {}
    rows = [
        ("accuracy vs labels (a tie is half a vote)", fmt_est(result.get("accuracy"), "pct")),
        ("ties (P = 0.5 after both orders)", str(result.get("ties", "n/a"))),
        ("Cohen's kappa", fmt_est(result.get("cohen_kappa"), "signed")),
        ("share of pairs labelled output_1", fmt_est(result.get("label_1_share"), "pct")),
    ]
    for key, label in BASELINE_LABELS.items():
        rows.append((label, fmt_est((result.get("baselines") or {}).get(key), "pct")))
    rows += [
        ("position consistency", fmt_est(position.get("consistency"), "pct")),
        ("first-slot share of verdicts", fmt_est(position.get("first_slot_share"), "pct")),
        (
            "order disagreements / undecided",
            f"{position.get('order_disagreements', 'n/a')} / {position.get('undecided', 'n/a')}",
        ),
        ("mass on A/B tokens (logprob records)", fmt_est(result.get("mean_mass"), "pct")),
        ("length bias LBR (padded vs original)", fmt_est(result.get("lbr"), "signed")),
        ("confidence bias CBR (assertive vs hedged)", fmt_est(result.get("cbr"), "signed")),
        ("CBR at equal length (regression)", fmt_est(result.get("cbr_length_adjusted"), "signed")),
        (
            "judgments per mode",
            ", ".join(f"{m}: {c}" for m, c in (result.get("modes") or {}).items()) or "n/a",
        ),
        ("failed judgments", str(result.get("failed", "n/a"))),
    ]
    return rows


def print_validation(result: dict[str, Any], config: RunConfig) -> None:
    """The judge-validation table, then its warnings."""
    table = Table(title=f"judge {config.judge} vs human labels ({result['judged']} pairs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in validation_rows(result):
        table.add_row(name, value)
    console.print(table)
    for warning in result.get("warnings") or []:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)


def summary_lines(analysis: Analysis) -> list[str]:
    """The run's closing lines on the terminal: win rates, LBR and CBR, then the warnings."""
    if analysis.leaderboard is not None:
        return _leaderboard_lines(analysis)
    head = analysis.headline
    controlled = head.controlled
    length = controlled.length_controlled.rate if controlled else None
    full = controlled.length_confidence_controlled if controlled else None
    bias = analysis.bias
    return [
        f"tuned vs base win rate: {fmt_est(head.win_rate, 'pct')} (n={head.n})",
        f"  length-controlled: {fmt_est(length, 'pct')}",
        f"  length+confidence-controlled: {fmt_est(full.rate if full else None, 'pct')}",
        f"length bias (LBR): {fmt_est(bias.lbr if bias else None, 'signed')}   "
        f"confidence bias (CBR): {fmt_est(bias.cbr if bias else None, 'signed')}",
        *(f"[bold yellow]warning:[/] {warning}" for warning in analysis.warnings),
    ]


def _leaderboard_lines(analysis: Analysis) -> list[str]:
    """Closing lines of a run of several models: each model's ratings, best controlled first."""
    board = analysis.leaderboard
    assert board is not None
    rows = board.ranked()
    best = rows[0]
    lines = [
        f"best style-controlled rating: {escape(best.model)} "
        f"({rating_text(best.controlled_rating, best.model == board.reference)}; "
        f"{len(rows)} models, reference {escape(board.reference)} = 1000)"
    ]
    for row in rows:
        lines.append(
            f"  {escape(row.model)}: rating {rating_text(row.rating, row.model == board.reference)}"
            f", style-controlled {rating_text(row.controlled_rating, row.model == board.reference)}"
            f", rank {row.controlled_rank_low}-{row.controlled_rank_high}"
        )
    warnings = [*board.readings, *board.warnings, *analysis.warnings]
    return lines + [f"[bold yellow]warning:[/] {escape(w)}" for w in dict.fromkeys(warnings)]
