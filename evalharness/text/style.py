"""Markdown density: the markdown covariate of style-controlled ratings.

Counts headings, list items and table rows (the blocks of :func:`evalharness.text.markdown.parse`)
and bold spans in prose (fenced and inline code skipped), per 100 words, the same unit as
:func:`evalharness.text.markers.confidence_density`.
"""

from __future__ import annotations

import re

from evalharness.text.markdown import parse
from evalharness.text.markers import prose_only, word_count

_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def markdown_counts(text: str) -> dict[str, int]:
    """Headings, list items, bold spans and table rows of ``text``, code excluded."""
    blocks = parse(text).blocks
    return {
        "headers": sum(1 for b in blocks if b.kind == "heading"),
        "list_items": sum(1 for b in blocks if b.kind == "item"),
        "bold": len(_BOLD.findall(prose_only(text))),
        "table_rows": sum(
            text[b.start : b.end].count("\n") + 1 for b in blocks if b.kind == "table"
        ),
    }


def markdown_density(text: str) -> float:
    """Markdown elements per 100 words; 0.0 for text without words."""
    words = word_count(text)
    if words == 0:
        return 0.0
    return 100.0 * sum(markdown_counts(text).values()) / words
