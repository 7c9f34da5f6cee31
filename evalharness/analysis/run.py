"""Analysis of a run: win rates, per-criterion scores, judge reliability and bias.

Reads the run's records and returns an :class:`~evalharness.analysis.model.Analysis`, whose
``to_json`` is the document written to ``analysis.json`` (docs/analysis-schema.md). Every
estimate is ``{value, low, high, n, note}``: proportions with a Wilson interval, means with a
bootstrap over prompts (all items of a prompt resampled together), at the run's
``confidence`` with ``bootstrap`` resamples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from evalharness.analysis.bias import position_stats, score_shift
from evalharness.analysis.bias_section import bias_section, unit
from evalharness.analysis.bias_section import boot as _boot
from evalharness.analysis.cost import summarize as cost_summary
from evalharness.analysis.failures import count_failures, error_kind, failure_warnings
from evalharness.analysis.human import human_for_run
from evalharness.analysis.intervals import wilson
from evalharness.analysis.model import ANALYSIS_SCHEMA_VERSION, Analysis
from evalharness.analysis.readings import (
    bias_warning,
    mass_warning,
    mode_warning,
    position_warning,
)
from evalharness.analysis.stats import controlled_win_rate, mean_ci, outcome, win_rate
from evalharness.config import RunConfig, self_judging
from evalharness.records import MAIN_COMPARISON, PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.runstore import RunStore, generations_by_prompt
from evalharness.templates import JudgeSetup, resolve_judge_setup
from evalharness.text.markers import confidence_density
from evalharness.text.rules import load_rules

__all__ = ["ANALYSIS_SCHEMA_VERSION", "analyze", "paired_orders", "warnings_for"]


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


def _position(
    pairs: dict[str, tuple[float, float]], config: RunConfig, clusters: list[str] | None = None
) -> dict[str, Any] | None:
    """Position statistics; ``clusters`` are the prompt ids (default: the keys), resampled by
    conversation."""
    if not pairs:
        return None
    first = [p[0] for p in pairs.values()]  # X in slot A: P(A) = p_x
    second = [1 - p[1] for p in pairs.values()]  # X in slot B: P(A) = 1 - p_x
    ids = [unit(k) for k in (clusters if clusters is not None else list(pairs))]
    return position_stats(first, second, clusters=ids, **_boot(config)).to_dict()


def _scores(records: list[PointwiseRecord]) -> dict[tuple[str, str], dict[str, float]]:
    """(subject, criterion) -> prompt id -> expected score."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.error is None and r.expected is not None:
            out[(r.subject, r.criterion)][r.prompt_id] = r.expected
    return out


def _headline(
    store: RunStore, config: RunConfig, pairs: dict[str, tuple[float, float]], rules: Any
) -> dict[str, Any]:
    gens = generations_by_prompt(store)
    ids = sorted(pairs)
    p_tuned = [(pairs[i][0] + pairs[i][1]) / 2 for i in ids]
    outcomes = [outcome(p, config.tie_band) for p in p_tuned]
    position = _position({i: pairs[i] for i in ids}, config) or {}
    p1 = [pairs[i][0] for i in ids]
    p2 = [1 - pairs[i][1] for i in ids]
    disagree = [
        i
        for i, a, b in zip(ids, p1, p2, strict=True)
        if a != 0.5 and b != 0.5 and (a > 0.5) == (b > 0.5)
    ]
    undecided = [i for i, a, b in zip(ids, p1, p2, strict=True) if a == 0.5 or b == 0.5]
    result: dict[str, Any] = {
        "n": len(ids),
        "win_rate": win_rate(
            p_tuned, config.tie_band, clusters=[unit(i) for i in ids], **_boot(config)
        ).to_dict(),
        "outcomes": {k: outcomes.count(k) for k in ("win", "tie", "loss")},
        "outcome_shares": {
            k: wilson(outcomes.count(k), len(ids), config.confidence).to_dict()
            for k in ("win", "tie", "loss")
        },
        "order_disagreements": position.get("order_disagreements", 0),
        "order_disagreement_ids": disagree,
        "undecided": len(undecided),
        "tie_band": config.tie_band,
    }
    if len(ids) >= 3:
        controlled = controlled_win_rate(
            p_tuned,
            [gens[i]["tuned"].output_tokens for i in ids],
            [gens[i]["base"].output_tokens for i in ids],
            [confidence_density(gens[i]["tuned"].output, rules) for i in ids],
            [confidence_density(gens[i]["base"].output, rules) for i in ids],
            **_boot(config),
        )
        result["controlled"] = controlled.to_dict()
    else:
        result["controlled"] = None
    result["per_prompt"] = {
        i: {"p_tuned": p, "outcome": o, "p_tuned_xy": pairs[i][0], "p_tuned_yx": pairs[i][1]}
        for i, p, o in zip(ids, p_tuned, outcomes, strict=True)
    }
    return result


