"""Weighted logistic regression without intercept, fitted for many weight vectors at once.

The Bradley–Terry fit of :mod:`evalharness.analysis.ratings` is a logistic regression with a
fractional response: the target of a battle is the judge's soft preference ``p`` itself, so
the loss is ``-sum w * (p log mu + (1 - p) log(1 - mu))`` — the same as duplicating every
battle as a win weighted ``p`` and a loss weighted ``1 - p`` (Arena-Hard's approach), and the
same estimate as statsmodels' ``GLM(p, X, family=Binomial())`` (``tests/test_ratings.py``
checks the two agree).

A prompt-clustered bootstrap resample is a weight vector (how often each prompt was drawn),
so all resamples are fitted together by Newton's method on a stack of weight vectors: a few
matrix products per step (the Hessians of all fits are one product of the curvature
weights with the rows' outer products) instead of hundreds of separate solver calls. A tiny
ridge term (``ridge``) keeps the Hessian invertible when a resample happens to separate the data.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from evalharness.analysis.battles import FloatArray

MAX_STEP = 5.0


def fit_logistic(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    ridge: float = 1e-6,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[FloatArray, bool]:
    """Coefficients for each row of ``weights`` (shape ``(B, n)``): returns ``(B, p)``.

    ``x`` is ``(n, p)``, ``y`` the fractional response in [0, 1]. The second value says
    whether every fit converged (largest Newton step below ``tol``). The products are small,
    so BLAS runs single-threaded here (threads cost more than they save, often 30x).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _newton(x, y, weights, ridge, tol, max_iter)


def _newton(
    x: FloatArray, y: FloatArray, weights: FloatArray, ridge: float, tol: float, max_iter: int
) -> tuple[FloatArray, bool]:
    n_fits, n_features = weights.shape[0], x.shape[1]
    beta = np.zeros((n_fits, n_features))
    eye = np.eye(n_features)
    outer = (x[:, :, None] * x[:, None, :]).reshape(len(x), n_features * n_features)
    scale = ridge * np.maximum(weights.sum(axis=1), 1.0)
    for _ in range(max_iter):
        mu = expit(beta @ x.T)
        gradient = (weights * (y - mu)) @ x - scale[:, None] * beta
        curvature = weights * mu * (1.0 - mu)
        hessian = (curvature @ outer).reshape(n_fits, n_features, n_features)
        hessian += scale[:, None, None] * eye
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        largest = np.max(np.abs(step), axis=1, keepdims=True)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(largest, 1e-300))
        beta += step
        if float(np.max(np.abs(step))) < tol:
            return beta, True
    return beta, False


def cluster_weights(
    prompt_index: FloatArray | np.ndarray[tuple[int], np.dtype[np.int64]],
    n_prompts: int,
    n_resamples: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Row weights of ``n_resamples`` prompt-clustered bootstrap resamples, ``(B, n)``.

    Each resample draws ``n_prompts`` prompts with replacement; every battle of a drawn
    prompt gets weight = the number of times its prompt was drawn.
    """
    counts = rng.multinomial(n_prompts, np.full(n_prompts, 1.0 / n_prompts), size=n_resamples)
    return counts[:, np.asarray(prompt_index, dtype=np.int64)].astype(np.float64)
