"""Judge validation: how often the judge agrees with human preference labels, and its biases there.

Each labeled pair is judged in both orders (comparison ``validate``: X = output_1, Y = output_2).
With probes on, output_1 of every pair also gets a padded variant (judged against itself:
the LBR) and an assertive and a hedged variant (judged against each other: the CBR).
Records go to a run directory of their own, so the command resumes.
"""

from __future__ import annotations

import time
from typing import Any

from evalharness.analysis.bias import longer_baseline, position_stats, preference_rate
from evalharness.analysis.run import paired_orders
from evalharness.analysis.stats import accuracy, cohen_kappa, mean_ci
from evalharness.config import RunConfig
from evalharness.generate import StageSummary
from evalharness.judge.engine import Judge, PairItem
from evalharness.judge.stage import judge_in_chunks, make_judge
from evalharness.pairs import LabeledPair, load_pairs, resolve_pairs
from evalharness.probes.rewrite import make_variants
from evalharness.probes.rules import load_rules
from evalharness.records import PairwiseRecord
from evalharness.runstore import RunStore

COMPARISON = "validate"


def _items(pairs: list[LabeledPair], config: RunConfig, probes: bool) -> list[PairItem]:
    items = [
        PairItem(p.id, COMPARISON, "output_1", "output_2", p.instruction, p.output_1, p.output_2)
        for p in pairs
    ]
    if probes:
        rules = load_rules(config.probe_rules)
        for p in pairs:
            v = make_variants(p.output_1, p.instruction, rules, config.seed, key=p.id)
            if v["padded"].text != p.output_1:
                items.append(
                    PairItem(
                        p.id,
                        "probe:padded",
                        "padded",
                        "original",
                        p.instruction,
                        v["padded"].text,
                        p.output_1,
                    )
                )
            if v["assertive"].text != v["hedged"].text:
                items.append(
                    PairItem(
                        p.id,
                        "probe:assertive_vs_hedged",
                        "assertive",
                        "hedged",
                        p.instruction,
                        v["assertive"].text,
                        v["hedged"].text,
                    )
                )
    return items


def run_validation(
    store: RunStore, config: RunConfig, pairs_name: str, limit: int | None, probes: bool
) -> tuple[dict[str, Any], StageSummary]:
    """Judge the labeled pairs (resuming) and compute the validation table."""
    path = resolve_pairs(pairs_name)
    pairs = load_pairs(path, limit=limit)
    judge: Judge = make_judge(config)
    store.update_manifest(
        validation={
            "pairs": str(path),
            "n": len(pairs),
            "judge": config.judge,
            "rubric": judge.rubric.key,
            "probes": probes,
        },
        config=config.to_dict(),
    )
    done = store.keys(PairwiseRecord)
    todo = [
        item
        for item in _items(pairs, config, probes)
        if not {
            (item.prompt_id, item.comparison, judge.spec, judge.rubric.key, judge.pairwise.key, o)
            for o in ("xy", "yx")
        }
        <= done
    ]
    summary = StageSummary("validate", done_before=len(done))
    started = time.perf_counter()
    judge_in_chunks(store, todo, judge.compare, "validate", 2, summary)
    summary.seconds = time.perf_counter() - started
    records = [
        r
        for r in store.read(PairwiseRecord)
        if r.judge == judge.spec
        and r.rubric == judge.rubric.key
        and r.template == judge.pairwise.key
    ]
    return table(pairs, records, judge, config), summary


def table(
    pairs: list[LabeledPair], records: list[PairwiseRecord], judge: Judge, config: RunConfig
) -> dict[str, Any]:
    """Accuracy, kappa, position statistics, the longer-answer baseline, LBR and CBR."""
    seed = config.seed
    by_comparison = paired_orders(records)
    orders = by_comparison.get(COMPARISON, {})
    judged = [p for p in pairs if p.id in orders]
    labels = [p.label for p in judged]
    predictions = [1 if sum(orders[p.id]) / 2 > 0.5 else 2 for p in judged]
    count = judge.backend.count_tokens
    mine = [r for r in records if r.comparison == COMPARISON]
    result: dict[str, Any] = {
        "pairs": len(pairs),
        "judged": len(judged),
        "failed": sum(1 for r in mine if r.error),
        "accuracy": accuracy(labels, predictions, seed=seed).to_dict(),
        "cohen_kappa": cohen_kappa(labels, predictions) if judged else None,
        "longer_baseline_accuracy": longer_baseline(
            labels,
            [count(p.output_1) for p in judged],
            [count(p.output_2) for p in judged],
            seed=seed,
        ).to_dict(),
        "label_1_share": sum(1 for x in labels if x == 1) / len(labels) if labels else None,
        "mean_mass": mean_ci([r.mass for r in mine if r.error is None], seed=seed).to_dict(),
        "position": None,
        "lbr": None,
        "cbr": None,
    }
    if orders:
        first = [orders[p.id][0] for p in judged]
        second = [1 - orders[p.id][1] for p in judged]
        result["position"] = position_stats(first, second, seed=seed).to_dict()
    for name, comparison in (("lbr", "probe:padded"), ("cbr", "probe:assertive_vs_hedged")):
        probe = by_comparison.get(comparison, {})
        if probe:
            values = list(probe.values())
            result[name] = preference_rate(
                [v[0] for v in values], [v[1] for v in values], seed=seed
            ).to_dict()
    return result
