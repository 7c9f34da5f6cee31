"""Word counts and confidence-marker density, the covariates of the length and confidence probes.

Markers are counted in prose only: fenced code blocks and inline code are skipped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from evalharness.text.rules import ProbeRules

_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_TRAILING_PUNCT = ",;:.!? \t"
_TRAILING_CONJUNCTION = re.compile(r"[\s,]+(?:but|and)$", re.IGNORECASE)


def word_count(text: str) -> int:
    """Number of words in ``text`` (runs of letters/digits; ``don't`` and ``3.14`` are one)."""
    return len(_WORD.findall(text))


def fenced_code_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of fenced code blocks (``` or ~~~), fences included.

    An unclosed fence runs to the end of the text.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    open_at: int | None = None
    fence = ""
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if open_at is None:
            match = _FENCE_OPEN.match(bare)
            if match:
                open_at, fence = offset, match.group(1)
        elif bare.strip().startswith(fence) and set(bare.strip()) == {fence[0]}:
            spans.append((open_at, offset + len(bare)))
            open_at = None
        offset += len(line)
    if open_at is not None:
        spans.append((open_at, len(text)))
    return spans


def inline_code_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of inline code (`` `...` ``) within ``text[start:end]``."""
    end = len(text) if end is None else end
    return [m.span() for m in _INLINE_CODE.finditer(text, start, end)]


def prose_only(text: str) -> str:
    """``text`` with fenced and inline code replaced by spaces."""
    chars = list(text)
    for start, end in fenced_code_spans(text):
        chars[start:end] = " " * (end - start)
    masked = "".join(chars)
    return _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), masked)


def phrase_regex(phrase: str) -> str:
    """A regex for ``phrase``: any whitespace between words, either apostrophe, word boundaries."""
    parts: list[str] = []
    for char in phrase:
        if char.isspace():
            if not parts or parts[-1] != r"\s+":
                parts.append(r"\s+")
        elif char in "'’":
            parts.append("['’]")
        else:
            parts.append(re.escape(char))
    return r"(?<![\w'’])" + "".join(parts) + r"(?![\w'’])"


@lru_cache(maxsize=64)
def _alternation(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile("|".join(phrase_regex(p) for p in ordered), re.IGNORECASE)


def _marker_phrases(items: tuple[str, ...]) -> tuple[str, ...]:
    """Lower-cased phrases without trailing punctuation or a trailing ``but``/``and``."""
    cleaned = (_TRAILING_CONJUNCTION.sub("", item.strip(_TRAILING_PUNCT)) for item in items)
    return tuple(sorted({item.strip(_TRAILING_PUNCT).lower() for item in cleaned} - {""}))


def certainty_phrases(rules: ProbeRules) -> tuple[str, ...]:
    """Lower-cased phrases counted as certainty markers."""
    return _marker_phrases(rules.certainty_openers + rules.certainty_adverbs)


def hedge_phrases(rules: ProbeRules) -> tuple[str, ...]:
    """Lower-cased phrases counted as hedge markers (and removed by the assertive variant)."""
    hedges = tuple(phrase for phrase, _ in rules.hedges)
    return _marker_phrases(hedges + rules.hedge_openers + rules.hedge_adverbs)


def count_phrases(text: str, phrases: tuple[str, ...]) -> int:
    """Non-overlapping case-insensitive matches of ``phrases`` (longest first) in ``text``."""
    if not phrases or not text:
        return 0
    return sum(1 for _ in _alternation(phrases).finditer(text))


def marker_counts(text: str, rules: ProbeRules) -> dict[str, int]:
    """Certainty and hedge markers in the prose of ``text``, and its word count."""
    prose = prose_only(text)
    return {
        "certainty": count_phrases(prose, certainty_phrases(rules)),
        "hedge": count_phrases(prose, hedge_phrases(rules)),
        "words": word_count(text),
    }


def confidence_density(text: str, rules: ProbeRules) -> float:
    """(certainty markers - hedge markers) per 100 words; 0.0 for text without words."""
    counts = marker_counts(text, rules)
    if counts["words"] == 0:
        return 0.0
    return 100.0 * (counts["certainty"] - counts["hedge"]) / counts["words"]
