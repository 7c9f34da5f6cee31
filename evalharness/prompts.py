"""Prompt sets: JSONL files of instructions to send to the models under test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.resources import resolve, shipped_dir, shipped_names

PROMPTS_DIR: Path = shipped_dir("prompts")

_REQUIRED = ("id", "prompt")
_OPTIONAL = ("category", "reference")


@dataclass(frozen=True)
class PromptItem:
    """One prompt of a prompt set, with an optional category and reference answer."""

    id: str
    prompt: str
    category: str | None = None
    reference: str | None = None


def read_jsonl_objects(path: str | Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL file into (1-based line number, object) pairs, skipping blank lines.

    ``what`` names the kind of file in error messages ("prompt set", "pairs file").
    Raises ConfigError naming the file and line for a missing file, invalid JSON, a row
    that is not a JSON object, or a file without any rows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        rows.append((lineno, obj))
    if not rows:
        raise ConfigError(f"{path}: empty {what} (no rows)")
    return rows


def _prompt_item(obj: dict[str, Any], where: str) -> PromptItem:
    """Validate one row of a prompt set and build its PromptItem."""
    for key in obj:
        if key not in _REQUIRED and key not in _OPTIONAL:
            allowed = ", ".join(_REQUIRED + _OPTIONAL)
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {allowed})")
    for key in _REQUIRED:
        if key not in obj:
            raise ConfigError(f"{where}: missing field {key!r}")
    for key in _REQUIRED + _OPTIONAL:
        value = obj.get(key)
        if key in _OPTIONAL and value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(
                f"{where}: field {key!r} must be a string, got {type(value).__name__}"
            )
    if not obj["id"].strip():
        raise ConfigError(f"{where}: empty id")
    if not obj["prompt"].strip():
        raise ConfigError(f"{where}: empty prompt for id {obj['id']!r}")
    return PromptItem(
        id=obj["id"],
        prompt=obj["prompt"],
        category=obj.get("category"),
        reference=obj.get("reference"),
    )


def load_prompts(path: str | Path) -> list[PromptItem]:
    """Load and validate a JSONL prompt set; raises ConfigError naming file and line."""
    items: list[PromptItem] = []
    first_line: dict[str, int] = {}
    for lineno, obj in read_jsonl_objects(path, "prompt set"):
        where = f"{path}:{lineno}"
        item = _prompt_item(obj, where)
        if item.id in first_line:
            raise ConfigError(
                f"{where}: duplicate id {item.id!r} (first used on line {first_line[item.id]})"
            )
        first_line[item.id] = lineno
        items.append(item)
    return items


def prompt_set_names() -> list[str]:
    """Return the names of the shipped prompt sets."""
    return shipped_names("prompts")


def resolve_prompt_set(name_or_path: str) -> Path:
    """Map a shipped prompt-set name ("default", "mt_bench") or a file path to a Path.

    Raises ConfigError for a path that does not exist or an unknown name.
    """
    return resolve(name_or_path, "prompts")
