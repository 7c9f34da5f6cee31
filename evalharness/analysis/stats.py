"""Point estimates with bootstrap intervals, agreement, and the length-controlled win rate.

Every interval is a bootstrap over the units of a run (prompts or items), seeded for
reproducibility.  Degenerate input (no data, one unit, all values equal, a singular
regression) yields an :class:`Estimate` with NaN bounds and a ``note`` instead of an
exception; library warnings are captured into that note and never reach the user.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalharness.errors import HarnessError

FloatArray = NDArray[np.float64]
NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval over ``n`` units.

    ``low``/``high`` are NaN when no interval could be formed; ``note`` says why, or
    records anything unusual about how the interval was formed.
    """

    value: float
    low: float
    high: float
    n: int
    note: str = ""

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Return a JSON-safe dict (NaN and infinities become ``None``)."""
        return {
            "value": _json_float(self.value),
            "low": _json_float(self.low),
            "high": _json_float(self.high),
            "n": self.n,
            "note": self.note,
        }

    def excludes(self, x: float) -> bool:
        """Whether the interval exists and lies entirely above or below ``x``."""
        if math.isnan(self.low) or math.isnan(self.high):
            return False
        return x < self.low or x > self.high

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN when there is no interval)."""
        return (self.high - self.low) / 2.0


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    seen: list[str] = []
    for w in caught:
        msg = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if msg not in seen:
            seen.append(msg)
    return "; ".join(seen)


# --------------------------------------------------------------------------- validation


def as_vector(values: Sequence[float] | FloatArray, name: str, where: str) -> FloatArray:
    """Convert ``values`` to a 1-D float array of finite numbers or raise HarnessError.

    ``name`` is the argument's name and ``where`` the calling function, both used in the
    error message.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"{where}: {name} must be a sequence of numbers ({exc})") from None
    if arr.ndim != 1:
        raise HarnessError(f"{where}: {name} must be one-dimensional, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise HarnessError(
            f"{where}: {name}[{i}] is {float(arr[i])!r}; expected a finite number "
            f"({bad.size} non-finite value(s) in all)"
        )
    return arr


def as_probabilities(values: Sequence[float] | FloatArray, name: str, where: str) -> FloatArray:
    """Like :func:`as_vector`, and also require every value to lie in [0, 1]."""
    arr = as_vector(values, name, where)
    bad = np.flatnonzero((arr < 0.0) | (arr > 1.0))
    if bad.size:
        i = int(bad[0])
        raise HarnessError(
            f"{where}: {name}[{i}] = {float(arr[i])!r} is not a probability in [0, 1]"
        )
    return arr


def same_length(where: str, **arrays: FloatArray) -> int:
    """Return the common length of ``arrays`` or raise HarnessError naming the mismatch."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {k}" for name, k in lengths.items())
        raise HarnessError(f"{where}: inputs must have the same length ({detail})")
    return next(iter(lengths.values()), 0)


MIN_RESAMPLES = 10


def _check_settings(where: str, n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, int | np.integer) or n_resamples < MIN_RESAMPLES:
        raise HarnessError(
            f"{where}: n_resamples must be an integer >= {MIN_RESAMPLES}, got {n_resamples!r}"
        )
    if not (isinstance(confidence, float | int) and 0.0 < confidence < 1.0):
        raise HarnessError(f"{where}: confidence must be in (0, 1), got {confidence!r}")


# --------------------------------------------------------------------------- bootstrap


def _mean_stat(x: FloatArray, axis: int = -1) -> FloatArray:
    return np.mean(x, axis=axis)


