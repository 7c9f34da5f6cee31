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
from evalharness.runstore import RunStore, write_json_atomic


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


def print_validation(result: dict[str, Any], config: RunConfig) -> None:
    """The judge-validation table."""
    table = Table(title=f"judge {config.judge} vs human labels ({result['judged']} pairs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    position = result.get("position") or {}
    rows = [
        ("accuracy vs labels", fmt_est(result["accuracy"], "pct")),
        (
            "Cohen's kappa",
            "n/a" if result["cohen_kappa"] is None else f"{result['cohen_kappa']:+.2f}",
        ),
        ("'pick the longer' baseline accuracy", fmt_est(result["longer_baseline_accuracy"], "pct")),
        ("position consistency", fmt_est(position.get("consistency"), "pct")),
        ("first-slot share of verdicts", fmt_est(position.get("first_slot_share"), "pct")),
        ("mass on A/B tokens", fmt_est(result["mean_mass"], "pct")),
        ("length bias LBR (padded vs original)", fmt_est(result.get("lbr"), "signed")),
        ("confidence bias CBR (assertive vs hedged)", fmt_est(result.get("cbr"), "signed")),
        ("failed judgments", str(result["failed"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    acc = (result["accuracy"] or {}).get("value")
    longer = (result["longer_baseline_accuracy"] or {}).get("value")
    if acc is not None and longer is not None and acc <= longer:
        console.print(
            "[bold yellow]warning:[/] the judge does no better than always picking the longer "
            "response; do not trust its verdicts on these data."
        )
    mass = (result["mean_mass"] or {}).get("value")
    if mass is not None and mass < 0.5:
        console.print(
            f"[bold yellow]warning:[/] only {mass:.0%} of the judge's probability is on the "
            "answer letters: it mostly does not answer the question."
        )
