"""Bradley–Terry ratings of many models from judged battles, with and without style control.

The model: ``P(A beats B) = logistic(theta_A - theta_B + sum_k gamma_k * s_k)``, fitted on the
judge's soft preferences (:mod:`evalharness.analysis.btfit`). ``theta`` is reported on the
Elo-like scale Arena-Hard uses, ``rating = 1000 + theta * 400 / ln 10``, anchored so that the
reference model (the first model seen unless given) is exactly 1000: 400 points = 10:1 odds.

* **raw ratings**: no style covariates.
* **style-controlled ratings**: covariates ``s_k`` for the A - B differences of length
  (normalized, ``(a - b) / (a + b)``), markdown density and confidence-marker density, each
  divided by its standard deviation over the battles (not centred, so "style held fixed"
  means "both answers alike in style"). The ``gamma_k`` are reported with intervals, in
  logits and in rating points per standard deviation; each model's rating is then its
  strength with style held fixed.

Intervals come from a prompt-clustered bootstrap (every battle of a prompt, both orders
included, moves together), percentile method; the rank interval is the percentile interval
of the model's rank (1 = best) over the resamples. Failed or undecided battles are excluded
and counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalharness.analysis.battles import Battle, Design, FloatArray, build_design
from evalharness.analysis.btfit import cluster_weights, fit_logistic
from evalharness.analysis.estimate import check_settings
from evalharness.analysis.settings import DEFAULT_STATS, StatsSettings

SCALE = 400.0 / math.log(10.0)
BASE_RATING = 1000.0
CHUNK = 250


@dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its bootstrap interval (NaN when not estimable)."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within ``[low, high]``."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class ModelRating:
    """One model's rating, win probability against the reference and rank (1 = best)."""

    model: str
    rating: Interval
    win_vs_reference: Interval
    rank: int
    rank_low: int
    rank_high: int
    battles: int


@dataclass(frozen=True)
class StyleCoefficient:
    """A style covariate's effect per standard deviation of its A - B difference.

    ``estimable`` is False when the difference was constant (e.g. no answer used markdown);
    the covariate is then left out and its intervals are NaN.
    """

    name: str
    logit: Interval
    points: Interval
    scale: float
    estimable: bool


@dataclass(frozen=True)
class Ratings:
    """Raw and style-controlled ratings of every model, in ``models`` order (reference first).

    ``win_matrix[i][j]`` is P(models[i] beats models[j]) from the raw ratings,
    ``controlled_win_matrix`` the same with style held fixed.
    """

    reference: str
    models: tuple[str, ...]
    raw: tuple[ModelRating, ...]
    controlled: tuple[ModelRating, ...]
    style: tuple[StyleCoefficient, ...]
    win_matrix: tuple[tuple[float, ...], ...]
    controlled_win_matrix: tuple[tuple[float, ...], ...]
    battles: int
    excluded: int
    prompts: int
    settings: StatsSettings
    converged: bool

    def raw_of(self, model: str) -> ModelRating:
        """The raw rating of ``model``."""
        return self.raw[self.models.index(model)]

    def controlled_of(self, model: str) -> ModelRating:
        """The style-controlled rating of ``model``."""
        return self.controlled[self.models.index(model)]

    def coefficient(self, name: str) -> StyleCoefficient:
        """The style coefficient called ``name`` (length, markdown or confidence)."""
        return next(c for c in self.style if c.name == name)


def win_probability(rating_a: float, rating_b: float) -> float:
    """P(A beats B) for two ratings on the 400-point scale."""
    return float(1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0)))


def rate_battles(
    battles: Sequence[Battle],
    reference: str | None = None,
    settings: StatsSettings = DEFAULT_STATS,
) -> Ratings:
    """Raw and style-controlled Bradley–Terry ratings of the models in ``battles``.

    ``settings`` gives the bootstrap's seed and resample count and the confidence level.
    """
    check_settings("ratings", settings.n_resamples, settings.confidence)
    confidence = settings.confidence
    design = build_design(battles, reference)
    rng = np.random.default_rng(settings.seed)
    boot = cluster_weights(design.prompt_index, len(design.prompts), settings.n_resamples, rng)
    estimable = [s > 0.0 for s in design.style_scale]
    style_x = design.style_x[:, estimable]
    raw_point, raw_boot, raw_ok = _fit_all(design.model_x, design.y, boot)
    full_x = np.hstack([design.model_x, style_x])
    style_point, style_boot, style_ok = _fit_all(full_x, design.y, boot)
    n_free = design.model_x.shape[1]
    present = _present(design, boot)
    raw = _model_ratings(design, raw_point[:n_free], raw_boot[:, :n_free], present, confidence)
    controlled = _model_ratings(
        design, style_point[:n_free], style_boot[:, :n_free], present, confidence
    )
    return Ratings(
        reference=design.reference,
        models=design.models,
        raw=raw,
        controlled=controlled,
        style=_style_coefficients(
            design, style_point[n_free:], style_boot[:, n_free:], estimable, confidence
        ),
        win_matrix=_win_matrix(raw),
        controlled_win_matrix=_win_matrix(controlled),
        battles=len(design.y),
        excluded=design.excluded,
        prompts=len(design.prompts),
        settings=settings,
        converged=raw_ok and style_ok,
    )


