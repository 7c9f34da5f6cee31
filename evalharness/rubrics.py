"""Rubric files: versioned YAML criteria with a description of every score level."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evalharness.errors import ConfigError, did_you_mean
from evalharness.resources import looks_like_path, resolve, shipped_dir, shipped_names
from evalharness.yamlio import Key, duplicate_keys, read_yaml, yaml_line

RUBRICS_DIR: Path = shipped_dir("rubrics")

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
_TOP_KEYS = ("id", "version", "description", "criteria")
_CRITERION_KEYS = ("name", "question", "levels")
_ID_RE = re.compile(r"[a-z0-9_-]+")
_NAME_RE = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class Criterion:
    """One criterion of a rubric: a question and a description of each level 1..5."""

    name: str
    question: str
    levels: dict[int, str]


@dataclass(frozen=True)
class Rubric:
    """A validated rubric; identified by ``id@version``."""

    id: str
    version: str
    description: str
    criteria: tuple[Criterion, ...]
    path: str

    @property
    def key(self) -> str:
        """Return the rubric's identity, ``id@version``."""
        return f"{self.id}@{self.version}"

    def criterion(self, name: str) -> Criterion:
        """Return the criterion called ``name``; ConfigError if the rubric has none."""
        for criterion in self.criteria:
            if criterion.name == name:
                return criterion
        names = [c.name for c in self.criteria]
        raise ConfigError(
            f"{self.path}: rubric {self.key} has no criterion {name!r}" + did_you_mean(name, names)
        )

    def criteria_block(self) -> str:
        """Return all criteria with their five level descriptions as plain text."""
        lines: list[str] = []
        for criterion in self.criteria:
            lines.append(f"- {criterion.name}: {criterion.question}")
            lines.extend(f"  {level}: {criterion.levels[level]}" for level in LEVELS)
        return "\n".join(lines)


# ---------------------------------------------------------------- validation


class _Problems:
    """Collects located problems for one file."""

    def __init__(self, path: Path, root: yaml.Node | None) -> None:
        self.path = path
        self.root = root
        self.items: list[tuple[int, str]] = []

    def add(self, keys: tuple[Key, ...], message: str) -> None:
        """Record ``message`` for the value at ``keys``."""
        line = yaml_line(self.root, keys)
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        location = _location(keys)
        text = f"{where}: {location}: {message}" if location else f"{where}: {message}"
        self.items.append((line or 0, text))

    def sorted(self) -> list[str]:
        """Return the problems in file order."""
        return [text for _, text in sorted(self.items, key=lambda item: item[0])]


def _location(keys: tuple[Key, ...]) -> str:
    """Render a key path as ``criteria[2].levels``."""
    out = ""
    for key in keys:
        if isinstance(key, int) and out.endswith("criteria"):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def _check_text(problems: _Problems, data: dict[Any, Any], keys: tuple[Key, ...]) -> None:
    """Require ``data[keys[-1]]`` to be a non-empty string."""
    key = keys[-1]
    if key not in data:
        parent = keys[:-1]
        problems.add(parent, f"missing field {key!r}")
        return
    value = data[key]
    if not isinstance(value, str):
        problems.add(keys, f"must be a string, got {type(value).__name__}")
    elif not value.strip():
        problems.add(keys, "must not be empty")


