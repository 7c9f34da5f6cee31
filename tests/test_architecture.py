"""The package's layering, checked by scripts/import_graph.py's own code.

A module imports its own folder and lower layers of ``LAYERS`` only, no imports form a
cycle, and no module grows past 400 lines (see docs/architecture.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def _import_graph() -> ModuleType:
    path = ROOT / "scripts" / "import_graph.py"
    spec = importlib.util.spec_from_file_location("import_graph", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graph() -> ModuleType:
    return _import_graph()


@pytest.fixture(scope="module")
def figures(graph: ModuleType) -> Any:
    return graph.figures(ROOT / "evalharness")


def test_no_import_cycles(figures: Any) -> None:
    assert figures.cycles == []


def test_no_import_points_up_the_layers(figures: Any) -> None:
    # "unplaced" names a new top-level module missing from LAYERS: give it a layer.
    assert figures.upward == []


def test_no_module_over_the_size_limit(figures: Any) -> None:
    large = {
        str(Path(path).resolve().relative_to(ROOT)): lines
        for lines, path in figures.sizes
        if lines > MAX_LINES
    }
    assert large == {}


def test_the_check_sees_an_upward_import_and_a_cycle(graph: ModuleType, tmp_path: Path) -> None:
    """The checks above can fail: a ground-floor module importing the commands is caught."""
    package = tmp_path / "evalharness"
    (package / "commands").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "commands" / "__init__.py").write_text("")
    (package / "commands" / "main.py").write_text("from evalharness import errors\n")
    (package / "errors.py").write_text("from evalharness.commands import main\n")
    (package / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    found = graph.figures(package)
    assert ("evalharness.errors", "evalharness.commands.main", "up") in found.upward
    assert {"evalharness.errors", "evalharness.commands.main"} in found.cycles
    assert found.sizes[0] == (MAX_LINES + 1, str(package / "big.py"))
