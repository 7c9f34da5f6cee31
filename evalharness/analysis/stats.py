"""Win rates, accuracy and agreement; re-exports the estimate, interval and controlled modules.

Every interval is formed with the caller's ``n_resamples`` and ``confidence`` (the run's
``bootstrap`` and ``confidence`` settings). Proportions get a Wilson interval; means a
bootstrap over units (see :mod:`evalharness.analysis.intervals`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalharness.analysis.controlled import (
    ControlledRate,
    ControlledWinRate,
    controlled_win_rate,
)
from evalharness.analysis.estimate import (
    MIN_RESAMPLES,
    NAN,
    Estimate,
    FloatArray,
    as_probabilities,
    as_vector,
    check_settings,
    same_length,
)
from evalharness.analysis.intervals import bootstrap_mean, wilson
from evalharness.analysis.settings import DEFAULT_STATS, StatsSettings
from evalharness.errors import HarnessError

__all__ = [
    "MIN_RESAMPLES",
    "ControlledRate",
    "ControlledWinRate",
    "Estimate",
    "FloatArray",
    "accuracy",
    "as_probabilities",
    "as_vector",
    "bootstrap_mean",
    "cohen_kappa",
    "controlled_win_rate",
    "kappa_ci",
    "mean_ci",
    "outcome",
    "paired_mean_diff_ci",
    "same_length",
    "win_rate",
]


def mean_ci(
    values: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Mean of ``values`` with a bootstrap interval (over ``clusters`` when given)."""
    n_resamples, confidence = settings.n_resamples, settings.confidence
    check_settings("mean_ci", n_resamples, confidence)
    x = as_vector(values, "values", "mean_ci")
    return bootstrap_mean(x, settings, where="mean_ci", clusters=clusters)


