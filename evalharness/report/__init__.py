"""Reports: report.md, report.html, and the baseline comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalharness.runstore import RunStore, write_json_atomic


def write_reports(store: RunStore, analysis: dict[str, Any]) -> dict[str, Path]:
    """Write the reports of a run (placeholder until the report module lands)."""
    path = store.path("analysis.json")
    write_json_atomic(path, analysis)
    return {"analysis": path}
