"""The ``evalharness report`` and ``evalharness compare`` commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evalharness.commands.common import handle_errors, step_summary_file
from evalharness.report.compare import CompareResult, compare, compare_markdown


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@handle_errors
def report_command(run_dir: str) -> None:
    """Render report.md and report.html again from a run's analysis.json."""
    from evalharness.report import read_analysis, write_reports
    from evalharness.runstore import RunStore

    analysis = read_analysis(run_dir)
    store = RunStore(run_dir)
    with store.lock("report"):
        paths = write_reports(store, analysis, step_summary=step_summary_file())
    for path in paths.values():
        click.echo(f"report: {path}")


def run_name(run_dir: str) -> str:
    """A run's name in a comparison: the directory as given (where its analysis was read)."""
    return str(Path(run_dir))


def _print(result: CompareResult) -> None:
    """The changes and gate results as tables on stdout."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, width=max(100, Console().width))
    table = Table(title=Text(f"{result.baseline_run} → {result.current_run}"))
    for column in ("metric", "baseline", "current", "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for change in result.changes:
        table.add_row(*(Text(cell) for cell in (change.metric, *change.formatted())))
    console.print(table)
    if not result.gates:
        console.print("no gates configured: pass --config FILE with a gates: mapping")
        return
    gates = Table(title="gates")
    for column in ("gate", "result", "detail"):
        gates.add_column(column)
    for gate in result.gates:
        verdict = Text("pass", style="green") if gate.passed else Text("FAIL", style="bold red")
        gates.add_row(Text(gate.name), verdict, Text(gate.message))
    console.print(gates)
    failed = len(result.failed)
    console.print(
        f"[bold red]{failed} gate(s) failed[/]" if failed else "[green]all gates passed[/]"
    )


@click.command("compare")
@click.argument("baseline_run", type=click.Path(file_okay=False))
@click.argument("current_run", type=click.Path(file_okay=False))
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML config whose gates: mapping sets the limits (docs/reports.md).",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False),
    help="Write the gate results as JUnit XML to this file.",
)
@click.option(
    "--allow-different-judge",
    is_flag=True,
    help="Compare runs whose judge, rubric or judge templates differ.",
)
@handle_errors
def compare_command(
    baseline_run: str,
    current_run: str,
    config_file: str | None,
    junit_file: str | None,
    allow_different_judge: bool,
) -> None:
    """Compare CURRENT_RUN with BASELINE_RUN and check the CI gates.

    Exit code 0 when every gate passes (or none is configured), 1 when a gate fails,
    2 when a run or the config cannot be read (or a gate value is out of range), or when
    the runs used different judges, rubrics or judge templates (unless
    --allow-different-judge).
    """
    from evalharness.config import load_config
    from evalharness.report import append_step_summary, read_analysis
    from evalharness.report.compare import check_same_setup, run_setup
    from evalharness.report.junit import write_junit
    from evalharness.runstore import RunStore

    gates = load_config(config_file).gates if config_file else {}
    baseline, current = read_analysis(baseline_run), read_analysis(current_run)
    names = (run_name(baseline_run), run_name(current_run))
    if not allow_different_judge:
        setups = [
            run_setup(a, RunStore(d).read_manifest().get("config") or {})
            for a, d in ((baseline, baseline_run), (current, current_run))
        ]
        check_same_setup(setups[0], setups[1], names)
    result = compare(baseline, current, gates, names=names)
    _print(result)
    if junit_file:
        click.echo(f"junit: {write_junit(junit_file, result)}")
    append_step_summary(compare_markdown(result), step_summary_file())
    if not result.passed:
        sys.exit(1)
