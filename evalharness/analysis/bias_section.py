"""The `bias` section of analysis.json: probe preferences, score shifts (Holm), LBR and CBR.

Every interval is over prompts (all items of a prompt resampled together) at the run's
``confidence`` with ``bootstrap`` resamples; schema in docs/analysis-schema.md.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evalharness.analysis.bias import (
    exploitability,
    familywise_shifts,
    length_adjusted_rate,
    net_preferences,
    score_shift,
)
from evalharness.analysis.intervals import bootstrap_mean
from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import Estimate
from evalharness.config import RunConfig
from evalharness.records import CONFIDENCE_COMPARISON, ProbeRecord, parse_probe_comparison

Scores = dict[tuple[str, str], dict[str, float]]
Pairs = dict[str, dict[str, tuple[float, float]]]


def unit(prompt_id: str) -> str:
    """The resampling unit of a prompt id: the conversation (``<id>/turn-k`` -> ``<id>``)."""
    return prompt_id.split("/turn-", 1)[0]


def boot(config: RunConfig) -> dict[str, Any]:
    """The seed, resample count and confidence of every interval of a run."""
    return {"settings": StatsSettings(config.seed, config.bootstrap, config.confidence)}


def _mean(values: Any) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


Diffs = tuple[list[float], list[str]]


def _shift_diffs(scores: Scores, criterion: str, before: str, after: str) -> Diffs:
    """Paired score changes (``after`` − ``before`` subject suffix) over both roles, by prompt."""
    diffs, clusters = [], []
    for role in ("base", "tuned"):
        b = scores.get((f"{role}{before}", criterion), {})
        a = scores.get((f"{role}{after}", criterion), {})
        for prompt_id in sorted(b.keys() & a.keys()):
            diffs.append(a[prompt_id] - b[prompt_id])
            clusters.append(unit(prompt_id))
    return diffs, clusters


def _rate_items(
    pairs_by_comparison: dict[str, dict[str, tuple[float, float]]], kind: str
) -> tuple[list[float], list[float], list[str], list[str]]:
    """p_x in both orders, the prompt id and the source role of every item of a probe kind."""
    first, second, clusters, sources = [], [], [], []
    for comparison, pairs in sorted(pairs_by_comparison.items()):
        probe = parse_probe_comparison(comparison)
        if probe is not None and probe[0] == kind and probe[1] is not None:
            for prompt_id, p in sorted(pairs.items()):
                first.append(p[0])
                second.append(p[1])
                clusters.append(prompt_id)
                sources.append(probe[1])
    return first, second, clusters, sources


def _rate(
    pairs_by_comparison: dict[str, dict[str, tuple[float, float]]], kind: str, config: RunConfig
) -> Estimate:
    first, second, clusters, _ = _rate_items(pairs_by_comparison, kind)
    net = net_preferences(first, second)
    units = [unit(c) for c in clusters]
    return bootstrap_mean(net, where="preference_rate", clusters=units, note="", **boot(config))


def bias_section(
    config: RunConfig,
    rubric_criteria: list[str],
    scores: dict[tuple[str, str], dict[str, float]],
    pairs: dict[str, dict[str, tuple[float, float]]],
    probes: list[ProbeRecord],
) -> dict[str, Any] | None:
    """The bias section from the run's scores, paired orders and probes (None without probes)."""
    if not probes:
        return None
    kinds = sorted({p.kind for p in probes})
    # Every (probe, criterion) score shift is one test of a single family (Holm).
    tests: dict[tuple[str, str], Diffs] = {}
    for kind in kinds:
        for c in rubric_criteria:
            tests[(kind, c)] = _shift_diffs(scores, c, "", f"/{kind}")
    for c in rubric_criteria:
        tests[("assertive vs hedged", c)] = _shift_diffs(scores, c, "/hedged", "/assertive")
    family = familywise_shifts(
        {k: (v[0], v[1]) for k, v in tests.items() if v[0]}, 1.0 - config.confidence
    )
    shifts = {
        key: score_shift([0.0] * len(d), d, clusters=cl, **boot(config))
        for key, (d, cl) in tests.items()
    }
    out: dict[str, Any] = {"probes": {}}
    for kind in kinds:
        these = [p for p in probes if p.kind == kind]
        mine = {c: shifts[(kind, c)] for c in rubric_criteria}
        out["probes"][kind] = {
            "preference_over_original": _rate(pairs, kind, config).to_dict(),
            "score_shift": {c: e.to_dict() for c, e in mine.items()},
            "exploitability": _exploit(mine, {c: family.get((kind, c)) for c in mine}),
            "noop": sum(p.noop for p in these),
            "n_variants": len(these),
            "mean_original_tokens": _mean(p.original_tokens for p in these),
            "mean_variant_tokens": _mean(p.variant_tokens for p in these),
        }
    out["lbr"] = out["probes"].get("padded", {}).get("preference_over_original")
    out["cbr"] = _rate(pairs, CONFIDENCE_COMPARISON, config).to_dict()
    out["cbr_length_adjusted"] = _cbr_adjusted(pairs, probes, config).to_dict()
    out["cbr_length_gap"] = _length_gap(probes)
    cbr = {c: shifts[("assertive vs hedged", c)] for c in rubric_criteria}
    out["cbr_score_shift"] = {c: e.to_dict() for c, e in cbr.items()}
    out["cbr_exploitability"] = _exploit(
        cbr, {c: family.get(("assertive vs hedged", c)) for c in cbr}
    )
    out["familywise_tests"] = len(family)
    return out


def _cbr_adjusted(
    pairs: dict[str, dict[str, tuple[float, float]]], probes: list[ProbeRecord], config: RunConfig
) -> Estimate:
    """CBR read at equal length: regression of the net preference on the token difference."""
    tokens = {p.key(): p.variant_tokens for p in probes}
    first, second, clusters, roles = _rate_items(pairs, CONFIDENCE_COMPARISON)
    gaps = []
    for prompt_id, role in zip(clusters, roles, strict=True):
        a = tokens.get(ProbeRecord.key_of(prompt_id=prompt_id, source=role, kind="assertive"), 0)
        h = tokens.get(ProbeRecord.key_of(prompt_id=prompt_id, source=role, kind="hedged"), 0)
        gaps.append(float(a - h))
    net = net_preferences(first, second)
    return length_adjusted_rate(net, gaps, [unit(c) for c in clusters], **boot(config))


def _length_gap(probes: list[ProbeRecord]) -> dict[str, Any] | None:
    """How far the assertive and hedged variants of the same answer differ in tokens."""
    tokens: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for p in probes:
        if p.kind in ("assertive", "hedged"):
            tokens[(p.prompt_id, p.source)][p.kind] = p.variant_tokens
    gaps = [abs(t["assertive"] - t["hedged"]) for t in tokens.values() if len(t) == 2]
    if not gaps:
        return None
    return {
        "pairs": len(gaps),
        "mean_abs_tokens": sum(gaps) / len(gaps),
        "max_abs_tokens": max(gaps),
    }


def _exploit(
    shifts: dict[str, Estimate], family: dict[str, tuple[bool, float] | None]
) -> dict[str, Any] | None:
    usable = {c: e for c, e in shifts.items() if e.n > 0}
    if not usable:
        return None
    significance = {c: v for c, v in family.items() if v is not None and c in usable}
    result = exploitability(usable, significance)
    shift = result.get("shift")
    result["shift"] = None if shift is None or shift != shift else shift
    return result
