"""The ``evalharness`` command group: verbosity, and every command registered by theme.

run.py starts runs (run, generate), stages.py works on an existing run (judge, bias,
analyze), validate.py measures the judge (judge-validate, rubric check), report.py, view.py,
labels.py and models.py hold the rest.
"""

from __future__ import annotations

import click

from evalharness.commands.labels import annotate, labels
from evalharness.commands.models import models
from evalharness.commands.report import compare_command, report_command
from evalharness.commands.run import generate, run
from evalharness.commands.stages import analyze, bias, judge
from evalharness.commands.validate import judge_validate, rubric
from evalharness.commands.view import export_command, show_command, view_command
from evalharness.progress import NORMAL, QUIET, VERBOSE, set_verbosity


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="evalharness")
@click.option("-v", "--verbose", is_flag=True, help="Per-stage detail (settings, changes).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the final one-line result.")
def cli(verbose: bool, quiet: bool) -> None:
    """Evaluate a tuned model against its base with an LLM judge, and measure the judge.

    Stages: generate -> judge -> bias -> report; `run` chains them. Every stage reads and
    writes a run directory (results/<run-id>/) and resumes where it stopped. Off a terminal
    (CI logs) each stage prints a progress line every few seconds.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet exclude each other")
    set_verbosity(QUIET if quiet else VERBOSE if verbose else NORMAL)


for command in (
    run, generate, judge, bias, analyze, judge_validate, rubric, models, report_command,
    compare_command, view_command, show_command, export_command, annotate, labels,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