def _modes(records: Iterable[PointwiseRecord | PairwiseRecord]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        if r.error is None:
            counts[r.mode or "logprobs"] += 1
    return dict(sorted(counts.items()))


def _reliability(
    config: RunConfig,
    point: list[PointwiseRecord],
    pair: list[PairwiseRecord],
    pairs: dict[str, dict[str, tuple[float, float]]],
) -> dict[str, Any]:
    # Mass is a property of next-token probabilities: text-mode records have none.
    point_lp = [r for r in point if r.error is None and r.mode == "logprobs"]
    pair_lp = [r for r in pair if r.error is None and r.mode == "logprobs"]
    all_pairs = {(c, k): v for c, d in pairs.items() for k, v in d.items()}
    every = {f"{c}/{k}": v for (c, k), v in all_pairs.items()}
    return {
        "position": _position(pairs.get(MAIN_COMPARISON, {}), config),
        "position_all_comparisons": _position(every, config, [k for _, k in all_pairs]),
        "pointwise_mass": mean_ci([r.mass for r in point_lp], **_boot(config)).to_dict(),
        "pairwise_mass": mean_ci([r.mass for r in pair_lp], **_boot(config)).to_dict(),
        "pointwise_low_mass_share": _share(r.low_mass for r in point_lp),
        "pairwise_low_mass_share": _share(r.low_mass for r in pair_lp),
        "modes": {"pointwise": _modes(point), "pairwise": _modes(pair)},
        "parse_failures": {
            "pointwise": sum(1 for r in point if r.error and error_kind(r) == "no verdict"),
            "pairwise": sum(1 for r in pair if r.error and error_kind(r) == "no verdict"),
            "total_judgments": len(point) + len(pair),
        },
        "judges_itself": self_judging(config),
        "judge": config.judge,
    }


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return sum(values) / len(values) if values else None


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def analyze(store: RunStore, config: RunConfig, setup: JudgeSetup | None = None) -> Analysis:
    """Compute every number of the report from the run's records (those of the judge setup,
    resolved from ``config`` if None)."""
    setup = setup or resolve_judge_setup(config)
    rubric = setup.rubric
    rules = load_rules(config.probe_rules)
    point = [r for r in store.read(PointwiseRecord) if setup.owns(r)]
    pair = [r for r in store.read(PairwiseRecord) if setup.owns(r)]
    probes = store.read(ProbeRecord)
    pairs = paired_orders(pair)
    scores = _scores(point)
    criteria = [c.name for c in rubric.criteria]
    per_criterion = {}
    for c in criteria:
        base, tuned = scores.get(("base", c), {}), scores.get(("tuned", c), {})
        common = sorted(base.keys() & tuned.keys())
        clusters = [unit(k) for k in common]
        per_criterion[c] = {
            "base": mean_ci([base[k] for k in common], **_boot(config)).to_dict(),
            "tuned": mean_ci([tuned[k] for k in common], **_boot(config)).to_dict(),
            "tuned_minus_base": score_shift(
                [base[k] for k in common],
                [tuned[k] for k in common],
                clusters=clusters,
                **_boot(config),
            ).to_dict(),
            "prompts_dropped": len(base.keys() ^ tuned.keys()),
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
            "bootstrap": config.bootstrap,
            "confidence": config.confidence,
        },
        "headline": _headline(store, config, pairs.get(MAIN_COMPARISON, {}), rules),
        "criteria": per_criterion,
        "reliability": _reliability(config, point, pair, pairs),
        "bias": bias_section(config, criteria, scores, pairs, probes),
        "points": points,
    }
    analysis["human"] = None  # from the typed analysis, below
    bias = analysis["bias"]
    analysis["cost"] = cost_summary(store, bias if isinstance(bias, dict) else None)
    failures = analysis["failures"] = count_failures(store, config.judge)
    analysis["warnings"] = failure_warnings(failures) + warnings_for(analysis)
    typed = Analysis.from_json(analysis, store.path("analysis.json"))
    return replace(typed, human=human_for_run(store, typed, scores, criteria, config.tie_band))


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
        out.append(mass_warning(kind, rel[f"{kind}_mass"]) or "")
    out.append(position_warning(rel.get("position")) or "")
    modes = rel.get("modes") or {}
    merged: dict[str, int] = defaultdict(int)
    for counts in modes.values():
        for mode, count in counts.items():
            merged[mode] += count
    out.append(mode_warning(merged) or "")
    controlled = analysis["headline"].get("controlled") or {}
    out.extend(controlled.get("warnings", []))
    bias = analysis.get("bias") or {}
    out.append(bias_warning("lbr", bias.get("lbr")) or "")
    out.append(bias_warning("cbr", bias.get("cbr"), bias.get("cbr_length_adjusted")) or "")
    return [w for w in out if w]
