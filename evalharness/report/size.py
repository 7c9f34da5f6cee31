"""Keep report.md under GitHub's comment limit by shortening its examples, never its numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from evalharness.analysis.model import Analysis

MARKDOWN_LIMIT = 65_536
"""Characters GitHub accepts in a comment (report.md is often posted as one)."""

EXAMPLE_TEXT_CHARS = 2_000
CUT_MARK = " … [cut: the full text is in report.html]"
NOTE = (
    "> Examples were shortened to keep this report under GitHub's 65,536-character limit; "
    "report.html has them in full."
)


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + CUT_MARK if len(text) > limit else text


def _with_examples(analysis: Analysis, count: int, limit: int) -> Analysis:
    examples = [
        replace(
            example,
            prompt=_shorten(example.prompt, limit),
            responses={k: _shorten(v, limit) for k, v in example.responses.items()},
        )
        for example in analysis.examples[:count]
    ]
    return replace(analysis, examples=examples)


def fit_markdown(
    analysis: Analysis, render: Callable[[Analysis], str], limit: int = MARKDOWN_LIMIT
) -> str:
    """``render(analysis)``, with its examples shortened, then fewer, until under ``limit``."""
    markdown = render(analysis)
    if len(markdown) < limit:
        return markdown
    room = limit - len(NOTE) - 2
    count = len(analysis.examples)
    text_limit = EXAMPLE_TEXT_CHARS
    while True:
        markdown = render(_with_examples(analysis, count, text_limit))
        if len(markdown) < room:
            return f"{markdown.rstrip()}\n\n{NOTE}\n"
        if text_limit > 200:
            text_limit //= 2
        elif count > 0:
            count //= 2
        else:
            break
    # Even without examples the report is too long (huge names or warnings): cut it.
    return f"{markdown[: room - 1].rstrip()}\n\n{NOTE}\n"
