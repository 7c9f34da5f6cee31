"""The only place that reads and writes run files.

A run directory holds ``manifest.json`` and one JSONL file per record type. Appends are
whole lines written with one ``write`` and flushed to disk; a line cut short by a kill is
ignored on read and cut off before the next append, so a record is never half-written and
an interrupted stage loses at most the batch in flight.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from evalharness.errors import ConfigError
from evalharness.records import Record

R = TypeVar("R", bound=Record)

MANIFEST = "manifest.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """Reads and appends the files of one run directory."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)

    def path(self, name: str) -> Path:
        """Path of a file in the run directory."""
        return self.dir / name

    def exists(self) -> bool:
        """Whether the run directory has a manifest."""
        return (self.dir / MANIFEST).exists()

    def discard_if_empty(self) -> bool:
        """Remove the run directory if it holds nothing but a manifest; returns whether it did.

        Used when a stage fails before writing any record into a directory it created, so
        that bad input never leaves a half-made run behind.
        """
        if not self.dir.is_dir():
            return False
        entries = list(self.dir.iterdir())
        allowed = {MANIFEST}
        if any(p.name not in allowed and not p.name.startswith(f".{MANIFEST}.") for p in entries):
            return False
        if any(p.is_dir() for p in entries):
            return False
        for entry in entries:
            entry.unlink(missing_ok=True)
        self.dir.rmdir()
        return True

    @contextmanager
    def claim(self) -> Iterator[None]:
        """Run a block that may create this directory; if it fails, undo an empty creation."""
        fresh = not self.dir.exists()
        try:
            yield
        except BaseException:
            if fresh:
                self.discard_if_empty()
            raise

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, or {} when there is none."""
        path = self.dir / MANIFEST
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path}: manifest is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: manifest is not a JSON object")
        return data

    def update_manifest(self, **sections: Any) -> dict[str, Any]:
        """Merge top-level sections into the manifest and write it atomically."""
        manifest = self.read_manifest()
        manifest.update(sections)
        write_json_atomic(self.dir / MANIFEST, manifest)
        return manifest

    def _complete_lines(self, path: Path) -> tuple[list[tuple[int, str]], int]:
        """Complete lines (number, text) and the byte length they cover."""
        if not path.exists():
            return [], 0
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1  # bytes after the last newline are an interrupted write
        lines = data[:end].decode("utf-8").splitlines()
        return [(i + 1, line) for i, line in enumerate(lines) if line.strip()], end

    def read(self, cls: type[R]) -> list[R]:
        """All records of a type, first occurrence of each key kept, in file order."""
        path = self.dir / cls.FILE
        records: list[R] = []
        seen: set[tuple[Any, ...]] = set()
        for number, line in self._complete_lines(path)[0]:
            try:
                record = cls.from_dict(json.loads(line))
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not a valid {cls.__name__} ({exc})") from exc
            if record.key() not in seen:
                seen.add(record.key())
                records.append(record)
        return records

    def keys(self, cls: type[R]) -> set[tuple[Any, ...]]:
        """The keys of the records already written."""
        return {record.key() for record in self.read(cls)}

    def append(self, records: Iterable[Record]) -> int:
        """Append records (grouped by file) as whole lines; returns how many were written."""
        by_file: dict[str, list[str]] = {}
        for record in records:
            line = json.dumps(record.to_dict(), ensure_ascii=False, default=str)
            by_file.setdefault(record.FILE, []).append(line + "\n")
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, lines in by_file.items():
            path = self.dir / name
            _, good_end = self._complete_lines(path)
            with path.open("ab") as handle:
                if path.stat().st_size > good_end:
                    handle.truncate(good_end)  # drop a line cut short by an earlier kill
                handle.write("".join(lines).encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        return sum(len(lines) for lines in by_file.values())
