"""What a rule-based rewriter is, and the random stream each variant draws from."""

from __future__ import annotations

import hashlib
import random
from typing import Protocol

from evalharness.text.rules import ProbeRules


class Rewriter(Protocol):
    """Rewrites a response into the variants of one bias (e.g. padded and shortened)."""

    kinds: tuple[str, ...]

    def rewrite(
        self, kind: str, response: str, instruction: str, rules: ProbeRules, seed: int, key: str
    ) -> str:
        """The ``kind`` variant of a non-empty ``response``; deterministic in its arguments."""
        ...


def variant_rng(seed: int, key: str, kind: str) -> random.Random:
    """The random stream of one (seed, response key, variant kind)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}\x1f{kind}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
