"""`evalharness run`: the stages chained, with a summary table and the total time."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from evalharness.analysis.run import analyze
from evalharness.config import RunConfig
from evalharness.generate import StageSummary, prepare_run, run_generate
from evalharness.judge.stage import run_judge
from evalharness.probes.stage import run_probes
from evalharness.progress import console
from evalharness.report.content import fmt_est
from evalharness.report.validation import print_validation
from evalharness.runstore import RunStore, write_json_atomic

__all__ = ["print_validation", "run_all", "write_analysis"]


def write_analysis(store: RunStore, config: RunConfig) -> dict[str, Any]:
    """Analyze the run and write analysis.json atomically."""
    analysis = analyze(store, config)
    write_json_atomic(store.path("analysis.json"), analysis)
    return analysis


def run_all(store: RunStore, config: RunConfig, *, overwrite: bool, bias: bool) -> dict[str, Any]:
    """Generate, judge, probe, analyze and report; print a summary table."""
    from evalharness.report import write_reports

    started = time.perf_counter()
    items = prepare_run(store, config, overwrite)
    console.print(f"run directory: {store.dir}")
    summaries: list[StageSummary] = [run_generate(store, config, items), run_judge(store, config)]
    if bias:
        summaries.append(run_probes(store, config))
    step = time.perf_counter()
    analysis = write_analysis(store, config)
    paths = write_reports(store, analysis)
    summaries.append(
        StageSummary("analyze+report", written=len(paths), seconds=time.perf_counter() - step)
    )
    table = Table(title="evalharness run")
    for column in ("stage", "new records", "already done", "failed", "seconds"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in summaries:
        table.add_row(
            s.stage, str(s.written), str(s.done_before), str(s.failed), f"{s.seconds:.1f}"
        )
    console.print(table)
    head = analysis["headline"]
    controlled = head.get("controlled") or {}
    console.print(f"tuned vs base win rate: {fmt_est(head['win_rate'], 'pct')} (n={head['n']})")
    console.print(f"  length-controlled: {fmt_est(controlled.get('length_controlled'), 'pct')}")
    console.print(
        "  length+confidence-controlled: "
        f"{fmt_est(controlled.get('length_confidence_controlled'), 'pct')}"
    )
    bias_section = analysis.get("bias") or {}
    console.print(
        f"length bias (LBR): {fmt_est(bias_section.get('lbr'), 'signed')}   "
        f"confidence bias (CBR): {fmt_est(bias_section.get('cbr'), 'signed')}"
    )
    for warning in analysis["warnings"]:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    for path in paths.values():
        console.print(f"report: {path}")
    console.print(f"total time: {time.perf_counter() - started:.1f}s")
    return analysis
