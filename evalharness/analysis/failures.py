"""Failed records of a run, counted per stage and model, with the first errors.

A failure is a record with ``error`` set: a generation the model or server did not give,
a judgment without a usable verdict. Each is named by what it is (``HTTP 503``, ``timeout``,
``connection error``, ``no verdict``...), so a server outage is never read as a parse failure.
The share of failed records decides exit code 3 (``max_failure_share``, default 0).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, Record
from evalharness.runstore import RunStore

FIRST_ERRORS = 3
STAGE_NOUNS = {
    "generate": "generations",
    "judge pointwise": "pointwise judgments",
    "judge pairwise": "pairwise judgments",
    "bias pointwise": "pointwise judgments of probe variants",
    "bias pairwise": "pairwise judgments of probe variants",
}
ERROR_CHARS = 300

_KINDS = (
    (re.compile(r"^HTTP (\d{3})"), None),
    (re.compile(r"^timeout"), "timeout"),
    (re.compile(r"^connection error"), "connection error"),
    (re.compile(r"^malformed JSON|^JSON from .* not an object"), "malformed response"),
    (re.compile(r"no verdict"), "no verdict"),
    (re.compile(r"^skipped:.*context"), "longer than the model's context"),
)


def error_kind(record: Record) -> str:
    """What kind of failure a record's error is, in a few words."""
    error = str(getattr(record, "error", "") or "")
    for pattern, name in _KINDS:
        match = pattern.search(error)
        if match:
            return name or f"HTTP {match.group(1)}"
    if getattr(record, "raw_text", None) is not None:
        return "no verdict"
    return "backend error"


def _stage(record: Record) -> str:
    if isinstance(record, GenerationRecord):
        return "generate"
    if isinstance(record, PointwiseRecord):
        return "bias pointwise" if record.is_probe else "judge pointwise"
    assert isinstance(record, PairwiseRecord)
    return "bias pairwise" if record.is_probe else "judge pairwise"


def count_failures(
    store: RunStore, judge: str | None = None, stages: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Per-stage, per-model failure counts of a run.

    Only judgments by ``judge`` count when it is given, and only ``stages`` when given.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    records: list[Record] = list(store.read(GenerationRecord))
    records += [r for r in store.read(PointwiseRecord) if judge is None or r.judge == judge]
    records += [r for r in store.read(PairwiseRecord) if judge is None or r.judge == judge]
    if stages is not None:
        records = [r for r in records if _stage(r) in stages]
    for record in records:
        if isinstance(record, GenerationRecord):
            model, role = record.model, record.role
        else:
            model, role = getattr(record, "judge", ""), "judge"
        group = groups.setdefault(
            (_stage(record), model),
            {"stage": _stage(record), "model": model, "role": role, "records": 0, "failed": 0,
             "kinds": Counter(), "first_errors": []},
        )  # fmt: skip
        group["records"] += 1
        error = getattr(record, "error", None)
        if error:
            group["failed"] += 1
            group["kinds"][error_kind(record)] += 1
            if len(group["first_errors"]) < FIRST_ERRORS:
                group["first_errors"].append(" ".join(str(error).split())[:ERROR_CHARS])
    counted = [{**g, "kinds": dict(g["kinds"])} for g in groups.values()]
    total = sum(g["records"] for g in counted)
    failed = sum(g["failed"] for g in counted)
    return {
        "records": total,
        "failed": failed,
        "share": failed / total if total else 0.0,
        "stages": counted,
    }


def failure_warnings(failures: dict[str, Any] | None) -> list[str]:
    """One warning per stage and model that has failures, naming the kinds and first error."""
    out = []
    for group in (failures or {}).get("stages", []):
        if not group.get("failed"):
            continue
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in sorted(group["kinds"].items()))
        who = f"{group['role']} model {group['model']}"
        first = group["first_errors"][0] if group["first_errors"] else ""
        what = STAGE_NOUNS.get(group["stage"], f"{group['stage']} records")
        out.append(
            f"{group['failed']} of {group['records']} {what} failed for the {who} ({kinds}); "
            f"they are left out of the statistics. First error: {first}"
        )
    return out


def over_threshold(failures: dict[str, Any], limit: float) -> str | None:
    """A one-line message when the failed share exceeds ``limit``, else None."""
    if not failures.get("failed") or failures["share"] <= limit:
        return None
    return (
        f"{failures['failed']} of {failures['records']} records failed "
        f"({failures['share']:.1%}, over max_failure_share {limit:g}); rerun to retry them "
        "(see the warnings in the report or analysis.json 'failures')"
    )
