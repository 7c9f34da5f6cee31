"""Human label records (``labels.jsonl``) and the state they add up to.

A label is never edited in place: every key press that decides something appends a record,
and the latest revision of a (prompt, annotator) pair is what counts. ``undo`` appends a
revision whose ``choice`` is ``"undo"`` (the item is unlabeled again); ``skip`` appends one
whose choice is ``"skip"``. So the file is the full history, resumable and never lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

from evalharness.records import SCHEMA_VERSION, Record

VERDICTS = ("A", "B", "tie")  # choices that are labels
CHOICES = (*VERDICTS, "skip", "undo")
ROLES = ("tuned", "base")


@dataclass
class LabelRecord(Record):
    """One annotator's decision on one blind pair (slot A / slot B) of a run's prompt."""

    FILE: ClassVar[str] = "labels.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ("prompt_id", "annotator", "revision")

    prompt_id: str
    annotator: str
    revision: int  # 0, 1, 2...: the highest revision of (prompt_id, annotator) counts
    slot_a: str  # the model role shown in slot A: "tuned" | "base" (B shows the other)
    choice: str  # what was chosen: "A" | "B" | "tie" | "skip" | "undo"
    verdict: str | None  # the choice mapped back to a model: "tuned" | "base" | "tie" | None
    note: str = ""
    scores: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> criterion -> 1..5
    seconds: float = 0.0  # time spent on the item before deciding
    created: str = ""  # UTC time, ISO 8601
    source: str = "annotate"  # "annotate" or "import:<file name>"
    random: bool = True  # in the uniformly random sample (False: a flagged extra item)
    seed: int = 0  # the seed that shuffled the slots
    schema_version: int = SCHEMA_VERSION


def other(role: str) -> str:
    """The other model role."""
    return "base" if role == "tuned" else "tuned"


def verdict_for(choice: str, slot_a: str) -> str | None:
    """Map a slot choice back to a model role ("tie" stays "tie"; skip and undo give None)."""
    if choice == "A":
        return slot_a
    if choice == "B":
        return other(slot_a)
    if choice == "tie":
        return "tie"
    return None


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def latest(records: list[LabelRecord]) -> dict[tuple[str, str], LabelRecord]:
    """(prompt_id, annotator) -> the record with the highest revision."""
    out: dict[tuple[str, str], LabelRecord] = {}
    for r in records:
        key = (r.prompt_id, r.annotator)
        if key not in out or r.revision > out[key].revision:
            out[key] = r
    return out


def standing(records: list[LabelRecord]) -> list[LabelRecord]:
    """The labels that count: the latest revision of each pair, when it is A, B or tie."""
    return [r for r in latest(records).values() if r.choice in VERDICTS]


def human_value(verdict: str | None) -> float | None:
    """A verdict as the tuned model's win: 1 tuned, 0.5 tie, 0 base."""
    return {"tuned": 1.0, "tie": 0.5, "base": 0.0}.get(verdict or "")
