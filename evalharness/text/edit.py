"""Editing helpers: span replacements, inline code kept out of reach, phrases removed cleanly.

:func:`remove_phrases` deletes (or replaces) listed phrases and mends the commas around
them; :func:`tidy` cleans the spaces and punctuation an edit leaves behind. Inline code is
masked first (:func:`mask`) so that no edit reaches into it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from evalharness.text.markers import inline_code_spans, phrase_regex
from evalharness.text.rules import PhraseRule

_CLAUSE_START = (
    "the|a|an|it|its|this|these|those|there|you|your|we|our|they|their|he|she|his|her|i|my|"
    "most|all|some|each|every|no|any|one|many|such"
)
_PLACEHOLDER = 0xE100


def apply(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, replacement)`` applied (spans of the original text)."""
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def mask(text: str, start: int, end: int) -> tuple[str, list[str]]:
    """``text[start:end]`` with each inline code span replaced by one private-use character."""
    codes: list[str] = []
    pieces = []
    pos = start
    for code_start, code_end in inline_code_spans(text, start, end):
        pieces.append(text[pos:code_start])
        pieces.append(chr(_PLACEHOLDER + len(codes)))
        codes.append(text[code_start:code_end])
        pos = code_end
    pieces.append(text[pos:end])
    return "".join(pieces), codes


def unmask(text: str, codes: list[str]) -> str:
    """Put back the inline code that :func:`mask` took out."""
    for index, code in enumerate(codes):
        text = text.replace(chr(_PLACEHOLDER + index), code)
    return text


def normalize(phrase: str) -> str:
    """A phrase lower-cased, with straight apostrophes and single spaces."""
    return " ".join(phrase.lower().replace("’", "'").split())


@lru_cache(maxsize=32)
def _phrase_matcher(pairs: tuple[PhraseRule, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    ordered = sorted({p for p, _ in pairs}, key=lambda p: (-len(p), p))
    alternation = "|".join(phrase_regex(p) for p in ordered)
    pattern = re.compile(
        rf"(?P<pre>,[ \t]*)?(?P<core>{alternation})"
        rf"(?P<that>[ \t]+that(?=[ \t]+(?:{_CLAUSE_START})(?![\w'’])))?(?P<post>[ \t]*,)?",
        re.IGNORECASE,
    )
    return pattern, {normalize(p): r for p, r in pairs}


def remove_phrases(text: str, pairs: tuple[PhraseRule, ...]) -> str:
    """Delete (or replace) each phrase, mending the commas around it."""
    if not pairs:
        return text
    pattern, replacements = _phrase_matcher(pairs)

    def replace(match: re.Match[str]) -> str:
        pre, post = match.group("pre") or "", match.group("post") or ""
        replacement = replacements.get(normalize(match.group("core")), "")
        if replacement:
            if match.group("core")[0].isupper():
                replacement = replacement[0].upper() + replacement[1:]
            return pre + replacement + (match.group("that") or "") + post
        if pre and post:
            return " "
        if pre:
            following = match.string[match.end() :].lstrip()
            return "" if not following or following[0] in ".!?;:" else pre
        return ""

    return pattern.sub(replace, text)


def tidy(text: str) -> str:
    """Collapse the double spaces, stray commas and dangling conjunctions an edit left."""
    text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)
    text = re.sub(r"[ \t]+(?=[,.;:!?])", "", text)
    text = re.sub(r",(?:[ \t]*,)+", ",", text)
    text = re.sub(r"([.;:!?])[ \t]*,", r"\1", text)
    text = re.sub(r",(?=[.!?;:])", "", text)
    text = re.sub(r",?[ \t]+(?:but|and|or|so)(?=[.!?;:])", "", text)
    return text.lstrip(" \t,")