def _level_number(key: Any) -> int | None:
    """Return a level key as an int (accepting "3" as well as 3), or None if it is not one."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return None


def _levels(raw: dict[Any, str]) -> dict[int, str]:
    """Return validated level descriptions keyed 1..5, in order."""
    by_number = {_level_number(key): text.strip() for key, text in raw.items()}
    return {number: by_number[number] for number in LEVELS}


def _check_levels(problems: _Problems, levels: Any, keys: tuple[Key, ...]) -> None:
    """Require exactly the levels 1..5, each with a non-empty description."""
    if not isinstance(levels, dict):
        problems.add(keys, f"must be a mapping of levels 1..5, got {type(levels).__name__}")
        return
    present: set[int] = set()
    for raw_key, description in levels.items():
        number = _level_number(raw_key)
        if number not in LEVELS:
            problems.add((*keys, raw_key), f"unexpected level {raw_key!r} (levels are 1..5)")
            continue
        present.add(number)
        if not isinstance(description, str) or not description.strip():
            problems.add((*keys, raw_key), "level description must be a non-empty string")
    for number in LEVELS:
        if number not in present:
            problems.add(keys, f"missing level {number}")


def _check_criterion(problems: _Problems, criterion: Any, index: int, seen: dict[str, int]) -> None:
    """Check one entry of ``criteria``; ``seen`` maps names to the index first using them."""
    keys: tuple[Key, ...] = ("criteria", index)
    if not isinstance(criterion, dict):
        problems.add(keys, f"must be a mapping, got {type(criterion).__name__}")
        return
    for key in criterion:
        if key not in _CRITERION_KEYS:
            allowed = ", ".join(_CRITERION_KEYS)
            problems.add((*keys, key), f"unknown key {key!r} (allowed: {allowed})")
    _check_text(problems, criterion, (*keys, "name"))
    name = criterion.get("name")
    if isinstance(name, str) and name.strip():
        if not _NAME_RE.fullmatch(name):
            problems.add((*keys, "name"), f"{name!r} must match [a-z0-9_]+")
        if name in seen:
            problems.add(
                (*keys, "name"), f"duplicate criterion name {name!r} (also criteria[{seen[name]}])"
            )
        else:
            seen[name] = index
    _check_text(problems, criterion, (*keys, "question"))
    if "levels" not in criterion:
        problems.add(keys, "missing field 'levels'")
    else:
        _check_levels(problems, criterion["levels"], (*keys, "levels"))


def _check_data(problems: _Problems, data: Any) -> None:
    """Check a parsed rubric document against the schema."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        problems.add((), f"a rubric must be a mapping, got {got}")
        return
    for key in data:
        if key not in _TOP_KEYS:
            problems.add((key,), f"unknown key {key!r} (allowed: {', '.join(_TOP_KEYS)})")
    _check_text(problems, data, ("id",))
    rubric_id = data.get("id")
    if isinstance(rubric_id, str) and rubric_id and not _ID_RE.fullmatch(rubric_id):
        problems.add(("id",), f"{rubric_id!r} must match [a-z0-9_-]+")
    if "version" not in data:
        problems.add((), "missing field 'version'")
    else:
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, str | int):
            problems.add(("version",), 'must be a string or an integer (quote it: "1.0")')
        elif not str(version).strip():
            problems.add(("version",), "must not be empty")
    _check_text(problems, data, ("description",))
    if "criteria" not in data:
        problems.add((), "missing field 'criteria'")
        return
    criteria = data["criteria"]
    if not isinstance(criteria, list):
        problems.add(("criteria",), f"must be a list, got {type(criteria).__name__}")
        return
    if not criteria:
        problems.add(("criteria",), "needs at least one criterion")
    seen: dict[str, int] = {}
    for index, criterion in enumerate(criteria):
        _check_criterion(problems, criterion, index, seen)


def _check(path: Path) -> tuple[list[str], Any]:
    """Return (problems, parsed data) for a rubric file."""
    try:
        data, root = read_yaml(path, "rubric file")
    except ConfigError as exc:
        return [str(exc)], None
    problems = _Problems(path, root)
    for line, key in duplicate_keys(root):
        problems.items.append((line, f"{path}:{line}: duplicate key {key!r}"))
    _check_data(problems, data)
    return problems.sorted(), data


def check_rubric(path: str | Path) -> list[str]:
    """Return every problem in a rubric file (or a shipped rubric, by name), each naming file,
    line and field; [] if valid."""
    if isinstance(path, str) and not Path(path).exists() and not looks_like_path(path, "rubrics"):
        try:
            path = resolve_rubric(path)
        except ConfigError as exc:
            return [str(exc)]
    problems, _ = _check(Path(path))
    return problems


# ---------------------------------------------------------------- loading


def rubric_names() -> list[str]:
    """Return the names of the shipped rubrics."""
    return shipped_names("rubrics")


def resolve_rubric(name_or_path: str) -> Path:
    """Map a shipped rubric name ("helpfulness") or a file path to a Path."""
    return resolve(name_or_path, "rubrics")


def load_rubric(name_or_path: str) -> Rubric:
    """Load and validate a rubric by shipped name or path; ConfigError on any problem."""
    path = resolve_rubric(name_or_path)
    problems, data = _check(path)
    if problems:
        more = f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""
        raise ConfigError("invalid rubric: " + "; ".join(problems[:2]) + more)
    criteria = tuple(
        Criterion(
            name=c["name"],
            question=c["question"].strip(),
            levels=_levels(c["levels"]),
        )
        for c in data["criteria"]
    )
    return Rubric(
        id=data["id"],
        version=str(data["version"]),
        description=" ".join(data["description"].split()),
        criteria=criteria,
        path=str(path),
    )
