"""JSON Lines, read and written one way: one JSON value per line, lines split on "\\n" only.

U+2028, U+2029, U+0085, "\\r" and the other characters that :meth:`str.splitlines` would
break on are text inside a value, never line breaks. A malformed line is a one-line
:class:`~evalharness.errors.ConfigError` naming the file and the line.

* :func:`dumps_line` writes one row (non-ASCII readable, lone surrogates escaped, so the file
  is always valid UTF-8);
* :func:`lines` numbers the rows of a text; :func:`complete` and :func:`complete_lines` drop
  a last line cut short by an interrupted write; :func:`parse_object` reads one row;
* :func:`read_objects` reads a whole file the user gave (a prompt set, a pairs file, labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.resources import read_text

_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps_line(data: Any) -> str:
    """One JSON line: non-ASCII kept readable, lone surrogates escaped (valid UTF-8 always)."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every non-blank line, split on "\\n" only."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line


def complete(data: bytes) -> bytes:
    """``data`` up to its last "\\n": bytes after it are a line whose writing was cut short."""
    return data[: data.rfind(b"\n") + 1]


def complete_lines(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The non-blank complete lines of ``data`` as (1-based number, bytes), and the number of
    bytes they cover (where an appended line belongs). Bytes stay bytes, so that a line that
    is not UTF-8 can be named on its own."""
    whole = complete(data)
    rows = [(n, line) for n, line in enumerate(whole.split(b"\n")[:-1], start=1) if line.strip()]
    return rows, len(whole)


def has_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a lone surrogate (a ``\\ud800`` escape)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False


def parse_object(line: str, where: str) -> dict[str, Any]:
    """One line as a JSON object; ConfigError "``where``: invalid JSON: ..." otherwise."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_objects(text: str, source: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of ``text``, read from ``source``."""
    return [(number, parse_object(line, f"{source}:{number}")) for number, line in lines(text)]


def read_objects(path: str | Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL file the user gave into (1-based line number, object) pairs.

    ``what`` names the kind of file in error messages ("prompt set", "pairs file").
    Raises ConfigError naming the file (and line) for a missing or unreadable file, invalid
    JSON, a row that is not a JSON object, text holding a lone surrogate escape, or a file
    without any rows.
    """
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in lines(read_text(path, what)):
        row = parse_object(line, f"{path}:{number}")
        if has_surrogate(row):
            raise ConfigError(
                f"{path}:{number}: text holds a lone surrogate escape (not a valid character)"
            )
        rows.append((number, row))
    if not rows:
        raise ConfigError(f"{path}: empty {what} (no rows)")
    return rows
