"""Markdown density: the markdown covariate of style-controlled ratings.

Counts headers, list items, bold spans and table rows in prose (fenced and inline code are
skipped), per 100 words, the same unit as ``markers.confidence_density``.
"""

from __future__ import annotations

import re

from evalharness.text.markers import prose_only, word_count

_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.MULTILINE)


def markdown_counts(text: str) -> dict[str, int]:
    """Headers, list items, bold spans and table rows in the prose of ``text``."""
    prose = prose_only(text)
    return {
        "headers": len(_HEADER.findall(prose)),
        "list_items": len(_LIST_ITEM.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
        "table_rows": len(_TABLE_ROW.findall(prose)),
    }


def markdown_density(text: str) -> float:
    """Markdown elements per 100 words; 0.0 for text without words."""
    words = word_count(text)
    if words == 0:
        return 0.0
    return 100.0 * sum(markdown_counts(text).values()) / words
