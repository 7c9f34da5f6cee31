"""Markdown blocks and the sentences inside them, as character spans of the original text.

:func:`parse` splits a response into blocks (paragraphs, list items, headings, block quotes,
tables, rules and fenced code) and the paragraphs and list items into sentences. Code,
headings, quotes and tables hold no sentences: the rewriters leave them alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evalharness.text.markers import fenced_code_spans
from evalharness.text.sentences import sentence_spans

_RULE_LINE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_TABLE = re.compile(r"^[ \t]*\|")
_QUOTE = re.compile(r"^ {0,3}>")


@dataclass(frozen=True)
class Block:
    """One Markdown block: its kind and span; ``body`` is where its text starts."""

    kind: str  # paragraph | item | heading | quote | table | rule | code
    start: int
    end: int
    body: int  # where the text starts (after a list marker)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a paragraph or list item: its span and the index of its block."""

    start: int
    end: int
    block: int


@dataclass(frozen=True)
class Doc:
    """A parsed text: its blocks and sentences, in order."""

    text: str
    blocks: tuple[Block, ...]
    sentences: tuple[Sentence, ...]

    def block_of(self, sentence: Sentence) -> Block:
        """The block that holds ``sentence``."""
        return self.blocks[sentence.block]


def parse(text: str) -> Doc:
    """The blocks of ``text`` and the sentences of its paragraphs and list items."""
    blocks: list[Block] = []
    pos = 0
    for start, end in [*fenced_code_spans(text), (len(text), len(text))]:
        blocks.extend(_line_blocks(text, pos, start))
        if start < end:
            blocks.append(Block("code", start, end, start))
        pos = end
    sentences = [
        Sentence(start, end, index)
        for index, block in enumerate(blocks)
        if block.kind in ("paragraph", "item")
        for start, end in sentence_spans(text, block.body, block.end)
    ]
    return Doc(text, tuple(blocks), tuple(sentences))


def split_sentences(text: str) -> list[str]:
    """The sentences of the paragraphs and list items of ``text`` (code and headings excluded)."""
    doc = parse(text)
    return [text[s.start : s.end] for s in doc.sentences]


def _line_blocks(text: str, start: int, end: int) -> list[Block]:
    blocks: list[Block] = []
    open_block: Block | None = None
    offset = start
    for line in text[start:end].splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        indent = len(bare) - len(bare.lstrip())
        line_start, line_end = offset + indent, offset + len(bare)
        offset += len(line)
        kind = _line_kind(bare)
        if kind == "continuation" and open_block and open_block.kind in ("paragraph", "item"):
            open_block = Block(open_block.kind, open_block.start, line_end, open_block.body)
            continue
        if kind in ("table", "quote") and open_block and open_block.kind == kind:
            open_block = Block(kind, open_block.start, line_end, open_block.body)
            continue
        if open_block is not None:
            blocks.append(open_block)
            open_block = None
        if kind in ("blank", "rule", "heading"):
            if kind != "blank":
                blocks.append(Block(kind, line_start, line_end, line_start))
            continue
        item = _ITEM.match(bare) if kind == "item" else None
        body = offset - len(line) + item.end() if item else line_start
        kind = "paragraph" if kind == "continuation" else kind
        open_block = Block(kind, line_start, line_end, body)
    if open_block is not None:
        blocks.append(open_block)
    return blocks


def _line_kind(line: str) -> str:
    if not line.strip():
        return "blank"
    if _RULE_LINE.match(line):
        return "rule"
    if _HEADING.match(line):
        return "heading"
    if _ITEM.match(line):
        return "item"
    if _TABLE.match(line):
        return "table"
    if _QUOTE.match(line):
        return "quote"
    return "continuation"


def paragraph_gap(text: str) -> str:
    """The blank line between paragraphs, in the line endings ``text`` uses."""
    return "\r\n\r\n" if "\r\n" in text else "\n\n"


def append_paragraph(text: str, paragraph: str, gap: str) -> str:
    """Add a closing paragraph, outside any code block left open at the end."""
    spans = fenced_code_spans(text)
    if spans and spans[-1][1] == len(text) and not _closes_fence(text, spans[-1]):
        start = spans[-1][0]
        return f"{text[:start]}{paragraph}{gap}{text[start:]}"
    return f"{text.rstrip()}{gap}{paragraph}"


def _closes_fence(text: str, span: tuple[int, int]) -> bool:
    lines = text[span[0] : span[1]].rstrip("\n").splitlines()
    return len(lines) > 1 and set(lines[-1].strip()) == {lines[0].strip()[0]}
