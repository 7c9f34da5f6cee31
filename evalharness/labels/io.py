"""Blind label sheets: export a run's label sample as CSV, import labels from CSV or JSONL.

The sheet shows slot A and slot B in the sample's shuffled order and never names a model;
the key (which model is in slot A) stays in the run directory (``labels_sample.json``).
An import checks every row before writing anything: an unknown prompt id, a bad verdict, a
bad score or a duplicate is an error naming the file and line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.jsonl import read_objects
from evalharness.labels.records import LabelRecord, latest, now, other, verdict_for
from evalharness.labels.sample import Sample, append_labels, pairs_of, shown_texts
from evalharness.resources import read_text
from evalharness.runstore import RunStore, write_text_atomic

COLUMNS = ("item", "prompt_id", "instruction", "response_A", "response_B", "verdict", "note")
VERDICT_WORDS = {"a": "A", "b": "B", "tie": "tie", "t": "tie", "=": "tie"}


def export_sheet(store: RunStore, sample: Sample, path: Path, criteria: list[str]) -> int:
    """Write the blind CSV sheet of the sample's items; returns the number of rows."""
    pairs = pairs_of(store)
    header = [*COLUMNS, "annotator"]
    for c in criteria:
        header += [f"A_{c}", f"B_{c}"]
    rows = []
    for number, item in enumerate(sample.items, 1):
        shown = shown_texts(pairs[item.prompt_id])
        rows.append(
            [
                str(number),
                item.prompt_id,
                shown["prompt"],
                shown[item.slot_a],
                shown[other(item.slot_a)],
            ]
            + [""] * (len(header) - 5)
        )
    from io import StringIO

    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
    return len(rows)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did."""

    written: int
    blank: int  # rows without a verdict (left unlabeled)
    annotators: list[str]


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or JSONL file."""
    if path.suffix.lower() != ".csv":
        return read_objects(path, "labels file")
    text = read_text(path, "labels file")
    rows: list[tuple[int, dict[str, Any]]] = []
    # csv splits rows itself: U+2028, U+2029 and U+0085 stay text inside a cell
    reader = csv.DictReader(io.StringIO(text, newline=""))
    start = 2
    try:
        for row in reader:
            rows.append((start, dict(row)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if reader.fieldnames is None or "prompt_id" not in reader.fieldnames:
        raise ConfigError(f"{path}:1: the header has no 'prompt_id' column")
    return rows


def _score(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        score = int(str(value).strip())
    except ValueError:
        score = 0
    if score not in range(1, 6) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{where}: a score must be an integer 1-5, got {value!r}")
    return score


def parse_rows(
    path: Path, sample: Sample, annotator: str, criteria: list[str], existing: list[LabelRecord]
) -> tuple[list[LabelRecord], int]:
    """Check every row and build its record, writing nothing; returns (records, blanks)."""
    current = latest(existing)
    seen: dict[tuple[str, str], int] = {}
    records: list[LabelRecord] = []
    blank = 0
    for number, row in _rows(path):
        where = f"{path}:{number}"
        prompt_id = str(row.get("prompt_id") or "").strip()
        item = sample.item(prompt_id)
        if item is None:
            raise ConfigError(f"{where}: unknown prompt id {prompt_id!r} (not in the label sample)")
        raw = str(row.get("verdict") or "").strip()
        if not raw:
            blank += 1
            continue
        choice = VERDICT_WORDS.get(raw.lower())
        if choice is None:
            raise ConfigError(f"{where}: bad verdict {raw!r} (use A, B or tie)")
        who = str(row.get("annotator") or "").strip() or annotator
        key = (prompt_id, who)
        if key in seen:
            raise ConfigError(
                f"{where}: duplicate label for {prompt_id!r} by {who!r} (first at line {seen[key]})"
            )
        seen[key] = number
        before = current.get(key)
        if before is not None and before.choice in ("A", "B", "tie"):
            raise ConfigError(
                f"{where}: {prompt_id!r} is already labeled by {who!r} (labels.jsonl)"
            )
        scores: dict[str, dict[str, int]] = {}
        for c in criteria:
            for slot, role in (("A", item.slot_a), ("B", other(item.slot_a))):
                value = _score(row.get(f"{slot}_{c}"), f"{where}: {slot}_{c}")
                if value is not None:
                    scores.setdefault(role, {})[c] = value
        records.append(
            LabelRecord(
                prompt_id=prompt_id,
                annotator=who,
                revision=0 if before is None else before.revision + 1,
                slot_a=item.slot_a,
                choice=choice,
                verdict=verdict_for(choice, item.slot_a),
                note=str(row.get("note") or ""),
                scores=scores,
                created=now(),
                source=f"import:{path.name}",
                random=item.random,
                seed=sample.seed,
            )
        )
    return records, blank


def import_labels(
    store: RunStore, sample: Sample, path: Path, annotator: str, criteria: list[str]
) -> ImportSummary:
    """Check a labels file completely, then append its labels to labels.jsonl."""
    records, blank = parse_rows(path, sample, annotator, criteria, store.read(LabelRecord))
    written = append_labels(store, records) if records else 0
    return ImportSummary(written, blank, sorted({r.annotator for r in records}))
