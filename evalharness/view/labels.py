"""Human labels of a run (``labels.jsonl``), read tolerantly for display next to the judge.

A label line is a JSON object with a ``prompt_id`` and a ``verdict``. The verdict names the
better model (``"tuned"``, ``"base"``) or ``"tie"``; a blind slot verdict (``"A"``/``"B"``) is
mapped back through the line's ``shown_order`` (the roles shown in slots A and B, as a list or
as ``"tuned,base"``). Lines that cannot be read, skipped items and unknown verdicts are counted,
not fatal: the view shows what it can and says how many it left out.
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
_ORDER_KEYS = ("shown_order", "order", "slots")


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
    """The labels of a run by prompt id, and how many lines were left out."""

    by_prompt: dict[str, list[HumanLabel]] = field(default_factory=dict)
    unreadable: int = 0
    present: bool = False


def _slots(row: dict[str, Any]) -> list[str] | None:
    for key in _ORDER_KEYS:
        value = row.get(key)
        if isinstance(value, list) and len(value) == 2:
            return [str(v).lower() for v in value]
        if isinstance(value, str):
            parts = [p for p in re.split(r"[^A-Za-z0-9_]+", value.lower()) if p]
            if len(parts) == 2:
                return parts
    return None


def map_verdict(row: dict[str, Any]) -> str | None:
    """The verdict of a label row in model terms; None for a skipped item or no verdict."""
    raw = row.get("verdict")
    if not isinstance(raw, str) or not raw.strip():
        return None
    verdict = raw.strip().lower()
    if verdict == "skip":
        return None
    if verdict in VERDICT_VALUE:
        return verdict
    slots = _slots(row)
    if verdict in ("a", "b") and slots is not None:
        role = slots[0 if verdict == "a" else 1]
        if role in VERDICT_VALUE:
            return role
    return raw.strip()


def read_labels(run_dir: str | Path) -> LabelSet:
    """The labels in ``RUN_DIR/labels.jsonl``; an empty set when there is no such file."""
    path = Path(run_dir) / LABELS_FILE
    result = LabelSet()
    if not path.is_file():
        return result
    result.present = True
    data = path.read_bytes()
    for line in data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            result.unreadable += 1
            continue
        prompt_id = row.get("prompt_id") if isinstance(row, dict) else None
        verdict = map_verdict(row) if isinstance(row, dict) else None
        if not isinstance(prompt_id, str) or verdict is None:
            result.unreadable += 1
            continue
        label = HumanLabel(
            prompt_id=prompt_id,
            verdict=verdict,
            annotator=str(row.get("annotator") or ""),
            note=str(row.get("note") or ""),
        )
        result.by_prompt.setdefault(prompt_id, []).append(label)
    return result
