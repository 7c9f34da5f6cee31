"""The bias-controlled win rate: the preference for tuned with length (and confidence) held equal.

Model (AlpacaEval-2 style fractional logit, fitted on the soft preferences):
``logit P(tuned ≻ base) = b0 + b_len·tanh(Δlen / sd(Δlen)) [+ b_conf·Δconf]``. The controlled
rate is ``sigmoid(b0)``, the prediction at equal length (and confidence). Its interval, and
the interval of its difference from the raw mean preference, come from one bootstrap over
prompts that refits the model on every resample (a batched Newton solver; the coefficient
intervals are statsmodels' Wald intervals with HC1 errors). Resamples whose fit fails are
counted; when more than :data:`MAX_FAILED_SHARE` fail there is no interval, and the note
says why. A difference from raw is reported as a warning only when its interval excludes
0 after Holm's correction over the (at most two) controlled rates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from evalharness.analysis.estimate import (
    NAN,
    Estimate,
    FloatArray,
    as_probabilities,
    as_vector,
    check_settings,
    join_notes,
    same_length,
    warning_text,
)
from evalharness.analysis.intervals import bootstrap_mean, bootstrap_p, holm, percentile_interval
from evalharness.analysis.settings import StatsSettings
from evalharness.errors import HarnessError

MAX_FAILED_SHARE = 0.05
CONTROLLED_STATS = StatsSettings(n_resamples=1000)
"""The default settings of the controlled win rate (each resample refits the model)."""
_MAX_ITER = 100
_MAX_STEP = 5.0


@dataclass(frozen=True)
class ControlledRate:
    """One controlled model: its rate, the rate minus raw, its terms and what went wrong.

    ``dropped`` maps a term that could not be estimated to the reason; ``extrapolation``
    says when no prompt lies on one side of the point the rate is read at (equal length,
    equal confidence); ``p_value`` is the bootstrap p-value of ``difference`` against 0.
    """

    rate: Estimate
    difference: Estimate
    p_value: float
    dropped: dict[str, str]
    extrapolation: str
    coefficients: dict[str, Estimate]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            **self.rate.to_dict(),
            "minus_raw": self.difference.to_dict(),
            "p_value": self.p_value if math.isfinite(self.p_value) else None,
            "dropped_terms": dict(self.dropped),
            "extrapolation": self.extrapolation,
        }


@dataclass(frozen=True)
class ControlledWinRate:
    """Raw and bias-controlled win rates of a tuned model against its base.

    ``raw`` is the mean soft preference ``p_tuned`` over prompts. ``length`` holds the
    model with the length term only, ``length_confidence`` the model with both terms
    (None without confidence data). ``coefficients`` belong to the fullest model that
    could be fitted. ``warnings`` lists dropped terms, fits that failed, and controlled
    rates whose difference from raw is significant (Holm over the controlled rates).
    """

    raw: Estimate
    length: ControlledRate
    length_confidence: ControlledRate | None
    coefficients: dict[str, Estimate]
    warnings: list[str] = field(default_factory=list)

    @property
    def length_controlled(self) -> Estimate:
        """The length-controlled rate."""
        return self.length.rate

    @property
    def length_confidence_controlled(self) -> Estimate | None:
        """The length-and-confidence-controlled rate (None without confidence data)."""
        return None if self.length_confidence is None else self.length_confidence.rate

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        full = self.length_confidence
        return {
            "raw": self.raw.to_dict(),
            "length_controlled": self.length.to_dict(),
            "length_confidence_controlled": full.to_dict() if full is not None else None,
            "coefficients": {k: v.to_dict() for k, v in self.coefficients.items()},
            "warnings": list(self.warnings),
        }


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=float)


def fit_fractional_logit(
    x: FloatArray, y: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Batched fractional-logit fits by Newton's method.

    ``x`` is (B, n, k) and ``y`` (B, n) with targets in [0, 1]. Returns the (B, k)
    coefficients and a (B,) flag of fits whose score equations were solved with finite
    coefficients (separation lets a slope grow large; that is not a failure as long as
    the intercept settles).
    """
    b, n, k = x.shape
    beta = np.zeros((b, k))
    eye = np.eye(k) * 1e-10
    ok = np.ones(b, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(_MAX_ITER):
            mu = _sigmoid(np.einsum("bnk,bk->bn", x, beta))
            grad = np.einsum("bnk,bn->bk", x, y - mu)
            hess = np.einsum("bnk,bn,bnj->bkj", x, mu * (1.0 - mu), x) + eye
            try:
                step = np.linalg.solve(hess, grad[..., None])[..., 0]
            except np.linalg.LinAlgError:
                step = np.stack(
                    [np.linalg.lstsq(h, g, rcond=None)[0] for h, g in zip(hess, grad, strict=True)]
                )
            size = np.max(np.abs(step), axis=1, keepdims=True)
            step = np.where(size > _MAX_STEP, step * _MAX_STEP / np.maximum(size, 1e-300), step)
            beta = beta + np.where(np.isfinite(step), step, 0.0)
            if np.all(np.abs(grad) < 1e-9 * n):
                break
        mu = _sigmoid(np.einsum("bnk,bk->bn", x, beta))
        grad = np.einsum("bnk,bn->bk", x, y - mu)
    ok &= np.all(np.isfinite(beta), axis=1) & np.all(np.abs(grad) < 1e-5 * n, axis=1)
    return beta, ok


def _wald(x: FloatArray, y: FloatArray, names: list[str], confidence: float) -> dict[str, Estimate]:
    """Coefficient estimates with statsmodels' HC1 Wald intervals (notes on failure)."""
    import statsmodels.api as sm

    n = len(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, x, family=sm.families.Binomial()).fit(cov_type="HC1")
            params = np.asarray(res.params, dtype=float)
            ci = np.asarray(res.conf_int(alpha=1.0 - confidence), dtype=float)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return {k: Estimate(NAN, NAN, NAN, n, f"regression failed: {exc}") for k in names}
    note = warning_text(caught)
    out = {}
    for j, name in enumerate(names):
        if math.isfinite(params[j]) and np.all(np.isfinite(ci[j])):
            out[name] = Estimate(float(params[j]), float(ci[j, 0]), float(ci[j, 1]), n, note)
        else:
            out[name] = Estimate(NAN, NAN, NAN, n, join_notes(note, "not estimable"))
    return out


def _columns(
    d_len: FloatArray, d_conf: FloatArray | None
) -> tuple[list[str], list[FloatArray], dict[str, str], list[str]]:
    """Usable covariate columns, their names, dropped terms, and extrapolation notes."""
    names, cols, dropped, extrapolation = [], [], {}, []
    terms = [("length", d_len, "tuned longer", "tuned shorter")]
    if d_conf is not None:
        terms.append(("confidence", d_conf, "tuned more confident", "tuned less confident"))
    for name, diff, above, below in terms:
        if len(diff) < 2 or float(np.std(diff)) == 0.0:
            dropped[name] = f"the {name} difference is the same on every prompt"
            continue
        col = np.tanh(diff / float(np.std(diff, ddof=1))) if name == "length" else diff
        if np.ptp(col) < 1e-6 * max(1.0, float(np.max(np.abs(col)))):
            dropped[name] = (
                f"the {name} difference barely varies across prompts "
                f"({diff.min():g} to {diff.max():g}), so its effect cannot be told apart "
                "from tuned's quality"
            )
            continue
        names.append(name)
        cols.append(col)
        if diff.min() > 0 or diff.max() < 0:
            side = above if diff.min() > 0 else below
            extrapolation.append(f"every prompt has {side}: equal {name} is an extrapolation")
    return names, cols, dropped, extrapolation


def _controlled(
    y: FloatArray,
    d_len: FloatArray,
    d_conf: FloatArray | None,
    idx: np.ndarray,
    confidence: float,
) -> tuple[ControlledRate, list[str]]:
    """Fit one model on the data and on every bootstrap index row of ``idx``."""
    n = len(y)
    label = "length model" if d_conf is None else "length+confidence model"
    names, cols, dropped, extrapolation = _columns(d_len, d_conf)
    all_names = ["intercept", "length"] + (["confidence"] if d_conf is not None else [])
    coefs = {k: Estimate(NAN, NAN, NAN, n, f"term dropped: {dropped[k]}") for k in dropped}
    messages = [f"{label}: {t} could not be estimated ({why})" for t, why in dropped.items()]
    extra = "; ".join(extrapolation)
    if n < 2:
        why = f"too few prompts ({n})"
        missing = Estimate(NAN, NAN, NAN, n, why)
        for k in all_names:
            coefs.setdefault(k, missing)
        return ControlledRate(missing, missing, NAN, dropped, extra, coefs), messages
    raw_value = float(np.mean(y))
    if np.ptp(y) == 0.0 and extrapolation:
        why = (
            f"{extra}, and every prompt has the same preference: the effect of the bias "
            "cannot be told apart from tuned's quality"
        )
        missing = Estimate(NAN, NAN, NAN, n, why)
        for k in all_names:
            coefs.setdefault(k, Estimate(NAN, NAN, NAN, n, "constant preference"))
        messages.append(f"{label}: no controlled rate, {why}")
        return ControlledRate(missing, missing, NAN, dropped, extra, coefs), messages
    if np.ptp(y) == 0.0:
        note = join_notes("every prompt has the same preference; nothing to control for", extra)
        rate = Estimate(raw_value, raw_value, raw_value, n, note)
        zero = Estimate(0.0, 0.0, 0.0, n, "degenerate")
        for k in all_names:
            coefs.setdefault(k, Estimate(NAN, NAN, NAN, n, "constant preference"))
        return ControlledRate(rate, zero, 1.0, dropped, extra, coefs), messages
    x = np.column_stack([np.ones(n), *cols])
    if n <= x.shape[1] or np.linalg.matrix_rank(x) < x.shape[1]:
        why = f"too few prompts ({n})" if n <= x.shape[1] else "singular design matrix"
        for k in all_names:
            coefs.setdefault(k, Estimate(NAN, NAN, NAN, n, why))
        missing = Estimate(NAN, NAN, NAN, n, why)
        messages.append(f"{label}: {why}; no controlled rate")
        return ControlledRate(missing, missing, NAN, dropped, extra, coefs), messages
    beta, ok = fit_fractional_logit(x[None], y[None])
    if not ok[0]:
        missing = Estimate(NAN, NAN, NAN, n, "the regression did not converge")
        for k in all_names:
            coefs.setdefault(k, missing)
        messages.append(f"{label}: the regression did not converge; no controlled rate")
        return ControlledRate(missing, missing, NAN, dropped, extra, coefs), messages
    coefs.update(_wald(x, y, ["intercept", *names], confidence))
    value = float(_sigmoid(beta[0, 0]))
    xb, yb = x[idx], y[idx]
    rank_ok = np.all(np.ptp(xb[:, :, 1:], axis=1) > 0, axis=1) if len(names) else True
    boot, good = fit_fractional_logit(xb, yb)
    good &= rank_ok
    failed = int(np.sum(~good))
    b = len(idx)
    rates = _sigmoid(boot[good, 0])
    diffs = rates - yb[good].mean(axis=1)
    if not names:  # intercept only: sigmoid(b0) is the mean, the difference is 0 by definition
        diffs = np.zeros_like(diffs)
    notes = [extra, f"{failed} of {b} bootstrap refits failed and were left out" if failed else ""]
    if failed > MAX_FAILED_SHARE * b:
        why = (
            f"{failed} of {b} bootstrap refits failed (a resample without variation in a term, "
            "or no convergence); no interval"
        )
        messages.append(f"{label}: {why}")
        rate = Estimate(value, NAN, NAN, n, join_notes(extra, why))
        diff = Estimate(value - raw_value, NAN, NAN, n, why)
        return ControlledRate(rate, diff, NAN, dropped, extra, coefs), messages
    low, high = percentile_interval(rates, confidence)
    rate = Estimate(value, min(low, value), max(high, value), n, join_notes(*notes))
    dlow, dhigh = percentile_interval(diffs, confidence)
    d_value = value - raw_value if names else 0.0
    diff = Estimate(d_value, min(dlow, d_value), max(dhigh, d_value), n, "paired bootstrap")
    p_value = bootstrap_p(diffs) if names else 1.0
    return ControlledRate(rate, diff, p_value, dropped, extra, coefs), messages


def controlled_win_rate(
    p_tuned: Sequence[float],
    len_tuned: Sequence[float],
    len_base: Sequence[float],
    conf_tuned: Sequence[float] | None = None,
    conf_base: Sequence[float] | None = None,
    settings: StatsSettings = CONTROLLED_STATS,
) -> ControlledWinRate:
    """Win rate of tuned over base with length (and confidence) bias regressed out.

    ``Δlen`` is the length difference in tokens (tuned − base) and ``Δconf`` the
    confidence-marker density difference; one value per prompt. See the module docstring.
    """
    seed, n_resamples, confidence = settings.seed, settings.n_resamples, settings.confidence
    where = "controlled_win_rate"
    check_settings(where, n_resamples, confidence)
    y = as_probabilities(p_tuned, "p_tuned", where)
    lt, lb = as_vector(len_tuned, "len_tuned", where), as_vector(len_base, "len_base", where)
    same_length(where, p_tuned=y, len_tuned=lt, len_base=lb)
    d_conf: FloatArray | None = None
    if (conf_tuned is None) != (conf_base is None):
        raise HarnessError(f"{where}: give both conf_tuned and conf_base, or neither")
    if conf_tuned is not None and conf_base is not None:
        ct = as_vector(conf_tuned, "conf_tuned", where)
        cb = as_vector(conf_base, "conf_base", where)
        same_length(where, p_tuned=y, conf_tuned=ct, conf_base=cb)
        d_conf = ct - cb
    d_len = lt - lb
    n = len(y)
    raw = bootstrap_mean(y, settings, "mean soft preference", where)
    idx = np.random.default_rng(seed).integers(0, max(n, 1), size=(n_resamples, n))
    length, messages = _controlled(y, d_len, None, idx, confidence)
    full: ControlledRate | None = None
    coefficients = length.coefficients
    if d_conf is not None:
        full, more = _controlled(y, d_len, d_conf, idx, confidence)
        said = "length" in length.dropped  # already said by the length model
        messages += [m for m in more if not (said and "length could not be estimated" in m)]
        if math.isfinite(full.rate.value):
            coefficients = full.coefficients
        else:
            coefficients = {**coefficients, "confidence": full.coefficients["confidence"]}
    tests = [("length-controlled", length)]
    if full is not None and "confidence" not in full.dropped:
        tests.append(("length-and-confidence-controlled", full))
    usable = [(label, m) for label, m in tests if math.isfinite(m.p_value)]
    reject, adjusted = holm([m.p_value for _, m in usable], 1.0 - confidence)
    for (label, model), flag, p in zip(usable, reject, adjusted, strict=True):
        if flag:
            d = model.difference
            text = (
                f"The {label} win rate ({model.rate.value:.0%}) differs from the raw mean "
                f"preference ({raw.value:.0%}): difference {d.value:+.2f}, "
                f"CI {d.low:+.2f}..{d.high:+.2f} (Holm-adjusted p = {p:.3f})"
            )
            if model.extrapolation:
                text += f"; read with care, {model.extrapolation}"
            messages.append(text + ".")
    return ControlledWinRate(raw, length, full, coefficients, messages)
