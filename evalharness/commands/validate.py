"""The ``evalharness judge-validate`` and ``evalharness rubric check`` commands."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from evalharness.commands.common import (
    RESULTS_DIR,
    build_config,
    describe_config,
    handle_errors,
    verdict,
)
from evalharness.commands.options import (
    config_option,
    deprecated_alias,
    field_option,
    judge_options,
    quantize_option,
    run_dir_option,
    runtime_options,
)


@click.command("judge-validate")
@config_option()
@judge_options(existing=False, references=False)
@runtime_options(existing=False)
@quantize_option
@click.option(
    "--pairs",
    "pairs_name",
    default="llmbar_natural",
    show_default=True,
    help="Labeled pairs: a name in prompts/pairs/ or a JSON/JSONL file "
    "(LLMBar format: input, output_1, output_2, label).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    help="Use this many pairs, sampled with --seed (file order kept) [default: all].",
)
@field_option("--seed", field="seed", existing=False, type=int,
         help="Seed for sampling pairs, probe variants and bootstrap.")  # fmt: skip
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
@run_dir_option("Directory for the records [default: results/validate-<pairs>-<judge>].")
@click.option(
    "--overwrite", is_flag=True, help="Replace a --run-dir directory that holds another run."
)
@deprecated_alias("--limit", "--sample", "sample", type=click.IntRange(min=1))
@deprecated_alias("--out", "--run-dir", "run_dir", type=click.Path(file_okay=False))
@handle_errors
def judge_validate(
    pairs_name: str,
    sample: int | None,
    probes: bool,
    run_dir: str | None,
    overwrite: bool,
    labeled: int | None,
    **flags: Any,
) -> None:
    """Measure the judge against human preference labels (accuracy, kappa, position, biases)."""
    from evalharness.preflight import check_judging
    from evalharness.report.validation import print_validation
    from evalharness.runstore import RunStore, write_json_atomic
    from evalharness.stages.pipeline import claim_validation_dir
    from evalharness.stages.validate import run_validation

    config = build_config(**flags)
    describe_config(config)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(pairs_name).stem}-{config.judge}")
    store = RunStore(run_dir or RESULTS_DIR / f"validate-{slug}")
    setup = check_judging(config)
    with store.claim("judge-validate"):
        claim_validation_dir(store, config, overwrite)
        result, summary = run_validation(
            store, config, pairs_name, None, probes, setup, sample=sample
        )
        if labeled:
            from evalharness.stages.labels import labeled_check_for

            result["labeled_check"] = labeled_check_for(
                store, config, pairs_name, None, labeled, setup, sample=sample
            )
        write_json_atomic(store.path("validation.json"), result)
    print_validation(result, config)
    if labeled:
        from evalharness.stages.labels import print_labeled_check

        print_labeled_check(result["labeled_check"])
    verdict(
        f"{summary.written} new judgments, {summary.seconds:.1f}s -> "
        f"{store.path('validation.json')}"
    )


@click.group()
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
    verdict(f"{file}: ok")
