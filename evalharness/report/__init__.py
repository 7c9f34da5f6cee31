"""Reports: report.md, report.html, and the baseline comparison.

``write_reports`` renders both reports from the typed analysis; matplotlib is imported only
when the plots are drawn. The schema of the analysis is in docs/analysis-schema.md and the
reading of each section in docs/reports.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalharness.analysis.model import Analysis
from evalharness.errors import ConfigError
from evalharness.runstore import RunStore, write_json_atomic, write_text_atomic
from evalharness.secrets import scrub
from evalharness.templates import JudgeSetup

ANALYSIS_FILE = "analysis.json"
STEP_SUMMARY_LIMIT = 1024 * 1024 - 1024  # bytes; GitHub refuses a summary over 1 MiB
SUMMARY_MARKER = ".step_summary.json"


def read_analysis(run_dir: str | Path) -> Analysis:
    """The analysis.json of a run directory, checked to be an analysis document."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such run directory")
    path = directory / ANALYSIS_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run `evalharness analyze {directory}` to compute it")
    return Analysis.read(path)


def append_step_summary(
    markdown: str, target: Path | None, store: RunStore | None = None
) -> Path | None:
    """Append Markdown to the CI job-summary file ``target``, if given; returns its path.

    With ``store``, a run appends its summary once per summary file (a second `report` of
    the same run in the same CI job adds nothing). What is appended stays under GitHub's
    1 MiB limit for the whole summary file.
    """
    if target is None:
        return None
    path = Path(target)
    marker = store.path(SUMMARY_MARKER) if store is not None else None
    key = str(path.resolve())
    done: list[str] = []
    if marker is not None and marker.is_file():
        try:
            done = json.loads(marker.read_text(encoding="utf-8")).get("appended_to", [])
        except (OSError, ValueError, AttributeError):
            done = []
        if key in done:
            return path
    try:
        used = path.stat().st_size if path.exists() else 0
        text = fit_summary(markdown, STEP_SUMMARY_LIMIT - used)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(scrub(text))
    except OSError as exc:
        raise ConfigError(f"job summary {target}: cannot append ({exc.strerror})") from exc
    if marker is not None:
        write_json_atomic(marker, {"appended_to": [*done, key]})
    return path


def fit_summary(markdown: str, room: int) -> str:
    """``markdown`` (ending in a newline) cut to ``room`` UTF-8 bytes, with a note if cut."""
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode("utf-8")) <= room:
        return text
    note = "\n\n> Summary cut to fit GitHub's 1 MiB job-summary limit; see report.html.\n"
    keep = max(0, room - len(note.encode("utf-8")))
    if keep == 0:
        return ""
    return text.encode("utf-8")[:keep].decode("utf-8", "ignore") + note


def write_reports(
    store: RunStore,
    analysis: Analysis,
    *,
    unchanged: bool = False,
    step_summary: Path | None = None,
    setup: JudgeSetup | None = None,
) -> dict[str, Path]:
    """Write report.md and report.html of a run; append report.md to ``step_summary``.

    ``step_summary``: the CI job-summary file (the command line finds it in the environment).
    ``unchanged``: the analysis is the one the reports were made from; existing reports are
    kept as they are (no rendering, no plots). ``setup``: the judge setup of the run's saved
    config, when the caller has resolved it (the view reads it otherwise).
    """
    from evalharness.report.html import render_html
    from evalharness.report.markdown import render_markdown

    paths = {"markdown": store.path("report.md"), "html": store.path("report.html")}
    from evalharness.view.pages import VIEW_FILE

    if unchanged and all(p.is_file() for p in (*paths.values(), store.path(VIEW_FILE))):
        markdown = paths["markdown"].read_text(encoding="utf-8")
        append_step_summary(markdown, step_summary, store)
        return {**paths, "view": store.path(VIEW_FILE)}
    from evalharness.report.plots import render_plots
    from evalharness.report.size import fit_markdown

    markdown = fit_markdown(analysis, render_markdown)
    page = render_html(analysis, render_plots(analysis))
    write_text_atomic(paths["markdown"], markdown)
    write_text_atomic(paths["html"], page)
    append_step_summary(markdown, step_summary, store)
    from evalharness.view.site import write_view_if_run

    if (view := write_view_if_run(store, setup)) is not None:
        paths["view"] = view
    return paths
