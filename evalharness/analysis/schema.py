"""Write docs/analysis-schema.md from the analysis dataclasses.

``python -m evalharness.analysis.schema [--check]`` renders one table per dataclass (field,
type, the field's ``doc``), reached from :class:`~evalharness.analysis.model.Analysis` in
field order, with the prose of ``docs/schema/prose.md`` around them: its ``header`` and
``footer`` sections and a section per class name, placed under that class's table.
``--check`` exits 1 when the committed document differs from what would be written.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from evalharness.analysis.codec import json_key
from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import ANALYSIS_SCHEMA_VERSION, Analysis

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "analysis-schema.md"
PROSE = ROOT / "docs" / "schema" / "prose.md"
_SECTION = re.compile(r"^<!-- section: (\w+) -->\n", re.M)
SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean", Any: "any"}


def type_name(tp: Any) -> str:
    """A field type in words, linking Estimate and the analysis classes."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"object: key → {type_name(args[1])}"
    if tp is Estimate:
        return "[Estimate](#estimate)"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    return SCALARS.get(tp, str(tp))


def _nested(tp: Any) -> list[Any]:
    """The dataclasses inside a field type, in order."""
    if dataclasses.is_dataclass(tp):
        return [tp]
    return [c for a in get_args(tp) for c in _nested(a)]


def classes(root: Any = Analysis) -> list[tuple[Any, str]]:
    """(dataclass, JSON path where it first appears), depth first in field order."""
    seen: dict[Any, str] = {}

    def visit(cls: Any, path: str) -> None:
        if cls in seen or cls is Estimate:
            return
        seen[cls] = path
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            origin = get_origin(hints[f.name])
            suffix = "[]" if origin is list else ".*" if origin is dict else ""
            for inner in _nested(hints[f.name]):
                visit(inner, f"{path}.{json_key(f)}{suffix}".lstrip("."))

    visit(root, "")
    return list(seen.items())


def table(cls: Any) -> str:
    """The field table of one dataclass."""
    hints = get_type_hints(cls)
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        name = "*(inline)*" if f.metadata.get("flatten") else f"`{json_key(f)}`"
        note = " (absent when null)" if f.metadata.get("omit_none") else ""
        text = str(f.metadata.get("doc", "")).replace("|", "\\|")
        rows.append(f"| {name} | {type_name(hints[f.name])} | {text}{note} |")
    return "\n".join(rows)


def prose(text: str) -> dict[str, str]:
    """The sections of the prose file by name."""
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}


def render(prose_text: str) -> str:
    """The whole document."""
    sections = prose(prose_text)
    out = [sections.get("header", "").replace("{version}", str(ANALYSIS_SCHEMA_VERSION)), ""]
    for cls, path in classes():
        where = f"`{path}`" if path else "the top level"
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        out += [f"## {cls.__name__}", "", f"{doc} At {where}.", "", table(cls), ""]
        if cls.__name__ in sections:
            out += [sections[cls.__name__], ""]
    out += [sections.get("footer", ""), ""]
    return "\n".join(out).replace("\n\n\n", "\n\n")


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) docs/analysis-schema.md."""
    args = sys.argv[1:] if argv is None else argv
    text = render(PROSE.read_text(encoding="utf-8"))
    if "--check" in args:
        same = DOC.read_text(encoding="utf-8") == text
        fix = "differs; run python -m evalharness.analysis.schema"
        print(f"{DOC}: {'up to date' if same else fix}")
        return 0 if same else 1
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
