"""Metrics of judge bias computed from per-item judge probabilities.

Conventions: a pairwise judgment gives P(first slot better), normalized over {A, B}, and
every comparison is judged in both orders. Intervals are bootstraps over prompts: pass the
prompt id of every item as ``clusters`` and all items of a prompt (both models' answers,
both orders) are resampled together. Position statistics live in
:mod:`evalharness.analysis.position` and are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from evalharness.analysis.estimate import (
    Estimate,
    FloatArray,
    as_probabilities,
    as_vector,
    same_length,
)
from evalharness.analysis.intervals import bootstrap_mean, holm, wilson, zero_test_p
from evalharness.analysis.position import PositionStats, position_stats, position_warning
from evalharness.analysis.settings import DEFAULT_STATS, StatsSettings
from evalharness.errors import HarnessError

__all__ = [
    "PositionStats",
    "exploitability",
    "familywise_shifts",
    "length_adjusted_rate",
    "longer_baseline",
    "net_preferences",
    "position_stats",
    "position_warning",
    "preference_rate",
    "score_shift",
]

TIE_TOLERANCE = 1e-9


def _pair(
    where: str, first: Sequence[float], second: Sequence[float], names: tuple[str, str]
) -> tuple[FloatArray, FloatArray]:
    a = as_probabilities(first, names[0], where)
    b = as_probabilities(second, names[1], where)
    same_length(where, **{names[0]: a, names[1]: b})
    return a, b


def net_preferences(p_x_first: Sequence[float], p_x_second: Sequence[float]) -> FloatArray:
    """Per item, the mean over both orders of P(X≻Y) − P(Y≻X), in [-1, 1]."""
    a, b = _pair("net_preferences", p_x_first, p_x_second, ("p_x_first", "p_x_second"))
    return ((2.0 * a - 1.0) + (2.0 * b - 1.0)) / 2.0


def preference_rate(
    p_x_first: Sequence[float],
    p_x_second: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Net preference for variant X over Y, from -1 (always Y) through 0 (none) to +1 (always X).

    ``p_x_first[i]`` is P(A) with X in slot A and ``p_x_second[i]`` is P(B) with X in slot
    B, i.e. the probability that X wins in each order. With X the padded and Y the
    original response this is the length bias rate (LBR); with X assertive and Y hedged,
    the confidence bias rate (CBR). A degenerate interval means every item agreed.
    """
    d = net_preferences(p_x_first, p_x_second)
    return bootstrap_mean(d, settings, where="preference_rate", clusters=clusters)


