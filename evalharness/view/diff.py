"""Word-level differences between a response and its probe variant (difflib)."""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\s*\S+|\s+$")

#: one piece of a diff: ("equal" | "delete" | "insert", text)
Segment = tuple[str, str]


def word_diff(original: str, variant: str) -> list[Segment]:
    """The variant as pieces kept, deleted from the original, or inserted, word by word.

    Words are compared without their whitespace (each keeps the whitespace before it), so a
    rewritten phrase shows as one deletion and one insertion. Joining the "equal" and
    "insert" pieces gives back the variant exactly.
    """
    before, after = _TOKENS.findall(original), _TOKENS.findall(variant)
    matcher = difflib.SequenceMatcher(
        None, [t.strip() for t in before], [t.strip() for t in after], autojunk=False
    )
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _add(out, "equal", "".join(after[j1:j2]))
            continue
        if op in ("delete", "replace"):
            _add(out, "delete", "".join(before[i1:i2]))
        if op in ("insert", "replace"):
            _add(out, "insert", "".join(after[j1:j2]))
    return out


def _add(out: list[Segment], op: str, text: str) -> None:
    """Append a piece, merging it into the previous one of the same kind."""
    if not text:
        return
    if out and out[-1][0] == op:
        out[-1] = (op, out[-1][1] + text)
    else:
        out.append((op, text))


def changed_words(segments: list[Segment]) -> tuple[int, int]:
    """How many words the diff deletes and inserts."""
    deleted = sum(len(t.split()) for op, t in segments if op == "delete")
    inserted = sum(len(t.split()) for op, t in segments if op == "insert")
    return deleted, inserted