def _fit_all(
    x: FloatArray, y: FloatArray, boot: FloatArray
) -> tuple[FloatArray, FloatArray, bool]:
    """Point fit (unit weights) and the bootstrap fits, in chunks to bound memory."""
    point, ok = fit_logistic(x, y, np.ones((1, len(y))))
    fits: list[FloatArray] = []
    for start in range(0, boot.shape[0], CHUNK):
        beta, chunk_ok = fit_logistic(x, y, boot[start : start + CHUNK])
        fits.append(beta)
        ok = ok and chunk_ok
    return point[0], np.vstack(fits), ok


def _present(design: Design, boot: FloatArray) -> np.ndarray[tuple[int, int], np.dtype[np.bool_]]:
    """Whether each non-reference model has any battle in each resample, ``(B, m - 1)``."""
    mask: np.ndarray[tuple[int, int], np.dtype[np.bool_]] = (
        boot @ np.abs(design.model_x)
    ) > 0
    return mask


def _bounds(samples: FloatArray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _model_ratings(
    design: Design,
    theta: FloatArray,
    theta_boot: FloatArray,
    present: np.ndarray[tuple[int, int], np.dtype[np.bool_]],
    confidence: float,
) -> tuple[ModelRating, ...]:
    """Ratings, win probabilities against the reference and ranks with intervals."""
    point = np.concatenate([[BASE_RATING], BASE_RATING + SCALE * theta])
    boot = BASE_RATING + SCALE * np.where(present, theta_boot, np.nan)
    boot = np.hstack([np.full((boot.shape[0], 1), BASE_RATING), boot])
    point_rank = 1 + (point[None, :] > point[:, None]).sum(axis=1)
    boot_rank = 1.0 + (boot[:, None, :] > boot[:, :, None]).sum(axis=2)
    boot_rank = np.where(np.isnan(boot), np.nan, boot_rank)
    alpha = 1.0 - confidence
    counts = np.abs(design.model_x).sum(axis=0)
    results: list[ModelRating] = []
    for i, model in enumerate(design.models):
        if i == 0:
            low = high = BASE_RATING
            battles = int(np.count_nonzero(np.abs(design.model_x).sum(axis=1) == 1))
        else:
            low, high = _bounds(boot[:, i], confidence)
            battles = int(counts[i - 1])
        ranks = boot_rank[:, i][np.isfinite(boot_rank[:, i])]
        rank_low = int(np.quantile(ranks, alpha / 2.0, method="lower")) if ranks.size else 0
        rank_high = int(np.quantile(ranks, 1 - alpha / 2.0, method="higher")) if ranks.size else 0
        results.append(
            ModelRating(
                model=model,
                rating=Interval(float(point[i]), low, high),
                win_vs_reference=Interval(
                    win_probability(float(point[i]), BASE_RATING),
                    win_probability(low, BASE_RATING),
                    win_probability(high, BASE_RATING),
                ),
                rank=int(point_rank[i]),
                rank_low=rank_low,
                rank_high=rank_high,
                battles=battles,
            )
        )
    return tuple(results)


def _style_coefficients(
    design: Design,
    gamma: FloatArray,
    gamma_boot: FloatArray,
    estimable: list[bool],
    confidence: float,
) -> tuple[StyleCoefficient, ...]:
    """Each style coefficient with its interval, in logits and rating points."""
    results: list[StyleCoefficient] = []
    column = 0
    for name, scale, usable in zip(design.style_names, design.style_scale, estimable, strict=True):
        if not usable:
            missing = Interval(math.nan, math.nan, math.nan)
            results.append(StyleCoefficient(name, missing, missing, scale, False))
            continue
        low, high = _bounds(gamma_boot[:, column], confidence)
        value = float(gamma[column])
        results.append(
            StyleCoefficient(
                name=name,
                logit=Interval(value, low, high),
                points=Interval(SCALE * value, SCALE * low, SCALE * high),
                scale=scale,
                estimable=True,
            )
        )
        column += 1
    return tuple(results)


def _win_matrix(ratings: tuple[ModelRating, ...]) -> tuple[tuple[float, ...], ...]:
    """P(row beats column) from the point ratings (0.5 on the diagonal)."""
    return tuple(
        tuple(win_probability(a.rating.estimate, b.rating.estimate) for b in ratings)
        for a in ratings
    )
