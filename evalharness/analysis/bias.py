"""Metrics of judge bias computed from per-item judge probabilities.

Conventions: a pairwise judgment gives P(first slot better), normalized over {A, B}, and
every comparison is judged in both orders.  Intervals are bootstraps over items (the
pair, not the single judgment), so both orders of an item are always resampled together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalharness.analysis.stats import (
    Estimate,
    FloatArray,
    as_probabilities,
    as_vector,
    bootstrap_mean,
    paired_mean_diff_ci,
    same_length,
)
from evalharness.errors import HarnessError


def _pair(
    where: str, first: Sequence[float], second: Sequence[float], names: tuple[str, str]
) -> tuple[FloatArray, FloatArray]:
    a = as_probabilities(first, names[0], where)
    b = as_probabilities(second, names[1], where)
    same_length(where, **{names[0]: a, names[1]: b})
    return a, b


def preference_rate(
    p_x_first: Sequence[float],
    p_x_second: Sequence[float],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Net preference for variant X over Y, from -1 (always Y) through 0 (none) to +1 (always X).

    ``p_x_first[i]`` is P(A) with X in slot A and ``p_x_second[i]`` is P(B) with X in slot
    B, i.e. the probability that X wins in each order.  Per item the net preference is the
    mean over both orders of P(X≻Y) − P(Y≻X).  With X the padded and Y the original
    response this is the length bias rate (LBR); with X assertive and Y hedged, the
    confidence bias rate (CBR).
    """
    where = "preference_rate"
    a, b = _pair(where, p_x_first, p_x_second, ("p_x_first", "p_x_second"))
    d = ((2.0 * a - 1.0) + (2.0 * b - 1.0)) / 2.0
    return bootstrap_mean(d, seed, n_resamples, confidence, where=where)


@dataclass(frozen=True)
class PositionStats:
    """How much a pairwise judge's verdicts depend on the slot rather than the response.

    ``consistency``: share of items whose hard verdict names the same response in both
    orders.  ``first_slot_share``: share of all 2n hard verdicts that went to slot A (an
    exact 0.5 counts half to each slot).  ``mean_p_first``: mean P(A) over all 2n
    judgments.  Intervals are bootstraps over items.
    """

    consistency: Estimate
    first_slot_share: Estimate
    mean_p_first: Estimate

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "consistency": self.consistency.to_dict(),
            "first_slot_share": self.first_slot_share.to_dict(),
            "mean_p_first": self.mean_p_first.to_dict(),
        }


def _slot_a_verdict(p_a: FloatArray) -> FloatArray:
    return np.where(p_a > 0.5, 1.0, np.where(p_a < 0.5, 0.0, 0.5))


def position_stats(
    p_a_order1: Sequence[float],
    p_a_order2: Sequence[float],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> PositionStats:
    """Position consistency and first-slot preference of a pairwise judge.

    Order 1 puts X in slot A (P(A) = ``p_a_order1[i]``); order 2 puts X in slot B
    (P(A) = ``p_a_order2[i]``).  An item is consistent when the same response wins in both
    orders, ``(p1 > 0.5) == (p2 < 0.5)``; an exact 0.5 in either order is inconsistent.
    """
    where = "position_stats"
    p1, p2 = _pair(where, p_a_order1, p_a_order2, ("p_a_order1", "p_a_order2"))
    consistent = ((p1 > 0.5) & (p2 < 0.5)) | ((p1 < 0.5) & (p2 > 0.5))
    share = (_slot_a_verdict(p1) + _slot_a_verdict(p2)) / 2.0
    mean_p = (p1 + p2) / 2.0
    return PositionStats(
        consistency=bootstrap_mean(
            consistent.astype(float), seed, n_resamples, confidence, where=where
        ),
        first_slot_share=bootstrap_mean(share, seed, n_resamples, confidence, where=where),
        mean_p_first=bootstrap_mean(mean_p, seed, n_resamples, confidence, where=where),
    )


def score_shift(
    orig: Sequence[float],
    variant: Sequence[float],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Mean paired change ``variant - orig`` of an expected pointwise score, with a CI."""
    return paired_mean_diff_ci(
        variant, orig, seed=seed, n_resamples=n_resamples, confidence=confidence
    )


def _abs_key(item: tuple[str, Estimate]) -> tuple[bool, float, str]:
    name, est = item
    missing = math.isnan(est.value)
    return (missing, -abs(est.value) if not missing else 0.0, name)


def exploitability(shifts: Mapping[str, Estimate]) -> dict[str, object]:
    """The criterion a probe moves most, from per-criterion score shifts.

    Returns ``{"criterion", "shift", "ranking", "significant"}``: the name with the
    largest absolute mean shift, its shift, all names by absolute shift (largest first,
    undefined shifts last), and whether that criterion's interval excludes 0.  With no
    defined shift, ``criterion`` and ``shift`` are None.
    """
    for name, est in shifts.items():
        if not isinstance(est, Estimate):
            raise HarnessError(f"exploitability: shift for {name!r} is not an Estimate")
    ranking = sorted(shifts.items(), key=_abs_key)
    names = [name for name, _ in ranking]
    if not ranking or math.isnan(ranking[0][1].value):
        return {"criterion": None, "shift": None, "ranking": names, "significant": False}
    top_name, top = ranking[0]
    return {
        "criterion": top_name,
        "shift": float(top.value),
        "ranking": names,
        "significant": top.excludes(0.0),
    }


def longer_baseline(
    labels: Sequence[int],
    len_1: Sequence[int],
    len_2: Sequence[int],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Accuracy of always picking the longer response against labels 1/2 (equal length: 0.5)."""
    where = "longer_baseline"
    y = as_vector(labels, "labels", where)
    l1, l2 = as_vector(len_1, "len_1", where), as_vector(len_2, "len_2", where)
    same_length(where, labels=y, len_1=l1, len_2=l2)
    bad = np.flatnonzero((y != 1) & (y != 2))
    if bad.size:
        i = int(bad[0])
        raise HarnessError(f"{where}: labels[{i}] = {y[i]:g}; expected 1 or 2")
    longer = np.where(l1 > l2, 1.0, 2.0)
    score = np.where(l1 == l2, 0.5, (longer == y).astype(float))
    return bootstrap_mean(score, seed, n_resamples, confidence, where=where)
