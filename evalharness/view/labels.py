"""Human labels of a run (``labels.jsonl``), read tolerantly for display next to the judge.

A label line is a JSON object with a ``prompt_id`` and a ``verdict`` naming the better model
(``"tuned"``, ``"base"``) or ``"tie"``. A blind slot choice (``"A"``/``"B"``, in ``verdict`` or
``choice``) is mapped back through the role shown in slot A (``slot_a``, or ``shown_order``
as a list or ``"tuned,base"``). Where an annotator labeled a prompt more than once, the
highest ``revision`` (or else the last line) counts, and a skip or undo there leaves the
prompt unlabeled by that annotator. Lines that cannot be read are counted, not fatal: the
view shows what it can and says how many it left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABELS_FILE = "labels.jsonl"
#: human preference for the tuned answer, per verdict
VERDICT_VALUE = {"tuned": 1.0, "base": 0.0, "tie": 0.5}
NOT_A_LABEL = ("skip", "undo")
_OTHER = {"tuned": "base", "base": "tuned"}


@dataclass(frozen=True)
class HumanLabel:
    """One person's verdict on one prompt, mapped to model identity where possible."""

    prompt_id: str
    verdict: str  # "tuned" | "base" | "tie", or the raw verdict when it cannot be mapped
    annotator: str = ""
    note: str = ""

    @property
    def value(self) -> float | None:
        """Human preference for the tuned answer (1, 0.5, 0), or None for an unmapped verdict."""
        return VERDICT_VALUE.get(self.verdict)


@dataclass
class LabelSet:
    """The labels of a run by prompt id, and how many lines could not be read."""

    by_prompt: dict[str, list[HumanLabel]] = field(default_factory=dict)
    unreadable: int = 0
    present: bool = False


def _slot_a(row: dict[str, Any]) -> str | None:
    """The role shown in slot A, if the row says."""
    if isinstance(row.get("slot_a"), str):
        return str(row["slot_a"]).lower()
    for key in ("shown_order", "order", "slots"):
        value = row.get(key)
        if isinstance(value, str):
            value = [p for p in re.split(r"[^A-Za-z0-9_]+", value) if p]
        if isinstance(value, list) and len(value) == 2:
            return str(value[0]).lower()
    return None


def map_verdict(row: dict[str, Any]) -> str | None:
    """A label row's verdict in model terms; None when the row is a skip, an undo or empty."""
    raw = row.get("verdict")
    if raw is None:
        raw = row.get("choice")
    if not isinstance(raw, str) or not raw.strip():
        return None
    verdict = raw.strip().lower()
    if verdict in NOT_A_LABEL or str(row.get("choice", "")).lower() in NOT_A_LABEL:
        return None
    if verdict in VERDICT_VALUE:
        return verdict
    slot_a = _slot_a(row)
    if verdict in ("a", "b") and slot_a in _OTHER:
        return slot_a if verdict == "a" else _OTHER[slot_a]
    return raw.strip()


def read_labels(run_dir: str | Path) -> LabelSet:
    """The standing labels in ``RUN_DIR/labels.jsonl``; an empty set when there is no file."""
    path = Path(run_dir) / LABELS_FILE
    result = LabelSet()
    if not path.is_file():
        return result
    result.present = True
    data = path.read_bytes()
    latest: dict[tuple[str, str], tuple[int, int, dict[str, Any]]] = {}
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    # "\n" only, as every record file: U+2028, U+2029 and U+0085 are text inside a note
    for number, line in enumerate(complete.split("\n")):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("prompt_id"), str):
            result.unreadable += 1
            continue
        key = (row["prompt_id"], str(row.get("annotator") or ""))
        revision = row.get("revision")
        rank = (revision if isinstance(revision, int) else 0, number)
        if key not in latest or rank >= latest[key][:2]:
            latest[key] = (*rank, row)
    for (prompt_id, annotator), (_, _, row) in sorted(latest.items()):
        verdict = map_verdict(row)
        if verdict is None:
            continue
        label = HumanLabel(prompt_id, verdict, annotator, str(row.get("note") or ""))
        result.by_prompt.setdefault(prompt_id, []).append(label)
    return result
