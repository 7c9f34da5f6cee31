"""``judge-validate --labeled K``: the prediction-powered estimate checked on real human labels.

Of the judged labeled pairs, a random K keep their labels and the rest are treated as
unlabeled; the PPI++ estimate of the human preference rate for ``output_1`` is reported next
to the truth computed from all labels, with the human-only and judge-only estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalharness.analysis.human import ppi_section
from evalharness.analysis.ppi import quantile
from evalharness.analysis.run import paired_orders
from evalharness.analysis.stats import Estimate
from evalharness.config import RunConfig
from evalharness.errors import ConfigError
from evalharness.pairs import load_pairs, resolve_pairs
from evalharness.records import VALIDATE_COMPARISON, PairwiseRecord
from evalharness.runstore import RunStore
from evalharness.templates import JudgeSetup, resolve_judge_setup

COMPARISON = VALIDATE_COMPARISON


def labeled_check(labels: list[int], p_first: list[float], k: int, seed: int) -> dict[str, Any]:
    """PPI estimate of P(output_1 preferred) from ``k`` random labels and the judge on all.

    ``labels`` are 1 or 2 per pair, ``p_first`` the judge's probability that output_1 is
    better (both orders averaged).
    """
    y = np.array([1.0 if label == 1 else 0.0 for label in labels])
    f = np.asarray(p_first, dtype=float)
    if not 2 <= k < len(y):
        raise ConfigError(f"--labeled must be between 2 and {len(y) - 1} (judged pairs: {len(y)})")
    order = np.random.default_rng(seed).permutation(len(y))
    lab, unl = order[:k], order[k:]
    section = ppi_section(y[lab], f[lab], f[unl])
    assert section is not None
    truth = float(y.mean())
    ppi = section["ppi"]
    judge_se = float(f.std(ddof=1) / np.sqrt(len(f)))
    z = quantile(0.95, len(f))
    judge = Estimate(float(f.mean()), f.mean() - z * judge_se, f.mean() + z * judge_se, len(f))
    return {
        "labeled": k,
        "unlabeled": len(y) - k,
        "seed": seed,
        "truth": truth,
        "ppi": ppi,
        "human_only": section["human_only"],
        "judge_only": judge.to_dict(),
        "covered": ppi["low"] is not None and ppi["low"] <= truth <= ppi["high"],
        "lambda": section["lambda"],
        "effective_labels": section["effective_labels"],
        "labels_needed": section["labels_needed"],
    }


def labeled_check_for(
    store: RunStore,
    config: RunConfig,
    pairs_name: str,
    limit: int | None,
    k: int,
    setup: JudgeSetup | None = None,
    *,
    sample: int | None = None,
) -> dict[str, Any]:
    """Run :func:`labeled_check` on a judge-validate directory's records (those of the judge
    setup, resolved from ``config`` if None; ``sample``: that many pairs, drawn with the seed)."""
    pairs = load_pairs(resolve_pairs(pairs_name), limit=limit, sample=sample, seed=config.seed)
    setup = setup or resolve_judge_setup(config)
    records = [r for r in store.read(PairwiseRecord) if setup.owns(r)]
    orders = paired_orders(records).get(COMPARISON, {})
    judged = [p for p in pairs if p.id in orders]
    return labeled_check(
        [p.label for p in judged], [sum(orders[p.id]) / 2 for p in judged], k, config.seed
    )


def print_labeled_check(result: dict[str, Any]) -> None:
    """The check as a few lines on the terminal."""
    from evalharness.progress import console
    from evalharness.report.content import fmt_est

    console.print(
        f"human preference for output_1, {result['labeled']} labels + judge on "
        f"{result['unlabeled']} pairs (PPI++): {fmt_est(result['ppi'], 'pct')}; "
        f"truth from all labels: {result['truth']:.0%} "
        f"({'covered' if result['covered'] else 'NOT covered'})"
    )
    console.print(
        f"  labels only: {fmt_est(result['human_only'], 'pct')}   "
        f"judge only: {fmt_est(result['judge_only'], 'pct')}   "
        f"effective labels: {result['effective_labels'] or 0:.0f}"
    )