def paired_mean_diff_ci(
    a: Sequence[float],
    b: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Mean of the paired differences ``a[i] - b[i]``, resampling pairs (or clusters) together."""
    n_resamples, confidence = settings.n_resamples, settings.confidence
    where = "paired_mean_diff_ci"
    check_settings(where, n_resamples, confidence)
    xa, xb = as_vector(a, "a", where), as_vector(b, "b", where)
    same_length(where, a=xa, b=xb)
    return bootstrap_mean(xa - xb, settings, where=where, clusters=clusters)


# --------------------------------------------------------------------------- win rates


def _check_tie_band(where: str, tie_band: float) -> None:
    if not (math.isfinite(tie_band) and 0.0 <= tie_band < 1.0):
        raise HarnessError(f"{where}: tie_band must be in [0, 1), got {tie_band!r}")


def outcome(p_tuned: float, tie_band: float = 0.1) -> str:
    """Classify a soft preference for the tuned response as ``"win"``, ``"tie"`` or ``"loss"``.

    ``p_tuned`` is the probability that the tuned response is better (averaged over both
    orders).  It is a win above ``0.5 + tie_band/2``, a loss below ``0.5 - tie_band/2``,
    and a tie in between (edges included).
    """
    _check_tie_band("outcome", tie_band)
    if not (isinstance(p_tuned, numbers.Real) and 0.0 <= p_tuned <= 1.0):
        raise HarnessError(f"outcome: p_tuned = {p_tuned!r} is not a probability in [0, 1]")
    if p_tuned > 0.5 + tie_band / 2:
        return "win"
    if p_tuned < 0.5 - tie_band / 2:
        return "loss"
    return "tie"


_OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def win_rate(
    p_tuned: Sequence[float],
    tie_band: float = 0.1,
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> Estimate:
    """Share of prompts the tuned model wins, a tie counting one half, with a bootstrap CI.

    When every prompt has the same outcome the interval is degenerate (``[v, v]``);
    ``clusters`` (e.g. conversation ids) are resampled whole.
    """
    n_resamples, confidence = settings.n_resamples, settings.confidence
    where = "win_rate"
    _check_tie_band(where, tie_band)
    check_settings(where, n_resamples, confidence)
    p = as_probabilities(p_tuned, "p_tuned", where)
    scores = np.array([_OUTCOME_SCORE[outcome(float(v), tie_band)] for v in p], dtype=float)
    return bootstrap_mean(scores, settings, where=where, clusters=clusters)


# --------------------------------------------------------------------------- agreement


def _as_labels(values: Sequence[Any], name: str, where: str) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise HarnessError(f"{where}: {name} must be one-dimensional, got shape {arr.shape}")
    return arr


def cohen_kappa(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Cohen's kappa between two labelings; NaN when undefined (no data, or chance agreement 1)."""
    from sklearn.metrics import cohen_kappa_score

    where = "cohen_kappa"
    y1, y2 = _as_labels(labels, "labels", where), _as_labels(predictions, "predictions", where)
    same_length(where, labels=y1, predictions=y2)
    if len(y1) == 0:
        return NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kappa = float(cohen_kappa_score(y1, y2))
        except (ValueError, ZeroDivisionError):
            return NAN
    return kappa if math.isfinite(kappa) else NAN


def _soft_kappa(label_1: FloatArray, vote_1: FloatArray) -> FloatArray:
    """Kappa of binary labels against votes for label 1 in [0, 1] (a tie is half a vote).

    Both arrays may carry leading resample axes; the statistic is over the last axis.
    """
    agree = np.mean(label_1 * vote_1 + (1 - label_1) * (1 - vote_1), axis=-1)
    r, q = np.mean(label_1, axis=-1), np.mean(vote_1, axis=-1)
    chance = r * q + (1 - r) * (1 - q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((agree - chance) / (1 - chance), dtype=float)


def kappa_ci(
    labels: Sequence[int],
    votes_for_1: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
) -> Estimate:
    """Cohen's kappa of labels (1/2) and votes for label 1 (1, 0, or 0.5 for a tie).

    Without ties it equals Cohen's kappa; a tie counts half an agreement. The interval is
    a percentile bootstrap over items (resamples where kappa is undefined are counted).
    """
    seed, n_resamples, confidence = settings.seed, settings.n_resamples, settings.confidence
    where = "kappa_ci"
    check_settings(where, n_resamples, confidence)
    y = as_vector(labels, "labels", where)
    v = as_probabilities(votes_for_1, "votes_for_1", where)
    n = same_length(where, labels=y, votes_for_1=v)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, "no data")
    label_1 = (y == 1).astype(float)
    value = float(_soft_kappa(label_1, v))
    if not math.isfinite(value):
        return Estimate(NAN, NAN, NAN, n, "undefined: chance agreement is 1")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    boot = _soft_kappa(label_1[idx], v[idx])
    ok = np.isfinite(boot)
    if ok.sum() < 0.95 * n_resamples:
        why = f"kappa undefined in {int((~ok).sum())} of {n_resamples} resamples; no interval"
        return Estimate(value, NAN, NAN, n, why)
    alpha = 1.0 - confidence
    low, high = np.quantile(boot[ok], [alpha / 2, 1 - alpha / 2])
    note = f"{int((~ok).sum())} undefined resamples left out" if (~ok).any() else ""
    return Estimate(value, min(float(low), value), max(float(high), value), n, note)


def accuracy(
    labels: Sequence[int],
    predictions: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
) -> Estimate:
    """Share of predictions equal to their label, with a Wilson interval.

    A prediction of ``1.5`` (a tie between labels 1 and 2) counts as half a vote.
    """
    n_resamples, confidence = settings.n_resamples, settings.confidence
    where = "accuracy"
    check_settings(where, n_resamples, confidence)
    y1, y2 = _as_labels(labels, "labels", where), _as_labels(predictions, "predictions", where)
    n = same_length(where, labels=y1, predictions=y2)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, "no data")
    pred = y2.astype(float)
    correct = np.where(pred == 1.5, 0.5, (y1.astype(float) == pred).astype(float))
    return wilson(float(correct.sum()), n, confidence)
