"""The only place that reads and writes run files.

A run directory holds ``manifest.json`` and one JSONL file per record type. Appends are
whole lines written with one ``write`` and flushed to disk; a line cut short by a kill is
ignored on read and cut off before the next append, so a record is never half-written and
an interrupted stage loses at most the batch in flight.

Lines are split on ``\n`` only (a record may hold U+2028 or U+0085), and a lone surrogate is
written as its JSON escape, so every Python string round-trips. One process at a time writes
a run directory: :meth:`RunStore.lock` holds an exclusive lock on ``.lock`` for the whole
command; the kernel drops it when its holder dies, so a killed run's lock is taken over.
Everything written here passes through :func:`evalharness.secrets.scrub`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from evalharness.errors import ConfigError
from evalharness.records import GenerationRecord, Record
from evalharness.secrets import scrub

R = TypeVar("R", bound=Record)

MANIFEST = "manifest.json"
LOCK = ".lock"
LOCK_INFO = ".lock.json"

_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps_line(data: Any) -> str:
    """One JSON line: non-ASCII kept readable, lone surrogates escaped (valid UTF-8 always)."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _dumps_doc(data: Any) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _os_error(path: Path, exc: OSError, doing: str) -> ConfigError:
    return ConfigError(f"{path}: cannot {doing} ({exc.strerror or exc})")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    write_text_atomic(path, _dumps_doc(data) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file and a rename (secrets scrubbed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise _os_error(path, exc, "write") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(scrub(text))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _os_error(path, exc, "write") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def retryable(record: Record) -> bool:
    """Whether a record is a failure worth another try on a rerun.

    Server and backend failures (an HTTP error, a timeout, a refused connection) are; a
    judge that answered without a readable verdict (``raw_text`` kept) is data, and an item
    skipped for its input (``skipped: ...``, a prompt longer than the context) would only
    fail again: neither is retried.
    """
    error = str(getattr(record, "error", None) or "")
    return (
        bool(error)
        and not error.startswith("skipped:")  # decided by the input: the same again
        and getattr(record, "raw_text", None) is None
    )


def lock_holder(run_dir: Path) -> str:
    """Who holds a run directory's lock, in words (from its ``.lock.json``)."""
    try:
        info = json.loads((run_dir / LOCK_INFO).read_text(encoding="utf-8"))
        return (
            f"pid {info['pid']} on {info['host']}, started {info['started']}"
            f" ({info.get('command', '?')})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (no details recorded yet)"


class RunStore:
    """Reads and appends the files of one run directory.

    With ``retry_failed`` (the default), :meth:`keys` leaves out retryable failures so that
    stages try them again, and :meth:`read` prefers a later success over a failure of a key.
    """

    def __init__(self, run_dir: str | Path, *, retry_failed: bool = True) -> None:
        self.dir = Path(run_dir)
        self.retry_failed = retry_failed
        self._lock: Any = None

    def path(self, name: str) -> Path:
        """Path of a file in the run directory."""
        return self.dir / name

    def exists(self) -> bool:
        """Whether the run directory has a manifest."""
        return (self.dir / MANIFEST).exists()

    @contextmanager
    def lock(self, command: str = "") -> Iterator[None]:
        """Hold the run directory's exclusive lock; ConfigError naming the holder if taken.

        Creates the directory when needed. A lock left by a killed process is free again
        (the operating system releases it with the process), so it is simply taken.
        """
        from filelock import FileLock, Timeout

        if self._lock is not None:  # already held by this store
            yield
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.dir / LOCK), timeout=0)
            lock.acquire()
        except Timeout:
            raise ConfigError(
                f"{self.dir} is in use by {lock_holder(self.dir)}; wait for it to finish "
                "or use another run directory"
            ) from None
        except OSError as exc:
            raise _os_error(self.dir, exc, "create or lock the run directory") from exc
        self._lock = lock
        try:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": command,
            }
            write_json_atomic(self.dir / LOCK_INFO, info)
            yield
        finally:
            self._lock = None
            if self.dir.is_dir():
                (self.dir / LOCK_INFO).unlink(missing_ok=True)
            lock.release()

    def discard_if_empty(self) -> bool:
        """Remove the run directory if it holds nothing but a manifest; returns whether it did.

        Used when a stage fails before writing any record into a directory it created, so
        that bad input never leaves a half-made run behind.
        """
        if not self.dir.is_dir():
            return False
        entries = list(self.dir.iterdir())
        allowed = {MANIFEST, LOCK, LOCK_INFO}
        if any(
            p.name not in allowed and not p.name.startswith((f".{MANIFEST}.", f"{LOCK_INFO}."))
            for p in entries
        ):
            return False
        if any(p.is_dir() for p in entries):
            return False
        for entry in entries:
            entry.unlink(missing_ok=True)
        self.dir.rmdir()
        return True

    @contextmanager
    def claim(self, command: str = "") -> Iterator[None]:
        """Lock the directory for a block that may create it; on failure undo an empty creation.

        Only the process that holds the lock undoes anything, and it does so before it
        lets the lock go: a process refused by the lock never touches the directory.
        """
        fresh = not self.dir.exists()
        with self.lock(command):
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
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: manifest is not valid JSON ({exc})") from exc
        except OSError as exc:
            raise _os_error(path, exc, "read") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: manifest is not a JSON object")
        return data

    def update_manifest(self, **sections: Any) -> dict[str, Any]:
        """Merge top-level sections into the manifest and write it atomically."""
        manifest = self.read_manifest()
        manifest.update(sections)
        write_json_atomic(self.dir / MANIFEST, manifest)
        return manifest

    def _complete_lines(self, path: Path) -> tuple[list[tuple[int, bytes]], int]:
        """Complete lines (number, bytes) and the byte length they cover."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise _os_error(path, exc, "read") from exc
        end = data.rfind(b"\n") + 1  # bytes after the last newline are an interrupted write
        lines = data[:end].split(b"\n")[:-1]
        return [(i + 1, line) for i, line in enumerate(lines) if line.strip()], end

    def read(self, cls: type[R]) -> list[R]:
        """All records of a type, one per key, in file order of the key's first line.

        The first success of a key is kept; a failure is replaced by any later record of its
        key (a retry), so the newest error of a still-failing key is the one shown.
        """
        path = self.dir / cls.FILE
        records: dict[tuple[Any, ...], R] = {}
        for number, raw in self._complete_lines(path)[0]:
            where = f"{path}:{number}"
            try:
                data = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{where}: not a valid {cls.__name__} (not UTF-8 text: {exc.reason})"
                ) from exc
            except ValueError as exc:
                raise ConfigError(
                    f"{where}: not a valid {cls.__name__} (invalid JSON: {exc})"
                ) from exc
            if not isinstance(data, dict):
                raise ConfigError(
                    f"{where}: not a valid {cls.__name__} (a {type(data).__name__}, "
                    "not a JSON object)"
                )
            try:
                record = cls.from_dict(data)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{where}: not a valid {cls.__name__} ({exc})") from exc
            old = records.get(record.key())
            if old is None or getattr(old, "error", None):
                records[record.key()] = record
        return list(records.values())

    def keys(self, cls: type[R]) -> set[tuple[Any, ...]]:
        """The keys of the records already done (retryable failures left out when retrying)."""
        return {
            record.key()
            for record in self.read(cls)
            if not (self.retry_failed and retryable(record))
        }

    def append(self, records: Iterable[Record]) -> int:
        """Append records (grouped by file) as whole lines; returns how many were written."""
        by_file: dict[str, list[str]] = {}
        for record in records:
            by_file.setdefault(record.FILE, []).append(scrub(dumps_line(record.to_dict())) + "\n")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(self.dir, exc, "create the run directory") from exc
        for name, lines in by_file.items():
            path = self.dir / name
            _, good_end = self._complete_lines(path)
            try:
                with path.open("ab") as handle:
                    if path.stat().st_size > good_end:
                        handle.truncate(good_end)  # drop a line cut short by an earlier kill
                    handle.write("".join(lines).encode("utf-8"))
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                raise _os_error(path, exc, "append to") from exc
        return sum(len(lines) for lines in by_file.values())


def generations_by_prompt(store: RunStore) -> dict[str, dict[str, GenerationRecord]]:
    """Generation records indexed by prompt id, then role."""
    out: dict[str, dict[str, GenerationRecord]] = {}
    for record in store.read(GenerationRecord):
        out.setdefault(record.prompt_id, {})[record.role] = record
    return out
