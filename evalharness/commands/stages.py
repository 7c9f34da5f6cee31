"""The stage commands on an existing run: ``judge``, ``bias`` and ``analyze``.

Their defaults are the run's: the manifest's saved config; a flag may change only what the
stage owns (docs/config.md, "Changing a run's settings").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from evalharness.commands.common import (
    check_failures,
    existing_run,
    handle_errors,
    say,
    verdict,
)
from evalharness.commands.options import (
    analysis_judge_options,
    config_option,
    judge_options,
    probe_options,
    retry_option,
    runtime_options,
)
from evalharness.config import RunConfig

if TYPE_CHECKING:
    from evalharness.templates import JudgeSetup

STAGE_CONFIG_HELP = "YAML config; its judge, runtime and probe settings change the run's."
RUN_DIR = click.argument("run_dir", type=click.Path(file_okay=False))


@click.command()
@RUN_DIR
@config_option(STAGE_CONFIG_HELP)
@judge_options(existing=True)
@runtime_options(existing=True)
@retry_option
@handle_errors
def judge(run_dir: str, retry_failed: bool, **flags: Any) -> None:
    """Judge a run's generations: pointwise per criterion, and pairwise in both orders.

    The run's saved config is used; flags and --config may change only the judge's settings
    (judge, rubric, templates, judge mode) and how models run, and the change is recorded in
    the manifest.
    """
    from evalharness.preflight import check_judging
    from evalharness.stages.judge import run_judge
    from evalharness.stages.pipeline import record_judge

    setups: list[JudgeSetup] = []  # resolved once, by the check, and handed to the stage
    with existing_run(
        run_dir, flags, "judge", retry_failed, lambda c: setups.append(check_judging(c))
    ) as (store, config):
        summary = run_judge(store, config, setups[0])
        record_judge(store, config)
    verdict(summary.line())
    check_failures(store, config, ("judge pointwise", "judge pairwise"))


@click.command()
@RUN_DIR
@config_option(STAGE_CONFIG_HELP)
@judge_options(existing=True)
@runtime_options(existing=True)
@probe_options(existing=True)
@retry_option
@handle_errors
def bias(run_dir: str, retry_failed: bool, **flags: Any) -> None:
    """Probe the judge's length and confidence bias with counterfactual variants, then analyze."""
    from evalharness.preflight import check_judging, check_probes
    from evalharness.stages.pipeline import record_judge, write_analysis
    from evalharness.stages.probes import run_probes

    setups: list[JudgeSetup] = []  # resolved once, by the check, and handed to the stages

    def check(config: RunConfig) -> None:
        setups.append(check_judging(config))
        check_probes(config)

    with existing_run(run_dir, flags, "bias", retry_failed, check) as (store, config):
        summary = run_probes(store, config, setups[0])
        record_judge(store, config)
        say(summary.line())
        analysis = write_analysis(store, config, setups[0])
    verdict(f"analysis -> {store.path('analysis.json')}")
    check_failures(store, config, failures=analysis.failures.to_dict())


@click.command()
@RUN_DIR
@config_option("YAML config; its judge and statistics settings (bootstrap, tie band, gates) apply.")
@analysis_judge_options
@handle_errors
def analyze(run_dir: str, **flags: Any) -> None:
    """Recompute analysis.json from a run's records (no model work).

    The run's saved config is used; --judge picks one of the judges that judged this run
    (default: the latest), and statistics settings (bootstrap, tie band, gates) may change.
    """
    from evalharness.stages.pipeline import check_judge_present, write_analysis

    with existing_run(run_dir, flags, "analyze") as (store, config):
        check_judge_present(store, config)
        analysis = write_analysis(store, config)
    for warning in analysis.warnings:
        say(f"warning: {warning}", err=True)
    verdict(f"analysis -> {store.path('analysis.json')}")
    check_failures(store, config, failures=analysis.failures.to_dict())
