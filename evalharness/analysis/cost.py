"""Per-run cost accounting: tokens and seconds per stage, for analysis.json and the report.

Most of it is read back from the records: each generation carries its prompt and output
tokens (for a server, the usage fields of its reply) and its seconds; each judgment its
seconds. What the records do not hold is kept in ``cost.json`` in the run directory by
:func:`record_stage`: the tokens a local judge computed (its forward passes, prefix caches
included) and the wall time of each bias probe kind. Reruns add to it, so it counts every
invocation that worked on the run.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.runstore import RunStore, write_json_atomic
from evalharness.specs import parse_spec

LEDGER = "cost.json"

_SEEN: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
"""Judge tokens already booked, by backend (a backend's counters only grow)."""


def _read_ledger(store: RunStore) -> dict[str, Any]:
    import json

    path = store.path(LEDGER)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def judge_tokens(backend: Any) -> int | None:
    """Tokens the backend's judge path computed so far (local models), else None."""
    stats = getattr(backend, "stats", None)
    if not isinstance(stats, dict) or "tokens_computed" not in stats:
        return None
    return int(stats["tokens_computed"])


def record_stage(
    store: RunStore,
    stage: str,
    seconds: float,
    *,
    judge: Any = None,
    probes: Mapping[str, float] | None = None,
) -> None:
    """Add one stage's wall time, the judge tokens computed since the last booking and the
    seconds of each probe kind to the run's ledger."""
    ledger = _read_ledger(store)
    entry = ledger.setdefault(stage, {})
    entry["wall_seconds"] = round(float(entry.get("wall_seconds", 0.0)) + seconds, 3)
    backend = getattr(judge, "backend", judge)
    total = judge_tokens(backend) if backend is not None else None
    if total is not None:
        booked = _SEEN.get(backend, 0)
        if total < booked:  # counters reset (a benchmark): count from zero
            booked = 0
        entry["judge_tokens"] = int(entry.get("judge_tokens", 0)) + total - booked
        _SEEN[backend] = total
    for kind, spent in (probes or {}).items():
        kinds = entry.setdefault("probe_seconds", {})
        kinds[kind] = round(float(kinds.get(kind, 0.0)) + spent, 3)
    write_json_atomic(store.path(LEDGER), ledger)


def _judgments(records: list[Any]) -> dict[str, Any]:
    return {
        "judgments": len(records),
        "seconds": round(sum(r.seconds for r in records), 3),
        "failed": sum(1 for r in records if r.error),
    }


def summarize(store: RunStore, bias: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run's cost: tokens and seconds per stage, probe kinds' shares, what probes bought.

    ``bias`` is the analysis' bias section; the width of its LBR and CBR intervals is what
    the probe budget bought.
    """
    ledger = _read_ledger(store)
    gens = store.read(GenerationRecord)
    by_role: dict[str, dict[str, Any]] = {}
    for g in gens:
        row = by_role.setdefault(
            g.role,
            {
                "model": g.model,
                "answers": 0,
                "prompt_tokens": 0,
                "output_tokens": 0,
                "seconds": 0.0,
            },
        )
        row["answers"] += 1
        row["prompt_tokens"] += g.prompt_tokens
        row["output_tokens"] += g.output_tokens
        row["seconds"] = round(row["seconds"] + g.seconds, 3)
    for row in by_role.values():
        server = parse_spec(row["model"]).kind == "openai"
        row["token_source"] = "server usage fields" if server else "tokenizer"
    points = store.read(PointwiseRecord)
    pairs = store.read(PairwiseRecord)
    main = _judgments([r for r in points if not r.is_probe] + [r for r in pairs if not r.is_probe])
    probe = _judgments([r for r in points if r.is_probe] + [r for r in pairs if r.is_probe])
    stages: dict[str, dict[str, Any]] = {
        "generate": {
            "answers": len(gens),
            "prompt_tokens": sum(g.prompt_tokens for g in gens),
            "output_tokens": sum(g.output_tokens for g in gens),
            "seconds": round(sum(g.seconds for g in gens), 3),
            "by_role": by_role,
        },
        "judge": main,
        "bias": probe,
    }
    for stage in ("judge", "bias"):
        booked = ledger.get(stage, {})
        stages[stage]["judge_tokens_computed"] = booked.get("judge_tokens")
        stages[stage]["wall_seconds"] = booked.get("wall_seconds")
    total = sum(s["seconds"] for s in stages.values())
    out: dict[str, Any] = {
        "stages": stages,
        "seconds": round(total, 3),
        "share": {k: round(s["seconds"] / total, 4) if total else None for k, s in stages.items()},
    }
    probe_seconds = ledger.get("bias", {}).get("probe_seconds", {})
    if probe_seconds:
        out["probe_seconds"] = probe_seconds
        out["probe_share_of_run"] = {
            kind: round(spent / total, 4) if total else None
            for kind, spent in probe_seconds.items()
        }
    if bias:
        widths = {}
        for name in ("lbr", "cbr"):
            est = bias.get(name) or {}
            low, high = est.get("low"), est.get("high")
            widths[name] = round(high - low, 4) if low is not None and high is not None else None
        out["bias_interval_width"] = widths
    return out
