"""The ``evalharness`` command line: one function per command, shared option decorators."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalharness.clitools import (
    RESULTS_DIR,
    build_config,
    default_run_dir,
    handle_errors,
    model_options,
    run_dir_from_manifest,
)


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
@handle_errors
def generate(run_dir: str | None, overwrite: bool, **flags: Any) -> None:
    """Generate answers of the base and tuned models for a prompt set."""
    from evalharness.generate import prepare_run, run_generate
    from evalharness.runstore import RunStore

    config = build_config(**flags)
    store = RunStore(run_dir or default_run_dir(config))
    with store.claim():
        items = prepare_run(store, config, overwrite)
        summary = run_generate(store, config, items)
    click.echo(f"{summary.line()} -> {store.path('generations.jsonl')}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
@handle_errors
def judge(run_dir: str, **flags: Any) -> None:
    """Judge a run's generations: pointwise per criterion, and pairwise in both orders."""
    from evalharness.judge.stage import run_judge

    store, config = run_dir_from_manifest(run_dir, flags)
    summary = run_judge(store, config)
    click.echo(summary.line())


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
@click.option(
    "--probe-rules",
    type=click.Path(file_okay=False),
    help="Directory with length.yaml/confidence.yaml rewrite rules [default: built-in].",
)
@click.option("--rewriter", help="Model spec that rewrites responses instead of the rules.")
@click.option(
    "--probe-sample",
    type=click.IntRange(min=1),
    help="Probe only this many prompts, sampled with --seed [default: all].",
)
@click.option(
    "--probe-kinds",
    "probes",
    callback=lambda ctx, param, value: tuple(value.split(",")) if value else None,
    help="Probe kinds to run, comma-separated: padded,shortened,assertive,hedged [default: all].",
)
@handle_errors
def bias(run_dir: str, **flags: Any) -> None:
    """Probe the judge's length and confidence bias with counterfactual variants, then analyze."""
    from evalharness.pipeline import write_analysis
    from evalharness.probes.stage import run_probes

    store, config = run_dir_from_manifest(run_dir, flags)
    summary = run_probes(store, config)
    click.echo(summary.line())
    write_analysis(store, config)
    click.echo(f"analysis -> {store.path('analysis.json')}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@model_options
@handle_errors
def analyze(run_dir: str, **flags: Any) -> None:
    """Recompute analysis.json from a run's records (no model work)."""
    from evalharness.pipeline import write_analysis

    store, config = run_dir_from_manifest(run_dir, flags)
    analysis = write_analysis(store, config)
    for warning in analysis["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"analysis -> {store.path('analysis.json')}")


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
@handle_errors
def judge_validate(
    pairs_name: str,
    limit: int | None,
    probes: bool,
    out_dir: str | None,
    labeled: int | None,
    **flags: Any,
) -> None:
    """Measure the judge against human preference labels (accuracy, kappa, position, biases)."""
    import re

    from evalharness.pipeline import print_validation
    from evalharness.runstore import RunStore, write_json_atomic
    from evalharness.validate import run_validation

    config = build_config(**flags)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(pairs_name).stem}-{config.judge}")
    store = RunStore(out_dir or RESULTS_DIR / f"validate-{slug}")
    result, summary = run_validation(store, config, pairs_name, limit, probes)
    if labeled:
        from evalharness.labels.validate_check import labeled_check_for

        result["labeled_check"] = labeled_check_for(store, config, pairs_name, limit, labeled)
    write_json_atomic(store.path("validation.json"), result)
    print_validation(result, config)
    if labeled:
        from evalharness.labels.validate_check import print_labeled_check

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
@click.option(
    "--probe-sample",
    type=click.IntRange(min=1),
    help="Probe only this many prompts, sampled with --seed [default: all].",
)
@click.option(
    "--probe-kinds",
    "probes",
    callback=lambda ctx, param, value: tuple(value.split(",")) if value else None,
    help="Probe kinds to run, comma-separated: padded,shortened,assertive,hedged [default: all].",
)
@handle_errors
def run(run_dir: str | None, overwrite: bool, no_bias: bool, **flags: Any) -> None:
    """Run everything: generate, judge, bias probes, analysis and reports.

    With no arguments it runs the built-in default: gemma3-270m (base) vs
    smollm2-135m-instruct (tuned), judged by smollm2-135m-instruct with the helpfulness rubric.
    """
    from evalharness.pipeline import run_all
    from evalharness.runstore import RunStore

    config = build_config(**flags)
    store = RunStore(run_dir or default_run_dir(config))
    with store.claim():
        run_all(store, config, overwrite=overwrite, bias=not no_bias)


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


from evalharness.report.commands import compare_command, report_command  # noqa: E402

cli.add_command(report_command)
cli.add_command(compare_command)
from evalharness.view.commands import register as register_view_commands  # noqa: E402

register_view_commands(cli)

from evalharness.labels.commands import annotate, labels  # noqa: E402

cli.add_command(annotate)
cli.add_command(labels)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
