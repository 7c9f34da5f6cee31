"""The result cache on disk: one JSON file per entry, written atomically.

Layout: ``<root>/v1/<kind>/<key[:2]>/<key>.json``, where ``<root>`` is the ``root`` given,
else ``$EVALHARNESS_RESULTS_CACHE``, else ``results/`` inside the model cache
(``$EVALHARNESS_CACHE``, else ``$XDG_CACHE_HOME/evalharness``, else ``~/.cache/evalharness``).

An entry file holds ``{"format", "kind", "key", "created", "meta", "value"}``; values are JSON
only (never pickle). Writes go to a temporary file in the entry's folder and are renamed into
place (``os.replace``), so a reader sees a whole entry or none, and two runs writing the same
key at once (the same content, since keys are content addresses) cannot corrupt it. A hit
refreshes the file's mtime, so pruning by age or size drops the least recently used entries.
Pruning holds a lock (``filelock``) so two prunes never race. An unreadable or malformed
entry is a miss with status ``"corrupt"`` and a one-line reason; it never raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from evalharness.cache.keys import canonical_json
from evalharness.modelstore import cache_dir

ROOT_ENV = "EVALHARNESS_RESULTS_CACHE"
LAYOUT = "v1"
ENTRY_FORMAT = 1
STALE_TEMP_SECONDS = 3600.0
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_KEY = re.compile(r"^[0-9a-f]{64}$")


def default_root() -> Path:
    """``$EVALHARNESS_RESULTS_CACHE``, else ``results/`` in the model cache folder."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser() if env else cache_dir() / "results"


@dataclass(frozen=True)
class Lookup:
    """The outcome of a lookup: ``hit`` (with ``value``), ``miss`` or ``corrupt`` (a miss)."""

    status: Literal["hit", "miss", "corrupt"]
    value: Any = None
    detail: str = ""

    @property
    def hit(self) -> bool:
        """Whether the entry was found and valid."""
        return self.status == "hit"


@dataclass(frozen=True)
class KindInfo:
    """Entries and bytes of one kind."""

    entries: int
    bytes: int


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds: totals, per kind, and the oldest and newest use (epoch s)."""

    root: Path
    entries: int
    bytes: int
    by_kind: dict[str, KindInfo] = field(default_factory=dict)
    oldest: float | None = None
    newest: float | None = None


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed and what is left (of the kind pruned, or of all kinds)."""

    removed: int
    freed_bytes: int
    entries: int
    bytes: int


@dataclass(frozen=True)
class _File:
    path: Path
    kind: str
    size: int
    mtime: float


class ResultCache:
    """A directory of content-addressed JSON entries (see the module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.problems: list[str] = []

    def path_for(self, kind: str, key: str) -> Path:
        """The file of entry ``key`` of ``kind``; raises ``ValueError`` for a bad kind or key."""
        if not _KIND.match(kind):
            raise ValueError(f"cache kind {kind!r}: lower-case letters, digits, - and _ only")
        if not _KEY.match(key):
            raise ValueError(f"cache key {key!r} is not a sha256 hex digest")
        return self.root / LAYOUT / kind / key[:2] / f"{key}.json"

    def lookup(self, kind: str, key: str) -> Lookup:
        """The entry ``key`` of ``kind``; a corrupt entry is reported in ``problems``."""
        path = self.path_for(kind, key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Lookup("miss")
        except (OSError, UnicodeDecodeError) as exc:
            return self._corrupt(path, f"unreadable ({exc.__class__.__name__})")
        try:
            entry = json.loads(text)
        except ValueError:
            return self._corrupt(path, "not valid JSON")
        if not isinstance(entry, dict) or "value" not in entry:
            return self._corrupt(path, "not a cache entry")
        if entry.get("format") != ENTRY_FORMAT or entry.get("kind") != kind:
            return self._corrupt(path, "wrong format or kind")
        if entry.get("key") != key:
            return self._corrupt(path, "key does not match the file name")
        with contextlib.suppress(OSError):
            os.utime(path)
        return Lookup("hit", entry["value"])

    def put(self, kind: str, key: str, value: Any, meta: dict[str, Any] | None = None) -> Path:
        """Store ``value`` (JSON only) under ``key``, atomically; returns the entry's path."""
        path = self.path_for(kind, key)
        entry = {"format": ENTRY_FORMAT, "kind": kind, "key": key, "created": time.time(),
                 "meta": meta or {}, "value": value}  # fmt: skip
        text = canonical_json(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return path

    def info(self) -> CacheInfo:
        """Entries, bytes, per-kind counts and the oldest and newest use."""
        files = self._files(None)
        by_kind: dict[str, KindInfo] = {}
        for item in files:
            old = by_kind.get(item.kind, KindInfo(0, 0))
            by_kind[item.kind] = KindInfo(old.entries + 1, old.bytes + item.size)
        mtimes = [item.mtime for item in files]
        return CacheInfo(
            root=self.root,
            entries=len(files),
            bytes=sum(item.size for item in files),
            by_kind=dict(sorted(by_kind.items())),
            oldest=min(mtimes) if mtimes else None,
            newest=max(mtimes) if mtimes else None,
        )

    def prune(
        self,
        older_than: timedelta | float | None = None,
        max_bytes: int | None = None,
        kind: str | None = None,
        now: float | None = None,
    ) -> PruneResult:
        """Remove entries unused for ``older_than`` (a timedelta or seconds), then the least
        recently used until at most ``max_bytes`` remain; only of ``kind`` when given.

        Stale temporary files of interrupted writes (over an hour old) go too.
        """
        if kind is not None and not _KIND.match(kind):
            raise ValueError(f"cache kind {kind!r}: lower-case letters, digits, - and _ only")
        now = time.time() if now is None else now
        age = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".prune.lock")):
            self._remove_stale_temps(now)
            files = sorted(self._files(kind), key=lambda f: f.mtime)
            keep: list[_File] = []
            removed = freed = 0
            for item in files:
                if age is not None and now - item.mtime > age:
                    removed, freed = removed + 1, freed + self._unlink(item)
                else:
                    keep.append(item)
            total = sum(item.size for item in keep)
            while max_bytes is not None and keep and total > max_bytes:
                item = keep.pop(0)
                total -= item.size
                removed, freed = removed + 1, freed + self._unlink(item)
        return PruneResult(removed=removed, freed_bytes=freed, entries=len(keep), bytes=total)

    def _corrupt(self, path: Path, reason: str) -> Lookup:
        detail = f"{path}: {reason}; treated as a miss"
        self.problems.append(detail)
        return Lookup("corrupt", detail=detail)

    def _files(self, kind: str | None) -> list[_File]:
        base = self.root / LAYOUT
        if not base.is_dir():
            return []
        kinds = [kind] if kind is not None else sorted(p.name for p in base.iterdir())
        found: list[_File] = []
        for name in kinds:
            for path in (base / name).glob("??/*.json"):
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found.append(_File(path, name, stat.st_size, stat.st_mtime))
        return found

    def _remove_stale_temps(self, now: float) -> None:
        for path in (self.root / LAYOUT).glob("*/??/.tmp-*.part"):
            try:
                if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                    path.unlink()
            except FileNotFoundError:
                continue

    @staticmethod
    def _unlink(item: _File) -> int:
        try:
            item.path.unlink()
        except FileNotFoundError:
            return 0
        return item.size
