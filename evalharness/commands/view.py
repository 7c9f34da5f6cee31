"""The ``evalharness view``, ``show`` and ``export`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from evalharness.commands.common import handle_errors

if TYPE_CHECKING:
    from evalharness.config import RunConfig
    from evalharness.runstore import RunStore


def _run(run_dir: str) -> tuple[RunStore, RunConfig]:
    """The store and config of an existing run directory."""
    from evalharness.commands.common import run_dir_from_manifest

    return run_dir_from_manifest(run_dir, {})


@click.command("view")
@click.argument("run_dir", type=click.Path(file_okay=False))
@handle_errors
def view_command(run_dir: str) -> None:
    """Write view.html: every prompt with its answers, the judge's probabilities and flags.

    One self-contained page (no script, nothing loaded); runs over 100 prompts get pages in
    RUN_DIR/view/. Orderings and filters (order flips, low mass, failures, probe flips) are
    links.
    """
    from evalharness.view.site import write_view

    store, config = _run(run_dir)
    click.echo(f"view: {write_view(store, config)}")


@click.command("show")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("prompt_id")
@handle_errors
def show_command(run_dir: str, prompt_id: str) -> None:
    """Print everything the run recorded about one prompt."""
    from evalharness.view.entries import build_entries
    from evalharness.view.show import find_entry, print_entry

    store, config = _run(run_dir)
    run = build_entries(store, config)
    print_entry(find_entry(run, prompt_id), run.criteria)


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    default="parquet",
    show_default=True,
    help="Table format.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Directory for the tables [default: RUN_DIR/export].",
)
@handle_errors
def export_command(run_dir: str, fmt: str, out_dir: str | None) -> None:
    """Write one tidy table per record type (columns: docs/analysis-schema.md)."""
    from evalharness.export import export_run

    for name, path in export_run(run_dir, fmt, out_dir).items():
        click.echo(f"{name}: {path}")
