"""Prediction-powered inference (PPI++) for a mean: many judge verdicts, a few human labels.

The estimator (Angelopoulos, Duchi & Zrnic, "PPI++", 2023) of the human mean ``E[Y]`` from
``n`` labeled items (human value ``Y``, judge prediction ``f``) and ``N`` unlabeled items
(judge prediction only)::

    theta = lam * mean(f_unlabeled) + mean(Y - lam * f_labeled)
    se^2  = var(lam * f_unlabeled) / N + var(Y - lam * f_labeled) / n
    lam   = cov(Y, f_labeled) / ((1 + n / N) * var(f_labeled ++ f_unlabeled)), clipped to [0, 1]

and the interval ``theta ± z * se`` (normal approximation). ``lam = 0`` is the human-only
mean; ``lam = 1`` is the original PPI. Whatever the judge's bias, ``theta`` is unbiased for
the human mean when the labeled items are a uniformly random subset; the judge only makes the
interval narrower, the more it correlates with the humans. The formulas follow
``ppi_py.ppi_mean_ci`` (the authors' package); a test checks both agree to 1e-12.

Every function works on a batch: arrays of shape ``(S, n)`` and ``(S, N)`` give ``S``
independent estimates at once (the simulations in the tests run thousands this way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from scipy.stats import t as t_dist

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PPIBatch:
    """PPI++ estimates for a batch of ``S`` problems (every field has shape ``(S,)``)."""

    value: FloatArray  # the prediction-powered estimate of the human mean
    se: FloatArray  # its standard error
    lam: FloatArray  # the power-tuning weight in [0, 1]
    classical: FloatArray  # the human-only mean of the labeled items
    classical_se: FloatArray  # its standard error (std / sqrt(n))
    z: float  # the normal quantile of the interval

    @property
    def low(self) -> FloatArray:
        """Lower end of the PPI interval."""
        return self.value - self.z * self.se

    @property
    def high(self) -> FloatArray:
        """Upper end of the PPI interval."""
        return self.value + self.z * self.se


def _two_d(x: ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=float)
    return arr[None, :] if arr.ndim == 1 else arr


def power_tuned_lambda(y: ArrayLike, f_labeled: ArrayLike, f_unlabeled: ArrayLike) -> FloatArray:
    """The PPI++ weight ``lam`` that minimises the estimate's variance, clipped to [0, 1]."""
    y2, fl, fu = _two_d(y), _two_d(f_labeled), _two_d(f_unlabeled)
    n, big_n = y2.shape[1], fu.shape[1]
    cov = ((y2 - y2.mean(1, keepdims=True)) * (fl - fl.mean(1, keepdims=True))).mean(1)
    var_f = np.concatenate([fl, fu], axis=1).var(1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = cov / ((1.0 + n / big_n) * var_f)
    lam = np.where(var_f > 1e-12, lam, 0.0)
    return np.clip(lam, 0.0, 1.0)


def ppi_mean(
    y: ArrayLike,
    f_labeled: ArrayLike,
    f_unlabeled: ArrayLike,
    confidence: float = 0.95,
    lam: float | None = None,
    small_sample: bool = True,
) -> PPIBatch:
    """PPI++ estimates of the human mean, one per row (a 1-D input is one problem).

    ``y`` and ``f_labeled`` are the human values and judge predictions of the labeled items,
    ``f_unlabeled`` the judge predictions of the other items. ``lam`` fixes the weight
    (0: humans only, 1: plain PPI); by default it is power-tuned. ``small_sample`` (default)
    uses the variance of the labeled items with ``n - 1`` degrees of freedom and the Student
    t quantile with ``n - 1`` degrees of freedom; off, the interval is exactly
    ``ppi_py.ppi_mean_ci``'s (population variances, normal quantile).
    """
    y2, fl, fu = _two_d(y), _two_d(f_labeled), _two_d(f_unlabeled)
    if y2.shape != fl.shape:
        raise ValueError(f"ppi_mean: y {y2.shape} and f_labeled {fl.shape} differ in shape")
    if y2.shape[0] != fu.shape[0]:
        raise ValueError("ppi_mean: labeled and unlabeled batches differ in size")
    n, big_n = y2.shape[1], fu.shape[1]
    if n < 2 or big_n < 1:
        raise ValueError(f"ppi_mean needs 2 labeled and 1 unlabeled item (n={n}, N={big_n})")
    weight = power_tuned_lambda(y2, fl, fu) if lam is None else np.full(y2.shape[0], float(lam))
    w = weight[:, None]
    rectifier = y2 - w * fl
    value = (w * fu).mean(1) + rectifier.mean(1)
    ddof = 1 if small_sample else 0
    se = np.sqrt((w * fu).var(1) / big_n + rectifier.var(1, ddof=ddof) / n)
    return PPIBatch(
        value=value,
        se=se,
        lam=weight,
        classical=y2.mean(1),
        classical_se=y2.std(1, ddof=ddof) / math.sqrt(n),
        z=quantile(confidence, n if small_sample else None),
    )


def quantile(confidence: float, n: int | None = None) -> float:
    """The two-sided quantile: Student t with ``n - 1`` degrees of freedom, normal without n."""
    if n is None:
        return float(norm.ppf(0.5 + confidence / 2))
    return float(t_dist.ppf(0.5 + confidence / 2, n - 1))


def labels_needed(
    y: ArrayLike,
    f_labeled: ArrayLike,
    f_unlabeled: ArrayLike,
    half_width: float,
    confidence: float = 0.95,
) -> int | None:
    """Labels for a PPI interval of ``±half_width``, at the measured judge-human relation.

    Uses the measured variances of ``Y - lam f`` and ``f`` (one problem, 1-D inputs). None
    when no number of labels reaches the width with this many unlabeled items.
    """
    y1, fl, fu = (np.asarray(a, dtype=float) for a in (y, f_labeled, f_unlabeled))
    lam = float(power_tuned_lambda(y1, fl, fu)[0])
    z = quantile(confidence)
    rectifier_var = float(np.var(y1 - lam * fl, ddof=1))
    imputed_var = lam**2 * float(np.var(fu)) / len(fu)
    room = half_width**2 - z**2 * imputed_var
    if room <= 0:
        return None
    return max(2, math.ceil(z**2 * rectifier_var / room))


def effective_labels(batch: PPIBatch, n: int) -> FloatArray:
    """How many human-only labels the PPI estimate is worth: var(human-only) / var(PPI) * n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(batch.se > 0, (batch.classical_se / batch.se) ** 2 * n, np.nan)
