"""Reports: report.md, report.html, and the baseline comparison.

``write_reports`` renders both reports from the analysis dict; matplotlib is imported only
when the plots are drawn. The schema of the analysis is in docs/analysis-schema.md and the
reading of each section in docs/reports.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.runstore import RunStore, write_text_atomic

ANALYSIS_FILE = "analysis.json"
SUPPORTED_SCHEMA_VERSIONS = (1,)
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def read_analysis(run_dir: str | Path) -> dict[str, Any]:
    """The analysis.json of a run directory, checked to be an analysis document."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such run directory")
    path = directory / ANALYSIS_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run `evalharness analyze {directory}` to compute it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not an analysis document (expected a JSON object)")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ConfigError(
            f"{path}: schema_version {version!r} is not supported "
            f"(this evalharness reads {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})"
        )
    return data


def append_step_summary(markdown: str) -> Path | None:
    """Append Markdown to the file named by $GITHUB_STEP_SUMMARY, if set; returns its path."""
    target = os.environ.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        raise ConfigError(f"{STEP_SUMMARY_ENV}={target}: cannot append ({exc.strerror})") from exc
    return path


def write_reports(store: RunStore, analysis: dict[str, Any]) -> dict[str, Path]:
    """Write report.md and report.html of a run; append report.md to the CI job summary."""
    from evalharness.report.html import render_html
    from evalharness.report.markdown import render_markdown
    from evalharness.report.plots import render_plots

    markdown = render_markdown(analysis)
    page = render_html(analysis, render_plots(analysis))
    paths = {"markdown": store.path("report.md"), "html": store.path("report.html")}
    write_text_atomic(paths["markdown"], markdown)
    write_text_atomic(paths["html"], page)
    append_step_summary(markdown)
    from evalharness.view.site import write_view_if_run

    if (view := write_view_if_run(store)) is not None:
        paths["view"] = view
    return paths
