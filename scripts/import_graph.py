"""Figures of the package's import graph, and the imports that run against the layers.

Usage: ``python scripts/import_graph.py [PACKAGE_DIR]`` (default: ``evalharness``). Prints the
number of modules, import edges (module level and inside functions), import layers (the
longest chain of imports), cycles, the largest files and every import that points up the
layer order of docs/architecture.md. Exit code 1 when an import points up or a cycle exists.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

# Lowest first. A module may import its own folder and anything on a lower layer only.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "jsonl", "specs", "records", "config", "secrets", "resources",
     "manifest", "runstore", "progress", "yamlio", "device_values"),
    ("prompts", "prompt_sources", "conversation", "rubrics", "templates", "pairs", "modelstore"),
    ("text",),
    ("backends",),
    ("judge", "probes", "labels", "cache"),
    ("analysis",),
    ("report", "view", "export"),
    ("stages", "preflight", "annotate"),
    ("api",),
    ("commands", "__main__", "__init__"),
]  # fmt: skip


def layer_of(module: str, package: str) -> int | None:
    """The layer index of ``package.x.y`` (by its first part below the package)."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if head in names:
            return index
    return None


def modules_of(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports (anywhere in the file)."""
    package = name.split(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            base = node.module
            if node.level:
                parts = name.split(".")
                parts = parts if path.name == "__init__.py" else parts[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + [node.module])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in names:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target != package:
                targets.add(target)
    return targets


@dataclass(frozen=True)
class Figures:
    """The import graph's figures for one package directory."""

    modules: int
    edges: int
    layers: int
    cycles: list[set[str]]
    upward: list[tuple[str, str, str]]
    """(importer, imported, why): ``up`` against LAYERS, or ``unplaced`` (not in LAYERS)."""
    sizes: list[tuple[int, str]]
    """(lines, file) for every module, largest first."""


def figures(root: Path) -> Figures:
    """Build the import graph of the package at ``root`` and measure it."""
    modules = modules_of(root)
    package = root.name
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in imports_of(name, path, modules))
    graph.remove_node(package) if package in graph else None
    cycles = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    condensed = nx.condensation(graph)
    depth: dict[int, int] = defaultdict(int)
    for node in reversed(list(nx.topological_sort(condensed))):
        depth[node] = 1 + max((depth[s] for s in condensed.successors(node)), default=0)
    upward = []
    for a, b in graph.edges:
        la, lb = layer_of(a, package), layer_of(b, package)
        same_folder = a.split(".")[:2] == b.split(".")[:2]
        if la is None or lb is None:
            upward.append((a, b, "unplaced"))
        elif lb > la and not same_folder:
            upward.append((a, b, "up"))
    sizes = sorted(
        ((len(p.read_text(encoding="utf-8").splitlines()), str(p)) for p in modules.values()),
        reverse=True,
    )
    return Figures(
        modules=len(modules),
        edges=graph.number_of_edges(),
        layers=max(depth.values(), default=0),
        cycles=cycles,
        upward=sorted(upward),
        sizes=sizes,
    )


def main(root: Path) -> int:
    """Print the figures; 1 when an import points up the layers or a cycle exists."""
    found = figures(root)
    print(f"modules {found.modules}  edges {found.edges}  layers {found.layers}  "
          f"cycles {len(found.cycles)}  upward {len(found.upward)}")  # fmt: skip
    print("largest: " + ", ".join(f"{p} {n}" for n, p in found.sizes[:3]))
    for cycle in found.cycles:
        print("cycle: " + " ".join(sorted(cycle)))
    for a, b, why in found.upward:
        print(f"{why}: {a} -> {b}")
    return 1 if found.upward or found.cycles else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "evalharness")))
