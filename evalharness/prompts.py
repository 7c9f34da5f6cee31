"""Prompt sets: JSONL files of instructions to send to the models under test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError, did_you_mean

PROMPTS_DIR: Path = Path(__file__).resolve().parents[1] / "prompts"

_REQUIRED = ("id", "prompt")
_OPTIONAL = ("category", "reference")


@dataclass(frozen=True)
class PromptItem:
    """One prompt of a prompt set, with an optional category and reference answer."""

    id: str
    prompt: str
    category: str | None = None
    reference: str | None = None


def _has_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a lone surrogate (a ``\\ud800`` escape)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


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
    # "\n" only: U+2028, U+2029 and U+0085 are text inside a row, not line breaks
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        if _has_surrogate(obj):
            raise ConfigError(
                f"{path}:{lineno}: text holds a lone surrogate escape (not a valid character)"
            )
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
    """Return the names of the prompt sets shipped in PROMPTS_DIR."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.jsonl"))


def resolve_prompt_set(name_or_path: str) -> Path:
    """Map a shipped prompt-set name ("default", "mt_bench") or a file path to a Path.

    Raises ConfigError for a path that does not exist or an unknown name.
    """
    shipped = PROMPTS_DIR / f"{name_or_path}.jsonl"
    if "/" not in name_or_path and "\\" not in name_or_path and shipped.is_file():
        return shipped
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    if candidate.suffix or "/" in name_or_path or "\\" in name_or_path:
        raise ConfigError(f"{name_or_path}: prompt set file not found")
    raise ConfigError(
        f"unknown prompt set {name_or_path!r}" + did_you_mean(name_or_path, prompt_set_names())
    )
