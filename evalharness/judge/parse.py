"""Turning a judge's output into a verdict: distributions and, in text mode, the last verdict."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence


def parse_last_verdict(text: str, choices: Sequence[str]) -> str | None:
    """The last choice that stands alone as a word in ``text``, or None.

    ``"Score: 4"`` → ``"4"``; ``"3/5"`` → ``"3"``; ``"4.5"`` and ``"10"`` hold no verdict
    among ``1..5``; ``"A is better than B. Verdict: A"`` → ``"A"``.
    """
    options = sorted({c for c in choices if c}, key=len, reverse=True)
    if not options or not text:
        return None
    alternation = "|".join(re.escape(c) for c in options)
    pattern = re.compile(rf"(?<![\w/])(?<!\d\.)(?:{alternation})(?!\w)(?!\.\d)")
    matches = pattern.findall(text)
    return matches[-1] if matches else None


def normalized(probs: Mapping[str, float]) -> dict[str, float]:
    """Probabilities renormalised over the choices ({} when they carry no mass)."""
    total = sum(probs.values())
    if total <= 0:
        return {}
    return {k: v / total for k, v in probs.items()}


def expected_score(probs: Mapping[str, float]) -> float | None:
    """Sum s * p(s) / sum p(s) over numeric choices, or None without mass."""
    norm = normalized(probs)
    if not norm:
        return None
    return sum(float(k) * v for k, v in norm.items())


def argmax_choice(probs: Mapping[str, float]) -> str | None:
    """The most probable choice, or None without mass."""
    if not probs or sum(probs.values()) <= 0:
        return None
    return max(probs, key=lambda k: probs[k])
