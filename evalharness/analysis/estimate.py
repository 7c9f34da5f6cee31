"""The Estimate record and the input checks shared by every statistic.

An :class:`Estimate` is a point value with a two-sided interval over ``n`` units. Its
bounds are NaN only when there is no data to form an interval from; a degenerate interval
(every unit gave the same value) is reported as ``[v, v]``, which is the strongest
finding, not a missing one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalharness.errors import HarnessError

FloatArray = NDArray[np.float64]
NAN = float("nan")
MIN_RESAMPLES = 10


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
            "value": json_float(self.value),
            "low": json_float(self.low),
            "high": json_float(self.high),
            "n": self.n,
            "note": self.note,
        }

    def excludes(self, x: float) -> bool:
        """Whether the interval exists and lies entirely above or below ``x``.

        A degenerate interval ``[v, v]`` excludes every ``x != v``.
        """
        if math.isnan(self.low) or math.isnan(self.high):
            return False
        return x < self.low or x > self.high

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN when there is no interval)."""
        return (self.high - self.low) / 2.0


def json_float(x: float) -> float | None:
    """``x`` as a float, or None when it is not finite."""
    return float(x) if math.isfinite(x) else None


def join_notes(*notes: str) -> str:
    """The non-empty notes joined with ``"; "``."""
    return "; ".join(n for n in notes if n)


def warning_text(caught: list[warnings.WarningMessage]) -> str:
    """Distinct first lines of captured warnings, with their category names."""
    seen: list[str] = []
    for w in caught:
        msg = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if msg not in seen:
            seen.append(msg)
    return "; ".join(seen)


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


def same_length(where: str, **arrays: Sequence[object] | FloatArray) -> int:
    """Return the common length of ``arrays`` or raise HarnessError naming the mismatch."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {k}" for name, k in lengths.items())
        raise HarnessError(f"{where}: inputs must have the same length ({detail})")
    return next(iter(lengths.values()), 0)


def check_settings(where: str, n_resamples: int, confidence: float) -> None:
    """Reject a resample count below :data:`MIN_RESAMPLES` or a confidence outside (0, 1)."""
    if not isinstance(n_resamples, int | np.integer) or n_resamples < MIN_RESAMPLES:
        raise HarnessError(
            f"{where}: n_resamples must be an integer >= {MIN_RESAMPLES}, got {n_resamples!r}"
        )
    if not (isinstance(confidence, float | int) and 0.0 < confidence < 1.0):
        raise HarnessError(f"{where}: confidence must be in (0, 1), got {confidence!r}")
