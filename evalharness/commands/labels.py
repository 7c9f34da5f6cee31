"""The ``annotate`` and ``labels export/import`` commands (registered in commands/main.py)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from evalharness.commands.common import handle_errors

SAMPLE_OPTIONS = [
    click.option(
        "--n",
        "n",
        type=click.IntRange(min=2),
        default=40,
        show_default=True,
        help="Size of the uniformly random label sample (drawn once, then stored).",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample."),
    click.option(
        "--criteria",
        is_flag=True,
        help="Also ask for a 1-5 score of both answers on every rubric criterion.",
    ),
]


def sample_options(func: Any) -> Any:
    """--n, --seed, --criteria."""
    for option in reversed(SAMPLE_OPTIONS):
        func = option(func)
    return func


def _open(run_dir: str) -> tuple[Any, Any]:
    from evalharness.commands.common import run_dir_from_manifest

    return run_dir_from_manifest(run_dir, {})


def _criteria(config: Any, wanted: bool) -> list[str]:
    from evalharness.templates import resolve_judge_setup

    return resolve_judge_setup(config).criteria if wanted else []


def default_annotator() -> str:
    """The OS user name ("annotator" when it cannot be found)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "annotator"


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@sample_options
@click.option("--annotator", help="Your name in the label records [default: the OS user].")
@click.option(
    "--hard",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also show this many items the judge finds hardest (flagged, kept out of the estimate).",
)
@handle_errors
def annotate(
    run_dir: str, n: int, seed: int, criteria: bool, annotator: str | None, hard: int
) -> None:
    """Label a run's prompts blind, A vs B, in the terminal (keys: a b t s u n q)."""
    from evalharness.annotate.app import AnnotateApp, PairText
    from evalharness.labels.sample import draw_sample, pairs_of, shown_texts

    store, config = _open(run_dir)
    sample = draw_sample(store, n, seed, hard)
    texts = {pid: PairText(**shown_texts(g)) for pid, g in pairs_of(store).items()}
    who = annotator or default_annotator()
    AnnotateApp(store, sample, texts, who, _criteria(config, criteria)).run()
    click.echo(f"labels -> {store.path('labels.jsonl')}; run `evalharness analyze {run_dir}`")


@click.group()
def labels() -> None:
    """Human labels as spreadsheets: export a blind sheet, import labels."""


@labels.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("file", type=click.Path(dir_okay=False))
@sample_options
@handle_errors
def export(run_dir: str, file: str, n: int, seed: int, criteria: bool) -> None:
    """Write a blind CSV sheet of the label sample (slots shuffled, no model names)."""
    from evalharness.labels.io import export_sheet
    from evalharness.labels.sample import draw_sample, sample_path

    store, config = _open(run_dir)
    sample = draw_sample(store, n, seed)
    rows = export_sheet(store, sample, Path(file), _criteria(config, criteria))
    click.echo(f"{rows} items -> {file}; the key stays in {sample_path(store)}")


@labels.command("import")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--annotator", help="Annotator of rows without an 'annotator' [default: OS user].")
@handle_errors
def import_(run_dir: str, file: str, annotator: str | None) -> None:
    """Read labels from a CSV sheet or JSONL file (prompt_id, verdict A/B/tie, note, scores)."""
    from evalharness.errors import ConfigError
    from evalharness.labels.io import import_labels
    from evalharness.labels.sample import read_sample, sample_path

    store, config = _open(run_dir)
    sample = read_sample(store)
    if sample is None:
        raise ConfigError(
            f"{sample_path(store)}: no label sample; run `evalharness labels export` or "
            "`evalharness annotate` first"
        )
    summary = import_labels(
        store, sample, Path(file), annotator or default_annotator(), _criteria(config, True)
    )
    click.echo(
        f"{summary.written} labels imported ({summary.blank} blank rows left unlabeled) "
        f"-> {store.path('labels.jsonl')}; run `evalharness analyze {run_dir}`"
    )
