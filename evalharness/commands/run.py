"""The ``evalharness run`` and ``evalharness generate`` commands: they start a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from evalharness.commands.common import (
    build_config,
    check_failures,
    default_run_dir,
    describe_config,
    handle_errors,
    step_summary_file,
    verdict,
)
from evalharness.commands.options import (
    config_option,
    generation_options,
    judge_options,
    models_options,
    probe_options,
    quantize_option,
    retry_option,
    run_dir_option,
    runtime_options,
)
from evalharness.progress import QUIET, console, verbosity

if TYPE_CHECKING:
    from evalharness.stages.pipeline import RunOutcome

RUN_DIR_HELP = "Run directory [default: results/<prompts>-<config hash>]."


def new_run_options(func: Any) -> Any:
    """The options of a command that starts a run: config, models, judge, runtime, run dir."""
    for decorator in reversed([
        config_option(), generation_options, models_options, quantize_option,
        judge_options(existing=False),
        runtime_options(existing=False), run_dir_option(RUN_DIR_HELP),
        click.option("--overwrite", is_flag=True,
                     help="Replace a run directory made with another config."),
    ]):  # fmt: skip
        func = decorator(func)
    return func


@click.command()
@new_run_options
@retry_option
@handle_errors
def generate(run_dir: str | None, overwrite: bool, retry_failed: bool, **flags: Any) -> None:
    """Generate answers of the base and tuned models (or --models) for a prompt set.

    The judge options are checked now and saved as the run's judge for `judge`.
    """
    from evalharness.preflight import check_run
    from evalharness.runstore import RunStore
    from evalharness.stages.generate import prepare_run, run_generate

    config = build_config(**flags)
    describe_config(config)
    check_run(config)
    store = RunStore(run_dir or default_run_dir(config), retry_failed=retry_failed)
    with store.claim("generate"):
        items = prepare_run(store, config, overwrite)
        summary = run_generate(store, config, items)
    verdict(f"{summary.line()} -> {store.path('generations.jsonl')}")
    check_failures(store, config, ("generate",))


@click.command()
@new_run_options
@click.option("--no-bias", is_flag=True, help="Skip the bias probes (faster, no LBR/CBR).")
@probe_options(existing=False)
@retry_option
@handle_errors
def run(
    run_dir: str | None, overwrite: bool, no_bias: bool, retry_failed: bool, **flags: Any
) -> None:
    """Run everything: generate, judge, bias probes, analysis and reports.

    With no arguments it runs the built-in default: gemma3-270m (base) vs
    smollm2-135m-instruct (tuned), judged by smollm2-135m-instruct with the helpfulness rubric.
    """
    from evalharness.analysis.failures import over_threshold
    from evalharness.errors import FailuresError
    from evalharness.preflight import check_run
    from evalharness.runstore import RunStore
    from evalharness.stages.pipeline import run_all
    from evalharness.templates import resolve_judge_setup

    config = build_config(**flags)
    describe_config(config)
    setup = resolve_judge_setup(config)  # the rubric and templates, read once for the run
    check_run(config, probes=not no_bias, setup=setup)
    store = RunStore(run_dir or default_run_dir(config), retry_failed=retry_failed)
    with store.claim("run"):
        outcome = run_all(
            store, config, overwrite=overwrite, bias=not no_bias, setup=setup,
            step_summary=step_summary_file(),
            prepared=lambda: console.print(f"run directory: {store.dir}"),
        )  # fmt: skip
    print_run(outcome)
    message = over_threshold(outcome.analysis.failures.to_dict(), config.max_failure_share)
    if message:
        raise FailuresError(message)


def print_run(outcome: RunOutcome) -> None:
    """The stages' table, the headline, biases, warnings and reports (stderr); with --quiet
    only the headline win rate."""
    from evalharness.report.validation import summary_lines

    lines = summary_lines(outcome.analysis)
    if verbosity() <= QUIET:
        click.echo(lines[0], err=True)
        return
    table = Table(title="evalharness run")
    for column in ("stage", "new records", "already done", "failed", "seconds"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in outcome.summaries:
        table.add_row(
            s.stage, str(s.written), str(s.done_before), str(s.failed), f"{s.seconds:.1f}"
        )
    console.print(table)
    for line in lines:
        console.print(line, highlight=False)
    cache_line = outcome.cache_line()
    if cache_line:
        console.print(cache_line, highlight=False)
    for path in outcome.paths.values():
        console.print(f"report: {path}")
    console.print(f"total time: {outcome.seconds:.1f}s")
