"""``evalharness cache info`` and ``evalharness cache prune``: the result cache's folder."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from evalharness.commands.common import handle_errors
from evalharness.errors import ConfigError

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)(?:i?B)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
KINDS = ("generation", "judgment")


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` as a timedelta (ConfigError otherwise)."""
    found = _AGE.match(text.strip())
    if not found:
        raise ConfigError(f"--older-than {text!r}: give a number and a unit s, m, h, d or w (30d)")
    return timedelta(seconds=float(found.group(1)) * _AGE_UNITS[found.group(2)])


def parse_size(text: str) -> int:
    """``2G``, ``500M``, ``10K``, ``123`` (bytes) as bytes (ConfigError otherwise)."""
    found = _SIZE.match(text.strip())
    if not found:
        raise ConfigError(f"--max-bytes {text!r}: give a number of bytes or K, M, G, T (2G)")
    return int(float(found.group(1)) * _SIZE_UNITS[found.group(2).upper()])


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _cache(cache_dir: str | None) -> Any:
    from evalharness.cache import ResultCache

    return ResultCache(cache_dir)


cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help="The result cache's folder [default: $EVALHARNESS_RESULTS_CACHE, else results/ in "
    "the model cache].",
)


@click.group()
def cache() -> None:
    """The result cache: generations and judgments reused across runs."""


@cache.command("info")
@cache_dir_option
@handle_errors
def info(cache_dir: str | None) -> None:
    """Entries, bytes, per kind, and the oldest and newest use."""
    found = _cache(cache_dir).info()
    click.echo(f"cache: {found.root}")
    click.echo(f"entries: {found.entries} ({_size(found.bytes)})")
    for kind, numbers in found.by_kind.items():
        click.echo(f"  {kind}: {numbers.entries} ({_size(numbers.bytes)})")
    click.echo(f"oldest use: {_when(found.oldest)}  newest use: {_when(found.newest)}")


@cache.command("prune")
@cache_dir_option
@click.option("--older-than", help="Remove entries unused for longer than this (30d, 12h).")
@click.option("--max-bytes", help="Then remove the least recently used until this fits (2G).")
@click.option("--kind", help="Only entries of this kind: generation or judgment.")
@handle_errors
def prune(
    cache_dir: str | None, older_than: str | None, max_bytes: str | None, kind: str | None
) -> None:
    """Remove old entries, then the least recently used beyond a size."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: must be {' or '.join(KINDS)}")
    if older_than is None and max_bytes is None:
        raise ConfigError("cache prune needs --older-than or --max-bytes (or both)")
    age = parse_age(older_than) if older_than is not None else None
    size = parse_size(max_bytes) if max_bytes is not None else None
    done = _cache(cache_dir).prune(older_than=age, max_bytes=size, kind=kind)
    click.echo(
        f"removed {done.removed} entries ({_size(done.freed_bytes)}); "
        f"{done.entries} left ({_size(done.bytes)})"
    )
