"""Analysis of a run: win rates, per-criterion scores, judge reliability and bias.

Reads the run's records and returns the JSON document written to ``analysis.json``; the
schema is documented in docs/analysis-schema.md. Every estimate is ``{value, low, high, n,
note}`` with a 95% bootstrap interval over prompts (``null`` where it cannot be computed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from evalharness.analysis.bias import exploitability, position_stats, preference_rate, score_shift
from evalharness.analysis.cost import summarize as cost_summary
from evalharness.analysis.stats import Estimate, controlled_win_rate, mean_ci, outcome, win_rate
from evalharness.config import RunConfig
from evalharness.judge.stage import (
    MAIN_COMPARISON,
    generations_by_prompt,
    self_judging,
    template_keys,
)
from evalharness.probes.markers import confidence_density
from evalharness.probes.rules import load_rules
from evalharness.records import PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.rubrics import load_rubric
from evalharness.runstore import RunStore

ANALYSIS_SCHEMA_VERSION = 1
LOW_MASS_WARN = 0.5
CONSISTENCY_WARN = 0.6


def paired_orders(records: Iterable[PairwiseRecord]) -> dict[str, dict[str, tuple[float, float]]]:
    """comparison -> prompt id -> (p_x with X first, p_x with X second), complete pairs only."""
    by_key: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.error is None and r.p_x is not None:
            by_key[(r.comparison, r.prompt_id)][r.order] = r.p_x
    out: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for (comparison, prompt_id), orders in by_key.items():
        if {"xy", "yx"} <= orders.keys():
            out[comparison][prompt_id] = (orders["xy"], orders["yx"])
    return out


def _position(pairs: dict[str, tuple[float, float]], seed: int) -> dict[str, Any] | None:
    if not pairs:
        return None
    first = [p[0] for p in pairs.values()]  # X in slot A: P(A) = p_x
    second = [1 - p[1] for p in pairs.values()]  # X in slot B: P(A) = 1 - p_x
    return position_stats(first, second, seed=seed).to_dict()


def _scores(records: list[PointwiseRecord]) -> dict[tuple[str, str], dict[str, float]]:
    """(subject, criterion) -> prompt id -> expected score."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.error is None and r.expected is not None:
            out[(r.subject, r.criterion)][r.prompt_id] = r.expected
    return out


def _shift(
    scores: dict[tuple[str, str], dict[str, float]], criterion: str, kind: str, seed: int
) -> Estimate:
    orig, variant = [], []
    for role in ("base", "tuned"):
        before, after = (
            scores.get((role, criterion), {}),
            scores.get((f"{role}/{kind}", criterion), {}),
        )
        for prompt_id in sorted(before.keys() & after.keys()):
            orig.append(before[prompt_id])
            variant.append(after[prompt_id])
    return score_shift(orig, variant, seed=seed)


def _rate(
    pairs_by_comparison: dict[str, dict[str, tuple[float, float]]], prefix: str, seed: int
) -> Estimate:
    first, second = [], []
    for comparison, pairs in sorted(pairs_by_comparison.items()):
        if comparison.startswith(prefix):
            for p in pairs.values():
                first.append(p[0])
                second.append(p[1])
    return preference_rate(first, second, seed=seed)


