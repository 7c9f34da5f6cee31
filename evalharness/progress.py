"""Progress on stderr: a rich bar on a terminal, a plain line every few seconds elsewhere.

CI logs are not terminals: there each stage prints ``judge pointwise: 120/400 judgments, 35 s``
every ``LINE_INTERVAL`` seconds (and its final count at its end, when it printed any), so a
long run is not silent until its summary. The verbosity (set by the command line) silences both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
QUIET, NORMAL, VERBOSE = -1, 0, 1
LINE_INTERVAL = 5.0
"""Seconds between two plain progress lines of a stage (non-terminal stderr)."""
_state = {"verbosity": NORMAL}


def set_verbosity(level: int) -> None:
    """QUIET (only errors and the verdict), NORMAL, or VERBOSE (per-stage detail)."""
    _state["verbosity"] = level
    console.quiet = level <= QUIET


def verbosity() -> int:
    """The level set by :func:`set_verbosity` (NORMAL unless the command line changed it)."""
    return _state["verbosity"]


def unit_of(description: str) -> str:
    """What a stage counts: answers when generating, judgments otherwise."""
    return "answers" if description.startswith(("generate", "rewrite")) else "judgments"


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback for a bar of ``total`` items."""
    if total <= 0 or console.quiet:
        yield lambda _n: None
    elif not console.is_terminal:
        with progress_lines(description, total, every=verbosity() >= VERBOSE) as advance:
            yield advance
    else:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


@contextmanager
def progress_lines(
    description: str, total: int, every: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; print a plain count line at most every ``LINE_INTERVAL`` seconds.

    ``every`` (--verbose): also a line when the stage starts and one when it ends, however
    quick it is.
    """
    started = time.monotonic()
    state = {"done": 0, "last": started, "printed": -1}

    def line() -> None:
        seconds = time.monotonic() - started
        console.print(
            f"{description}: {state['done']}/{total} {unit_of(description)}, {seconds:.0f} s",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        state["printed"] = state["done"]

    def advance(n: int) -> None:
        state["done"] += n
        now = time.monotonic()
        if now - state["last"] >= LINE_INTERVAL:
            state["last"] = now
            line()

    if every:
        line()
    yield advance
    if 0 <= state["printed"] < state["done"]:
        line()
