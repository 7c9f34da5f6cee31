"""The ``evalharness`` command line: one function per command, shared option decorators."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalharness.commands.common import (
    RESULTS_DIR,
    build_config,
    check_failures,
    default_run_dir,
    existing_run,
    handle_errors,
    model_options,
    probe_budget_options,
    retry_option,
)
from evalharness.config import RunConfig

if TYPE_CHECKING:
    from evalharness.templates import JudgeSetup


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="evalharness")
def cli() -> None:
    """Evaluate a tuned model against its base with an LLM judge, and measure the judge.

    Stages: generate -> judge -> bias -> report; `run` chains them. Every stage reads and
    writes a run directory (results/<run-id>/) and resumes where it stopped.
    """


@cli.command()
@model_options
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    help="Run directory [default: results/<prompts>-<config hash>].",
)
@click.option("--overwrite", is_flag=True, help="Replace a run directory made with another config.")
@retry_option
@handle_errors
def generate(run_dir: str | None, overwrite: bool, retry_failed: bool, **flags: Any) -> None:
    """Generate answers of the base and tuned models for a prompt set."""
    from evalharness.preflight import check_run
    from evalharness.runstore import RunStore
    from evalharness.stages.generate import prepare_run, run_generate

    config = build_config(**flags)
    check_run(config)
    store = RunStore(run_dir or default_run_dir(config), retry_failed=retry_failed)
    with store.claim("generate"):
        items = prepare_run(store, config, overwrite)
        summary = run_generate(store, config, items)
    click.echo(f"{summary.line()} -> {store.path('generations.jsonl')}")
    check_failures(store, config, ("generate",))


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
@retry_option
@handle_errors
def judge(run_dir: str, retry_failed: bool, **flags: Any) -> None:
    """Judge a run's generations: pointwise per criterion, and pairwise in both orders.

    The run's saved config is used; flags and --config may change only the judge's settings
    (judge, rubric, templates, judge mode), and the change is recorded in the manifest.
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
    click.echo(summary.line())
    check_failures(store, config, ("judge pointwise", "judge pairwise"))


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
@click.option(
    "--probe-rules",
    type=click.Path(file_okay=False),
    help="Directory with length.yaml/confidence.yaml rewrite rules [default: built-in].",
)
@click.option("--rewriter", help="Model spec that rewrites responses instead of the rules.")
@probe_budget_options
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
        click.echo(summary.line())
        analysis = write_analysis(store, config, setups[0])
    click.echo(f"analysis -> {store.path('analysis.json')}")
    check_failures(store, config, failures=analysis.failures.to_dict())


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
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
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"analysis -> {store.path('analysis.json')}")
    check_failures(store, config, failures=analysis.failures.to_dict())


@cli.command("judge-validate")
@model_options
@click.option(
    "--pairs",
    "pairs_name",
    default="llmbar_natural",
    show_default=True,
    help="Labeled pairs: a name in prompts/pairs/ or a JSON/JSONL file "
    "(LLMBar format: input, output_1, output_2, label).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N pairs.")
@click.option(
    "--probes/--no-probes",
    default=True,
    show_default=True,
    help="Also measure LBR and CBR on the pairs (3 more comparisons per pair).",
)
@click.option(
    "--labeled",
    type=click.IntRange(min=2),
    help="Keep K random labels, treat the rest as unlabeled: check the PPI++ win rate.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Directory for the records [default: results/validate-<pairs>-<judge>].",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an --out directory that holds another run."
)
@handle_errors
def judge_validate(
    pairs_name: str,
    limit: int | None,
    probes: bool,
    out_dir: str | None,
    overwrite: bool,
    labeled: int | None,
    **flags: Any,
) -> None:
    """Measure the judge against human preference labels (accuracy, kappa, position, biases)."""
    import re

    from evalharness.preflight import check_judging
    from evalharness.runstore import RunStore, write_json_atomic
    from evalharness.stages.pipeline import claim_validation_dir, print_validation
    from evalharness.stages.validate import run_validation

    config = build_config(**flags)
    setup = check_judging(config)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(pairs_name).stem}-{config.judge}")
    store = RunStore(out_dir or RESULTS_DIR / f"validate-{slug}")
    with store.claim("judge-validate"):
        claim_validation_dir(store, config, overwrite)
        result, summary = run_validation(store, config, pairs_name, limit, probes, setup)
        if labeled:
            from evalharness.stages.labels import labeled_check_for

            result["labeled_check"] = labeled_check_for(
                store, config, pairs_name, limit, labeled, setup
            )
        write_json_atomic(store.path("validation.json"), result)
    print_validation(result, config)
    if labeled:
        from evalharness.stages.labels import print_labeled_check

        print_labeled_check(result["labeled_check"])
    click.echo(
        f"{summary.written} new judgments, {summary.seconds:.1f}s -> "
        f"{store.path('validation.json')}"
    )


@cli.command()
@model_options
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    help="Run directory [default: results/<prompts>-<config hash>].",
)
@click.option("--overwrite", is_flag=True, help="Replace a run directory made with another config.")
@click.option("--no-bias", is_flag=True, help="Skip the bias probes (faster, no LBR/CBR).")
@probe_budget_options
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
    setup = resolve_judge_setup(config)  # the rubric and templates, read once for the run
    check_run(config, probes=not no_bias, setup=setup)
    store = RunStore(run_dir or default_run_dir(config), retry_failed=retry_failed)
    with store.claim("run"):
        analysis = run_all(store, config, overwrite=overwrite, bias=not no_bias, setup=setup)
    message = over_threshold(analysis.failures.to_dict(), config.max_failure_share)
    if message:
        raise FailuresError(message)


@cli.group()
def rubric() -> None:
    """Rubric files."""


@rubric.command("check")
@click.argument("file", type=click.Path())
@handle_errors
def rubric_check(file: str) -> None:
    """Validate a rubric file: schema, every level described, no duplicate names."""
    from evalharness.rubrics import check_rubric

    problems = check_rubric(file)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(2)
    click.echo(f"{file}: ok")


@cli.command()
@handle_errors
def models() -> None:
    """List the built-in models and whether they are installed and converted."""
    from evalharness.errors import ModelError
    from evalharness.modelstore import cache_dir
    from evalharness.specs import BUILTIN_MODELS

    click.echo(f"model cache: {cache_dir()}")
    for name, info in BUILTIN_MODELS.items():
        try:
            from evalharness.modelstore import builtin_gguf

            status = str(builtin_gguf(name))
        except ModelError as exc:
            status = f"missing ({exc})"
        click.echo(f"{name:24} {info['kind']:9} {status}")


from evalharness.commands.report import compare_command, report_command  # noqa: E402

cli.add_command(report_command)
cli.add_command(compare_command)
from evalharness.commands.view import register as register_view_commands  # noqa: E402

register_view_commands(cli)

from evalharness.commands.labels import annotate, labels  # noqa: E402

cli.add_command(annotate)
cli.add_command(labels)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
