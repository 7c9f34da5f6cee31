"""Confidence intervals: Wilson for proportions, a cluster bootstrap for means, Holm for families.

"Over prompts" means a cluster bootstrap: every value carries the id of the prompt it came
from, and a resample draws whole prompts, so both models' answers, both orders and every
probe of a prompt move together. Without cluster ids each value is its own unit.

An interval is missing (NaN bounds) only where there is no data, or a single unit. When
every value is the same the interval is ``[v, v]`` (a degenerate, fully certain finding)
and its note says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence

import numpy as np

from evalharness.analysis.estimate import (
    NAN,
    Estimate,
    FloatArray,
    check_settings,
    join_notes,
    warning_text,
)
from evalharness.analysis.settings import DEFAULT_STATS, StatsSettings
from evalharness.errors import HarnessError

DEGENERATE_NOTE = "all values equal; degenerate interval"


def wilson(count: float, nobs: int, confidence: float = 0.95, note: str = "") -> Estimate:
    """Share ``count / nobs`` with a Wilson score interval (statsmodels).

    ``count`` may hold halves (a tie counted as half a vote). ``0/n`` and ``n/n`` still
    get an interval; ``nobs == 0`` gives NaN with the note ``"no data"``.
    """
    from statsmodels.stats.proportion import proportion_confint

    if nobs <= 0:
        return Estimate(NAN, NAN, NAN, 0, join_notes(note, "no data"))
    if not (0.0 <= count <= nobs):
        raise HarnessError(f"wilson: count {count!r} is not within 0..{nobs}")
    low, high = proportion_confint(count, nobs, alpha=1.0 - confidence, method="wilson")
    return Estimate(count / nobs, float(low), float(high), int(nobs), join_notes(note, "Wilson"))


def _cluster_sums(
    x: FloatArray, clusters: Sequence[Hashable] | None
) -> tuple[FloatArray, FloatArray]:
    """Per-cluster sums of ``x`` and per-cluster counts, in first-seen cluster order."""
    if clusters is None:
        return x, np.ones_like(x)
    if len(clusters) != len(x):
        raise HarnessError(f"cluster bootstrap: {len(x)} values but {len(clusters)} cluster ids")
    index: dict[Hashable, int] = {}
    codes = np.array([index.setdefault(c, len(index)) for c in clusters], dtype=int)
    sums = np.bincount(codes, weights=x, minlength=len(index)).astype(float)
    counts = np.bincount(codes, minlength=len(index)).astype(float)
    return sums, counts


def _ratio(sums: FloatArray, counts: FloatArray, axis: int = -1) -> FloatArray:
    ratio: FloatArray = np.sum(sums, axis=axis) / np.sum(counts, axis=axis)
    return ratio


def bootstrap_mean(
    x: FloatArray,
    settings: StatsSettings = DEFAULT_STATS,
    note: str = "",
    where: str = "bootstrap_mean",
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Mean of ``x`` with a (cluster) bootstrap interval: BCa, else percentile.

    With ``clusters`` (one id per value) whole clusters are resampled and the statistic is
    the mean over the resampled values; ``n`` is then the number of clusters. ``note`` is
    prepended to the estimate's note and ``where`` names the caller in errors.
    """
    seed, n_resamples, confidence = settings.seed, settings.n_resamples, settings.confidence
    from scipy.stats import bootstrap

    check_settings(where, n_resamples, confidence)
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return Estimate(NAN, NAN, NAN, 0, join_notes(note, "no data"))
    sums, counts = _cluster_sums(x, clusters)
    n = len(sums)
    value = float(np.mean(x))
    if n == 1:
        return Estimate(value, NAN, NAN, 1, join_notes(note, "one unit; no interval"))
    if np.ptp(x) == 0.0:
        return Estimate(value, value, value, n, join_notes(note, DEGENERATE_NOTE))
    notes = [note] + ([f"cluster bootstrap over {n} prompts"] if clusters is not None else [])
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = bootstrap(
                (sums, counts),
                _ratio,
                n_resamples=n_resamples,
                confidence_level=confidence,
                method=method,
                vectorized=True,
                paired=True,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            if caught:
                notes.append(f"{method} interval: {warning_text(caught)}")
            # A bootstrap interval never lies outside the values' range; BCa can round past it.
            low, high = max(low, float(x.min())), min(high, float(x.max()))
            return Estimate(value, min(low, value), max(high, value), n, join_notes(*notes))
        notes.append(f"{method} interval undefined ({warning_text(caught) or 'non-finite'})")
    return Estimate(value, NAN, NAN, n, join_notes(*notes))


def cluster_means(x: FloatArray, clusters: Sequence[Hashable] | None) -> FloatArray:
    """The mean of ``x`` within each cluster (each value alone without clusters)."""
    sums, counts = _cluster_sums(np.asarray(x, dtype=float), clusters)
    return sums / counts


def zero_test_p(x: FloatArray, clusters: Sequence[Hashable] | None = None) -> float:
    """Two-sided p-value that the mean of ``x`` is 0: a t-test on the cluster means.

    Degenerate cases: no data or one cluster gives 1.0 (nothing can be concluded); cluster
    means that are all equal give 0.0 when they are not 0 (a deterministic shift), else 1.0.
    """
    from scipy.stats import ttest_1samp

    if len(x) == 0:
        return 1.0
    means = cluster_means(x, clusters)
    if len(means) < 2:
        return 1.0
    if np.ptp(means) == 0.0:
        return 0.0 if means[0] != 0.0 else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(ttest_1samp(means, 0.0).pvalue)
    return p if math.isfinite(p) else 1.0


def holm(pvalues: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm's step-down familywise correction: reject flags and adjusted p-values.

    Gives the same result as statsmodels' ``multipletests(method="holm")`` (checked in the
    tests), which is not called here because it runs a full ``gc.collect()`` on every call
    (about 0.1 s), too slow for the simulations that check every warning.
    """
    m = len(pvalues)
    if m == 0:
        return [], []
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(steps, 1.0)
    return [bool(a <= alpha) for a in adjusted], [float(a) for a in adjusted]


def percentile_interval(values: FloatArray, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap values."""
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


def bootstrap_p(values: FloatArray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value of ``null``: twice the smaller tail share, (k+1)/(B+1)."""
    b = len(values)
    if b == 0:
        return 1.0
    below = (np.sum(values <= null) + 1) / (b + 1)
    above = (np.sum(values >= null) + 1) / (b + 1)
    return float(min(1.0, 2.0 * min(below, above)))