def bootstrap_mean(
    x: FloatArray,
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    note: str = "",
    where: str = "bootstrap_mean",
) -> Estimate:
    """Mean of per-unit values ``x`` (finite, 1-D) with a BCa bootstrap interval over units.

    Falls back to the percentile interval when BCa is undefined; ``note`` is prepended
    to the estimate's note and ``where`` names the caller in error messages.
    """
    from scipy.stats import bootstrap

    _check_settings(where, n_resamples, confidence)
    n = len(x)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, _join(note, "no data"))
    value = float(np.mean(x))
    if n == 1:
        return Estimate(value, NAN, NAN, 1, _join(note, "one unit; no interval"))
    if np.ptp(x) == 0.0:
        return Estimate(value, NAN, NAN, n, _join(note, "all values equal; no interval"))
    notes = [note]
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = bootstrap(
                (x,),
                _mean_stat,
                n_resamples=n_resamples,
                confidence_level=confidence,
                method=method,
                vectorized=True,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            if caught:
                notes.append(f"{method} interval: {_warning_text(caught)}")
            return Estimate(value, low, high, n, _join(*notes))
        notes.append(f"{method} interval undefined ({_warning_text(caught) or 'non-finite'})")
    return Estimate(value, NAN, NAN, n, _join(*notes))


def mean_ci(
    values: Sequence[float],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Mean of ``values`` with a bootstrap (BCa) confidence interval over the values."""
    _check_settings("mean_ci", n_resamples, confidence)
    x = as_vector(values, "values", "mean_ci")
    return bootstrap_mean(x, seed, n_resamples, confidence)


def paired_mean_diff_ci(
    a: Sequence[float],
    b: Sequence[float],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Mean of the paired differences ``a[i] - b[i]``, resampling pairs (prompts) together."""
    where = "paired_mean_diff_ci"
    _check_settings(where, n_resamples, confidence)
    xa, xb = as_vector(a, "a", where), as_vector(b, "b", where)
    same_length(where, a=xa, b=xb)
    return bootstrap_mean(xa - xb, seed, n_resamples, confidence)


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
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Share of prompts the tuned model wins (a tie counts one half), with a bootstrap CI."""
    where = "win_rate"
    _check_tie_band(where, tie_band)
    _check_settings(where, n_resamples, confidence)
    p = as_probabilities(p_tuned, "p_tuned", where)
    scores = np.array([_OUTCOME_SCORE[outcome(float(v), tie_band)] for v in p], dtype=float)
    return bootstrap_mean(scores, seed, n_resamples, confidence)


# --------------------------------------------------------------------------- agreement


def _as_labels(values: Sequence[int], name: str, where: str) -> NDArray[Any]:
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


def accuracy(
    labels: Sequence[int],
    predictions: Sequence[int],
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """Share of predictions equal to their label, with a bootstrap CI over items."""
    where = "accuracy"
    _check_settings(where, n_resamples, confidence)
    y1, y2 = _as_labels(labels, "labels", where), _as_labels(predictions, "predictions", where)
    same_length(where, labels=y1, predictions=y2)
    correct = (y1 == y2).astype(float)
    return bootstrap_mean(correct, seed, n_resamples, confidence)


# --------------------------------------------------------------------------- controlled win rate


@dataclass(frozen=True)
class ControlledWinRate:
    """Raw and bias-controlled win rates of a tuned model against its base.

    ``raw`` is the mean soft preference ``p_tuned`` over prompts (not the outcome-based
    :func:`win_rate`), so that it is on the same scale as the regression's targets.
    ``length_controlled`` comes from the model with the length term only;
    ``length_confidence_controlled`` from the model with both terms (None when no
    confidence data was given).  ``coefficients`` belong to the fullest model that could
    be fitted; a term that was dropped or could not be estimated has a NaN estimate whose
    note says why.  ``warnings`` lists dropped terms, fitting problems, and controlled
    rates that differ from the raw rate by more than the raw CI half-width.
    """

    raw: Estimate
    length_controlled: Estimate
    length_confidence_controlled: Estimate | None
    coefficients: dict[str, Estimate]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        lcc = self.length_confidence_controlled
        return {
            "raw": self.raw.to_dict(),
            "length_controlled": self.length_controlled.to_dict(),
            "length_confidence_controlled": lcc.to_dict() if lcc is not None else None,
            "coefficients": {k: v.to_dict() for k, v in self.coefficients.items()},
            "warnings": list(self.warnings),
        }


class _FitFailed(Exception):
    """A regression that cannot be fitted on the given data."""


@dataclass(frozen=True)
class _Fit:
    params: FloatArray
    conf_int: FloatArray
    note: str


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x))) if x >= 0 else float(np.exp(x) / (1.0 + np.exp(x)))


def _design(
    d_len: FloatArray, d_conf: FloatArray | None, use_len: bool, use_conf: bool
) -> FloatArray:
    """Columns: intercept, tanh(Δlen / sd(Δlen)) if used, Δconf if used."""
    cols = [np.ones(len(d_len))]
    if use_len:
        sd = float(np.std(d_len, ddof=1)) if len(d_len) > 1 else 0.0
        if sd == 0.0:
            raise _FitFailed("length difference has zero variance")
        cols.append(np.tanh(d_len / sd))
    if use_conf and d_conf is not None:
        cols.append(d_conf)
    return np.column_stack(cols)


def _fit_glm(y: FloatArray, x: FloatArray, confidence: float) -> _Fit:
    """Fractional logit: GLM Binomial (logit link) on soft targets, robust (HC1) errors."""
    import statsmodels.api as sm

    n, k = x.shape
    if n <= k:
        raise _FitFailed(f"too few prompts ({n}) for {k} parameters")
    if np.linalg.matrix_rank(x) < k:
        raise _FitFailed("singular design matrix")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, x, family=sm.families.Binomial()).fit(cov_type="HC1")
            params = np.asarray(res.params, dtype=float)
            ci = np.asarray(res.conf_int(alpha=1.0 - confidence), dtype=float)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            raise _FitFailed(f"regression failed: {exc}") from None
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(ci))):
        raise _FitFailed("regression gave non-finite coefficients")
    return _Fit(params, ci, _warning_text(caught))


def _bootstrap_controlled(
    y: FloatArray,
    d_len: FloatArray,
    d_conf: FloatArray | None,
    use_len: bool,
    use_conf: bool,
    seed: int,
    n_resamples: int,
    confidence: float,
) -> tuple[float, float, str]:
    """Percentile interval of sigmoid(intercept), refitting on prompts resampled with a seed."""
    rng = np.random.default_rng(seed)
    n = len(y)
    values: list[float] = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        try:
            x = _design(d_len[idx], None if d_conf is None else d_conf[idx], use_len, use_conf)
            fit = _fit_glm(y[idx], x, confidence)
        except _FitFailed:
            continue
        if fit.note:  # separation or non-convergence: degenerate resample
            continue
        values.append(_sigmoid(float(fit.params[0])))
    skipped = n_resamples - len(values)
    note = f"{skipped} of {n_resamples} resamples skipped as degenerate" if skipped else ""
    if len(values) < max(2, n_resamples // 2):
        return NAN, NAN, _join(note, "too few usable resamples; no interval")
    alpha = 1.0 - confidence
    low, high = np.quantile(np.asarray(values), [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high), note


@dataclass(frozen=True)
class _ModelResult:
    controlled: Estimate
    coefficients: dict[str, Estimate]
    notes: list[str]


def _controlled_model(
    y: FloatArray,
    d_len: FloatArray,
    d_conf: FloatArray | None,
    seed: int,
    n_resamples: int,
    confidence: float,
) -> _ModelResult:
    """Fit one model (length, plus confidence when ``d_conf`` is given) and bootstrap it.

    The returned notes are prefixed with the model's name, for the user-facing warnings.
    """
    n = len(y)
    label = "length model" if d_conf is None else "length+confidence model"
    notes: list[str] = []
    use_len = n >= 2 and float(np.std(d_len)) > 0.0
    if not use_len:
        notes.append("length term dropped: length difference has zero variance")
    use_conf = d_conf is not None and n >= 2 and float(np.std(d_conf)) > 0.0
    if d_conf is not None and not use_conf:
        notes.append("confidence term dropped: confidence difference has zero variance")
    names = ["intercept"] + (["length"] if use_len else []) + (["confidence"] if use_conf else [])
    all_names = ["intercept", "length"] + (["confidence"] if d_conf is not None else [])
    coefs = {k: Estimate(NAN, NAN, NAN, n, "term dropped: zero variance") for k in all_names}
    try:
        fit = _fit_glm(y, _design(d_len, d_conf, use_len, use_conf), confidence)
    except _FitFailed as exc:
        notes.append(str(exc))
        failed = {k: Estimate(NAN, NAN, NAN, n, str(exc)) for k in all_names}
        est = Estimate(NAN, NAN, NAN, n, _join(*notes))
        return _ModelResult(est, failed, [f"{label}: {m}" for m in notes])
    if fit.note:
        notes.append(f"regression: {fit.note}")
    for j, name in enumerate(names):
        low, high = float(fit.conf_int[j, 0]), float(fit.conf_int[j, 1])
        coefs[name] = Estimate(float(fit.params[j]), low, high, n, fit.note)
    low, high, boot_note = _bootstrap_controlled(
        y, d_len, d_conf, use_len, use_conf, seed, n_resamples, confidence
    )
    est = Estimate(_sigmoid(float(fit.params[0])), low, high, n, _join(*notes, boot_note))
    return _ModelResult(est, coefs, [f"{label}: {m}" for m in notes])


def _differs_warning(label: str, est: Estimate, raw: Estimate) -> str | None:
    if not (math.isfinite(est.value) and math.isfinite(raw.half_width)):
        return None
    if abs(est.value - raw.value) <= raw.half_width:
        return None
    return (
        f"{label} win rate ({est.value:.3f}) differs from raw ({raw.value:.3f}) "
        f"by more than the raw CI half-width ({raw.half_width:.3f})"
    )


def controlled_win_rate(
    p_tuned: Sequence[float],
    len_tuned: Sequence[float],
    len_base: Sequence[float],
    conf_tuned: Sequence[float] | None = None,
    conf_base: Sequence[float] | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
    confidence: float = 0.95,
) -> ControlledWinRate:
    """Win rate of tuned over base with length (and confidence) bias regressed out.

    Fits ``logit P(tuned ≻ base) = b0 + b_len·tanh(Δlen/sd(Δlen)) [+ b_conf·Δconf]`` by a
    Binomial GLM on the soft preferences (AlpacaEval-2 style), where ``Δlen`` is the
    length difference in tokens (tuned − base, ``sd`` with ddof=1) and ``Δconf`` the
    confidence-marker density difference (tuned − base).  The controlled win rate is the
    prediction with the bias terms at zero, ``sigmoid(b0)``; its interval comes from a
    bootstrap over prompts that refits the model on each resample.  Coefficient intervals
    are the GLM's Wald intervals with heteroskedasticity-robust (HC1) errors.
    """
    where = "controlled_win_rate"
    _check_settings(where, n_resamples, confidence)
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

    raw = bootstrap_mean(y, seed, n_resamples, confidence, "mean soft preference")
    len_model = _controlled_model(y, d_len, None, seed, n_resamples, confidence)
    messages = list(len_model.notes)
    coefficients = len_model.coefficients
    full: Estimate | None = None
    if d_conf is not None:
        full_model = _controlled_model(y, d_len, d_conf, seed, n_resamples, confidence)
        full = full_model.controlled
        messages += full_model.notes
        if math.isfinite(full.value):
            coefficients = full_model.coefficients
        else:  # keep the length model's fit and say why the confidence term is missing
            coefficients = {**coefficients, "confidence": full_model.coefficients["confidence"]}
    for label, est in (
        ("length-controlled", len_model.controlled),
        ("length-and-confidence-controlled", full),
    ):
        msg = _differs_warning(label, est, raw) if est is not None else None
        if msg:
            messages.append(msg)
    return ControlledWinRate(raw, len_model.controlled, full, coefficients, messages)
