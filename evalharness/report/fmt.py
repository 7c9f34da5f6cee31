"""Numbers and estimates as report text, and the row types every report section fills.

The Markdown and HTML writers only escape and lay out these rows, so both reports always
say the same thing. A missing value (no data, a stage that did not run) is ``"n/a"`` or
``"not run"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis

NA = "n/a"
NOT_RUN = "not run"


@dataclass(frozen=True)
class Row:
    """One line of a report table: a label, a formatted value and a plain-language reading."""

    label: str
    value: str
    reading: str = ""


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def as_estimate(est: Estimate | Mapping[str, Any] | None) -> Estimate | None:
    """An Estimate with a finite value, or None (a JSON object is read as one)."""
    if isinstance(est, Mapping):
        value = est.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        low, high = est.get("low"), est.get("high")
        est = Estimate(
            float(value),
            float(low) if isinstance(low, int | float) else math.nan,
            float(high) if isinstance(high, int | float) else math.nan,
            int(est.get("n") or 0),
            str(est.get("note") or ""),
        )
    if est is None or _finite(est.value) is None:
        return None
    return est


def note_of(est: Estimate | None) -> str:
    """An estimate's note, or ``"no value"``."""
    return est.note if est is not None and est.note else "no value"


def fmt_number(x: float | None, kind: str = "score") -> str:
    """A number as a percentage (``pct``), signed (``signed``) or plain score (``score``)."""
    value = None if isinstance(x, bool) else _finite(x)
    if value is None:
        return NA
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "signed":
        return f"{value:+.2f}"
    return f"{value:.2f}"


def fmt_est(est: Estimate | Mapping[str, Any] | None, kind: str = "score") -> str:
    """``value [low, high]``; ``value (no CI)`` without an interval; ``n/a`` without a value."""
    found = as_estimate(est)
    if found is None:
        return NA
    value = fmt_number(found.value, kind)
    low, high = _finite(found.low), _finite(found.high)
    if low is None or high is None:
        return f"{value} (no CI)"
    return f"{value} [{fmt_number(low, kind)}, {fmt_number(high, kind)}]"


def side(est: Estimate | Mapping[str, Any] | None, zero: float = 0.0) -> int | None:
    """+1 / -1 when the interval lies above / below ``zero``, 0 when it covers it, None if no CI."""
    found = as_estimate(est)
    if found is None:
        return None
    low, high = _finite(found.low), _finite(found.high)
    if low is None or high is None:
        return None
    if low > zero:
        return 1
    if high < zero:
        return -1
    return 0


def ci_label(analysis: Analysis) -> str:
    """``"95% CI"`` at the run's confidence level."""
    return f"{analysis.run.confidence:.0%} CI"


def points(x: float) -> str:
    """A net preference in [-1, 1] as percentage points of comparisons."""
    value = abs(x) * 100
    return f"{value:.0f} percentage point{'' if round(value) == 1 else 's'}"
