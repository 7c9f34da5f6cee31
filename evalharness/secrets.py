"""Secrets of this process (API keys) and the one function that removes them from text.

A backend that reads a key registers it here; every file the harness writes and every
error it prints passes through :func:`scrub`, so a key that a server echoes back never
reaches a record, a manifest, an analysis, a report or the terminal.
"""

from __future__ import annotations

import json
import threading

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary text

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def register(value: str | None) -> None:
    """Remember a secret value (and its JSON-escaped form) for :func:`scrub`."""
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _LOCK:
        _SECRETS.add(value)
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if escaped != value:
            _SECRETS.add(escaped)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first)."""
    if not _SECRETS:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def forget_all() -> None:
    """Forget every registered secret (tests)."""
    with _LOCK:
        _SECRETS.clear()
