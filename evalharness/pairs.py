"""Labeled pairs: an instruction, two outputs and which one people judged better."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.jsonl import read_objects
from evalharness.resources import read_text, resolve, shipped_dir, shipped_names

PAIRS_DIR: Path = shipped_dir("pairs")

# canonical key -> accepted alias
_ALIASES = {
    "input": "instruction",
    "output_1": "response_a",
    "output_2": "response_b",
    "label": "preferred",
}
_ALLOWED = ("id", *_ALIASES, *_ALIASES.values())


@dataclass(frozen=True)
class LabeledPair:
    """Two outputs for one instruction; ``label`` is 1 or 2, the better output."""

    id: str
    instruction: str
    output_1: str
    output_2: str
    label: int


def _field(obj: dict[str, Any], key: str, where: str) -> Any:
    """Return the value under ``key`` or its alias; ConfigError if neither or both are present."""
    alias = _ALIASES[key]
    if key in obj and alias in obj:
        raise ConfigError(f"{where}: both {key!r} and its alias {alias!r} are given")
    if key in obj:
        return obj[key]
    if alias in obj:
        return obj[alias]
    raise ConfigError(f"{where}: missing field {key!r} (or {alias!r})")


def _label(value: Any, where: str) -> int:
    """Normalise a label (1, 2, "a", "b") to 1 or 2."""
    if isinstance(value, str) and value.strip().lower() in ("a", "b"):
        return 1 if value.strip().lower() == "a" else 2
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2):
        return value
    raise ConfigError(f"{where}: label must be 1, 2, 'a' or 'b', got {value!r}")


def _pair(obj: Any, where: str, default_id: str) -> LabeledPair:
    """Validate one row and build its LabeledPair."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in obj:
        if key not in _ALLOWED:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(_ALLOWED)})")
    texts: dict[str, str] = {}
    for key in ("input", "output_1", "output_2"):
        value = _field(obj, key, where)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
        texts[key] = value
    if not texts["input"].strip():
        raise ConfigError(f"{where}: empty instruction")
    pair_id = obj.get("id", default_id)
    if isinstance(pair_id, int) and not isinstance(pair_id, bool):
        pair_id = str(pair_id)
    if not isinstance(pair_id, str) or not pair_id.strip():
        raise ConfigError(f"{where}: 'id' must be a non-empty string, got {pair_id!r}")
    return LabeledPair(
        id=pair_id,
        instruction=texts["input"],
        output_1=texts["output_1"],
        output_2=texts["output_2"],
        label=_label(_field(obj, "label", where), where),
    )


def _rows(path: Path) -> list[tuple[str, Any]]:
    """Return (location, row) for a JSON-array or JSONL file."""
    text = read_text(path, "pairs file")
    if not text.lstrip().startswith("["):
        return [(f"{path}:{line}", obj) for line, obj in read_objects(path, "pairs file")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not data:
        raise ConfigError(f"{path}: empty pairs file (no rows)")
    return [(f"{path}: row {index}", obj) for index, obj in enumerate(data)]


def load_pairs(
    path: str | Path, limit: int | None = None, sample: int | None = None, seed: int = 0
) -> list[LabeledPair]:
    """Load labeled pairs from a JSON array (LLMBar format) or JSONL file.

    ``limit`` keeps the first pairs only; ``sample`` keeps that many, drawn with ``seed``
    (file order kept), as ``--sample`` draws prompts.

    Ids default to ``<file stem>-<row index>``. Raises ConfigError naming file and row or line.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"{path}: limit must be at least 1, got {limit}")
    path = Path(path)
    pairs: list[LabeledPair] = []
    first_seen: dict[str, str] = {}
    for index, (where, obj) in enumerate(_rows(path)):
        pair = _pair(obj, where, f"{path.stem}-{index}")
        if pair.id in first_seen:
            raise ConfigError(f"{where}: duplicate id {pair.id!r} (first at {first_seen[pair.id]})")
        first_seen[pair.id] = where
        pairs.append(pair)
    pairs = pairs[:limit] if limit is not None else pairs
    if sample is not None and sample < len(pairs):
        chosen = set(random.Random(seed).sample(range(len(pairs)), sample))
        pairs = [pair for i, pair in enumerate(pairs) if i in chosen]
    return pairs


def pair_set_names() -> list[str]:
    """Return the names of the shipped labeled-pair sets."""
    return shipped_names("pairs")


def resolve_pairs(name_or_path: str) -> Path:
    """Map a shipped pair-set name ("llmbar_natural") or a file path to a Path."""
    return resolve(name_or_path, "pairs")