def score_shift(
    orig: Sequence[float],
    variant: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Mean paired change ``variant - orig`` of an expected pointwise score, with a CI."""
    where = "score_shift"
    a, b = as_vector(variant, "variant", where), as_vector(orig, "orig", where)
    same_length(where, variant=a, orig=b)
    return bootstrap_mean(a - b, settings, where=where, clusters=clusters)


def familywise_shifts(
    tests: Mapping[Any, tuple[Sequence[float], Sequence[Hashable] | None]], alpha: float
) -> dict[Any, tuple[bool, float]]:
    """Holm over every (probe, criterion) shift: key -> (significant, adjusted p).

    Each test is ``(differences, clusters)``; its p-value is a t-test of the cluster
    means against 0 (see :func:`zero_test_p`).
    """
    keys = list(tests)
    raw = [zero_test_p(np.asarray(tests[k][0], dtype=float), tests[k][1]) for k in keys]
    reject, adjusted = holm(raw, alpha)
    return {k: (r, p) for k, r, p in zip(keys, reject, adjusted, strict=True)}


def _abs_key(item: tuple[str, Estimate]) -> tuple[bool, float, str]:
    name, est = item
    missing = math.isnan(est.value)
    return (missing, -abs(est.value) if not missing else 0.0, name)


def exploitability(
    shifts: Mapping[str, Estimate],
    significance: Mapping[str, tuple[bool, float]] | None = None,
) -> dict[str, object]:
    """The criterion (or tied criteria) a probe moves most, from per-criterion score shifts.

    Returns ``criterion`` (the name with the largest absolute mean shift, or the tied names
    joined by " = "), ``tied`` (every name sharing that largest shift), ``shift``,
    ``ranking`` (largest first, undefined last), ``significant_criteria`` and
    ``significant`` (whether a top criterion is significant). Significance comes from
    ``significance`` (name -> (reject, adjusted p), e.g. Holm over all probes and
    criteria); without it, from whether the criterion's interval excludes 0.
    """
    for name, est in shifts.items():
        if not isinstance(est, Estimate):
            raise HarnessError(f"exploitability: shift for {name!r} is not an Estimate")
    ranking = sorted(shifts.items(), key=_abs_key)
    names = [name for name, _ in ranking]

    def is_significant(name: str) -> bool:
        if significance is not None:
            return bool(significance.get(name, (False, 1.0))[0])
        return shifts[name].excludes(0.0)

    adjusted = {k: v[1] for k, v in (significance or {}).items() if k in shifts}
    significant = [n for n in names if is_significant(n)]
    empty: dict[str, object] = {
        "criterion": None,
        "tied": [],
        "shift": None,
        "ranking": names,
        "significant": False,
        "significant_criteria": significant,
        "adjusted_p": adjusted,
    }
    if not ranking or math.isnan(ranking[0][1].value):
        return empty
    top = abs(ranking[0][1].value)
    tied = [
        n for n, e in ranking if not math.isnan(e.value) and abs(e.value) >= top - TIE_TOLERANCE
    ]
    return {
        **empty,
        "criterion": " = ".join(tied),
        "tied": tied,
        "shift": float(ranking[0][1].value),
        "significant": any(is_significant(n) for n in tied),
    }


def longer_baseline(
    labels: Sequence[int],
    len_1: Sequence[float],
    len_2: Sequence[float],
    confidence: float = 0.95,
) -> Estimate:
    """Accuracy of always picking the longer response against labels 1/2 (equal length: half).

    A proportion with half votes, with a Wilson interval (no bootstrap: only the confidence
    level applies).
    """
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
    return wilson(float(score.sum()), len(score), confidence)


def length_adjusted_rate(
    net: Sequence[float] | np.ndarray,
    d_len: Sequence[float],
    clusters: Sequence[Hashable] | None = None,
    settings: StatsSettings = DEFAULT_STATS,
) -> Estimate:
    """Net preference read at equal length: the intercept of ``net ~ 1 + sign(Δlen)``.

    ``Δlen`` is the length difference of the two variants (X − Y, in tokens); the
    regressor is which one is longer, so a judge that prefers the longer answer (by any
    margin) leaves the intercept, the preference at equal length, untouched. Least squares
    (statsmodels) with cluster-robust errors over ``clusters`` (prompts) and a t interval.
    When every ``Δlen`` is 0 this is the plain mean with its bootstrap interval.
    """
    confidence = settings.confidence
    import statsmodels.api as sm

    where = "length_adjusted_rate"
    y = as_vector(net, "net", where)
    x = np.sign(as_vector(d_len, "d_len", where))
    n = same_length(where, net=y, d_len=x)
    if n == 0 or not np.any(x != 0):
        est = bootstrap_mean(y, settings, where=where, clusters=clusters)
        return Estimate(est.value, est.low, est.high, est.n, _note_join(est.note, "lengths equal"))
    nan = float("nan")
    if np.ptp(x) == 0.0:
        why = "every pair has the same variant longer; the preference at equal length is unknown"
        return Estimate(nan, nan, nan, n, why)
    index: dict[Hashable, int] = {}
    codes = np.array([index.setdefault(c, len(index)) for c in (clusters or range(n))])
    note = "intercept of the net preference on which variant is longer (cluster-robust)"
    if x.min() > 0 or x.max() < 0:
        note += "; no pair has equal length: an extrapolation"
    design = np.column_stack([np.ones(n), x])
    if np.ptp(y) == 0.0 or len(index) < 3:
        fit = sm.OLS(y, design).fit()
        value = float(fit.params[0])
        if np.ptp(y) == 0.0:
            return Estimate(value, value, value, len(index), note + "; all values equal")
        return Estimate(value, nan, nan, len(index), note + "; too few prompts for an interval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": codes})
        low, high = fit.conf_int(alpha=1.0 - confidence)[0]
    value = float(fit.params[0])
    if not (math.isfinite(low) and math.isfinite(high)):
        return Estimate(value, nan, nan, len(index), note + "; no finite interval")
    return Estimate(value, min(float(low), value), max(float(high), value), len(index), note)


def _note_join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