def _headline(
    store: RunStore, config: RunConfig, pairs: dict[str, tuple[float, float]], rules: Any
) -> dict[str, Any]:
    gens = generations_by_prompt(store)
    ids = sorted(pairs)
    p_tuned = [(pairs[i][0] + pairs[i][1]) / 2 for i in ids]
    outcomes = [outcome(p, config.tie_band) for p in p_tuned]
    disagree = [i for i in ids if (pairs[i][0] > 0.5) != (pairs[i][1] > 0.5)]
    result: dict[str, Any] = {
        "n": len(ids),
        "win_rate": win_rate(p_tuned, config.tie_band, seed=config.seed).to_dict(),
        "outcomes": {k: outcomes.count(k) for k in ("win", "tie", "loss")},
        "order_disagreements": len(disagree),
        "order_disagreement_ids": disagree,
        "tie_band": config.tie_band,
    }
    if len(ids) >= 3:
        controlled = controlled_win_rate(
            p_tuned,
            [gens[i]["tuned"].output_tokens for i in ids],
            [gens[i]["base"].output_tokens for i in ids],
            [confidence_density(gens[i]["tuned"].output, rules) for i in ids],
            [confidence_density(gens[i]["base"].output, rules) for i in ids],
            seed=config.seed,
            n_resamples=max(10, config.bootstrap // 2),
        )
        result["controlled"] = controlled.to_dict()
    else:
        result["controlled"] = None
    result["per_prompt"] = {
        i: {"p_tuned": p, "outcome": o, "p_tuned_xy": pairs[i][0], "p_tuned_yx": pairs[i][1]}
        for i, p, o in zip(ids, p_tuned, outcomes, strict=True)
    }
    return result


def _reliability(
    config: RunConfig,
    point: list[PointwiseRecord],
    pair: list[PairwiseRecord],
    pairs: dict[str, dict[str, tuple[float, float]]],
) -> dict[str, Any]:
    seed = config.seed
    point_mass = [r.mass for r in point if r.error is None]
    pair_mass = [r.mass for r in pair if r.error is None]
    all_pairs = {f"{c}/{k}": v for c, d in pairs.items() for k, v in d.items()}
    return {
        "position": _position(pairs.get(MAIN_COMPARISON, {}), seed),
        "position_all_comparisons": _position(all_pairs, seed),
        "pointwise_mass": mean_ci(point_mass, seed=seed).to_dict(),
        "pairwise_mass": mean_ci(pair_mass, seed=seed).to_dict(),
        "pointwise_low_mass_share": _share(r.low_mass for r in point if r.error is None),
        "pairwise_low_mass_share": _share(r.low_mass for r in pair if r.error is None),
        "parse_failures": {
            "pointwise": sum(1 for r in point if r.error),
            "pairwise": sum(1 for r in pair if r.error),
            "total_judgments": len(point) + len(pair),
        },
        "judges_itself": self_judging(config),
        "judge": config.judge,
    }


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return sum(values) / len(values) if values else None


def _bias(
    config: RunConfig,
    rubric_criteria: list[str],
    scores: dict[tuple[str, str], dict[str, float]],
    pairs: dict[str, dict[str, tuple[float, float]]],
    probes: list[ProbeRecord],
) -> dict[str, Any] | None:
    if not probes:
        return None
    seed = config.seed
    kinds = sorted({p.kind for p in probes})
    out: dict[str, Any] = {"probes": {}}
    for kind in kinds:
        shifts = {c: _shift(scores, c, kind, seed) for c in rubric_criteria}
        these = [p for p in probes if p.kind == kind]
        out["probes"][kind] = {
            "preference_over_original": _rate(pairs, f"probe:{kind}:", seed).to_dict(),
            "score_shift": {c: e.to_dict() for c, e in shifts.items()},
            "exploitability": _exploit(shifts),
            "noop": sum(p.noop for p in these),
            "n_variants": len(these),
            "mean_original_tokens": _mean(p.original_tokens for p in these),
            "mean_variant_tokens": _mean(p.variant_tokens for p in these),
        }
    out["lbr"] = out["probes"].get("padded", {}).get("preference_over_original")
    out["cbr"] = _rate(pairs, "probe:assertive_vs_hedged:", seed).to_dict()
    cbr_shifts = {}
    for c in rubric_criteria:
        assertive, hedged = _scores_for(scores, c, "assertive"), _scores_for(scores, c, "hedged")
        common = sorted(assertive.keys() & hedged.keys())
        cbr_shifts[c] = score_shift(
            [hedged[k] for k in common], [assertive[k] for k in common], seed=seed
        )
    out["cbr_score_shift"] = {c: e.to_dict() for c, e in cbr_shifts.items()}
    out["cbr_exploitability"] = _exploit(cbr_shifts)
    return out


def _scores_for(
    scores: dict[tuple[str, str], dict[str, float]], criterion: str, kind: str
) -> dict[tuple[str, str], float]:
    out = {}
    for role in ("base", "tuned"):
        for prompt_id, value in scores.get((f"{role}/{kind}", criterion), {}).items():
            out[(role, prompt_id)] = value
    return out


def _exploit(shifts: dict[str, Estimate]) -> dict[str, Any] | None:
    usable = {c: e for c, e in shifts.items() if e.n > 0}
    if not usable:
        return None
    result = exploitability(usable)
    shift = result.get("shift")
    result["shift"] = None if shift is None or shift != shift else shift
    return result


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def analyze(store: RunStore, config: RunConfig) -> dict[str, Any]:
    """Compute every number of the report from the run's records."""
    rubric = load_rubric(config.rubric)
    rules = load_rules(config.probe_rules)
    point_t, pair_t = template_keys(config)

    def mine(r: PointwiseRecord | PairwiseRecord) -> bool:
        template = point_t if isinstance(r, PointwiseRecord) else pair_t
        return r.judge == config.judge and r.rubric == rubric.key and r.template == template

    point = [r for r in store.read(PointwiseRecord) if mine(r)]
    pair = [r for r in store.read(PairwiseRecord) if mine(r)]
    probes = store.read(ProbeRecord)
    pairs = paired_orders(pair)
    scores = _scores(point)
    criteria = [c.name for c in rubric.criteria]
    per_criterion = {}
    for c in criteria:
        base, tuned = scores.get(("base", c), {}), scores.get(("tuned", c), {})
        common = sorted(base.keys() & tuned.keys())
        per_criterion[c] = {
            "base": mean_ci(list(base.values()), seed=config.seed).to_dict(),
            "tuned": mean_ci(list(tuned.values()), seed=config.seed).to_dict(),
            "tuned_minus_base": score_shift(
                [base[k] for k in common], [tuned[k] for k in common], seed=config.seed
            ).to_dict(),
        }
    gens = generations_by_prompt(store)
    points = [
        {
            "prompt_id": pid,
            "role": role,
            "tokens": g.output_tokens,
            "score": _mean(
                scores[(role, c)][pid] for c in criteria if pid in scores.get((role, c), {})
            ),
        }
        for pid, roles in gens.items()
        for role, g in roles.items()
    ]
    analysis = {
        "schema_version": ANALYSIS_SCHEMA_VERSION,
        "examples": _examples(gens, scores, criteria),
        "run": {
            "dir": str(store.dir),
            "base": config.base,
            "tuned": config.tuned,
            "judge": config.judge,
            "rubric": rubric.key,
            "criteria": criteria,
            "prompts": len(gens),
            "seed": config.seed,
        },
        "headline": _headline(store, config, pairs.get(MAIN_COMPARISON, {}), rules),
        "criteria": per_criterion,
        "reliability": _reliability(config, point, pair, pairs),
        "bias": _bias(config, criteria, scores, pairs, probes),
        "points": points,
    }
    analysis["cost"] = cost_summary(store, analysis["bias"])
    analysis["warnings"] = warnings_for(analysis)
    return analysis


EXAMPLE_FIRST = ("time",)


def _examples(
    gens: dict[str, dict[str, Any]],
    scores: dict[tuple[str, str], dict[str, float]],
    criteria: list[str],
) -> list[dict[str, Any]]:
    """Side-by-side base and tuned answers with their per-criterion scores."""
    ids = sorted(gens, key=lambda i: (i not in EXAMPLE_FIRST, i))
    out = []
    for pid in ids:
        roles = gens[pid]
        if not {"base", "tuned"} <= roles.keys():
            continue
        out.append(
            {
                "prompt_id": pid,
                "prompt": roles["tuned"].prompt,
                "responses": {role: roles[role].output for role in ("base", "tuned")},
                "tokens": {role: roles[role].output_tokens for role in ("base", "tuned")},
                "finish_reason": {role: roles[role].finish_reason for role in ("base", "tuned")},
                "scores": {
                    role: {c: scores.get((role, c), {}).get(pid) for c in criteria}
                    for role in ("base", "tuned")
                },
            }
        )
    return out


def warnings_for(analysis: dict[str, Any]) -> list[str]:
    """Plain-language warnings about what makes the verdict untrustworthy."""
    out: list[str] = []
    rel = analysis["reliability"]
    if rel["judges_itself"]:
        out.append(
            f"The judge ({rel['judge']}) is also the {'/'.join(rel['judges_itself'])} model: "
            "it may prefer its own outputs (self-preference)."
        )
    for kind in ("pointwise", "pairwise"):
        mass = rel[f"{kind}_mass"]["value"]
        if mass is not None and mass < LOW_MASS_WARN:
            out.append(
                f"Only {mass:.0%} of the judge's {kind} probability falls on the allowed answers: "
                "it mostly did not answer the question, so its verdicts are weak evidence."
            )
    position = rel.get("position")
    if position and position["consistency"]["value"] is not None:
        value = position["consistency"]["value"]
        if value < CONSISTENCY_WARN:
            out.append(
                f"The judge's verdict survives swapping the order in only {value:.0%} of pairs: "
                "position decides more than content."
            )
    failures = rel["parse_failures"]
    if failures["pointwise"] + failures["pairwise"]:
        out.append(f"{failures['pointwise'] + failures['pairwise']} judgments failed to parse.")
    controlled = analysis["headline"].get("controlled") or {}
    out.extend(controlled.get("warnings", []))
    bias = analysis.get("bias") or {}
    for name, label in (("lbr", "longer"), ("cbr", "more confident")):
        est = bias.get(name)
        if est and est["low"] is not None and (est["low"] > 0 or est["high"] < 0):
            direction = "prefers" if est["value"] > 0 else "penalises"
            out.append(
                f"The judge {direction} {label} answers with the same content "
                f"({name.upper()} = {est['value']:+.2f}, CI {est['low']:+.2f}..{est['high']:+.2f})."
            )
    return out
