"""The warnings the harness prints about a judge, shared by `run`/`analyze` and `judge-validate`.

Each function takes the JSON-safe statistics (``Estimate.to_dict()`` shapes) and returns a
sentence or None. Every sentence is a test at the run's confidence level, checked by
simulation in tests/test_bias_known_answers.py (quiet for an unbiased judge, firing for a
planted bias).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalharness.analysis.position import position_warning

__all__ = [
    "LOW_MASS_WARN",
    "bias_warning",
    "mass_warning",
    "mode_warning",
    "position_warning",
]

LOW_MASS_WARN = 0.5


def _excludes_zero(est: Any) -> int:
    """+1 / -1 when an Estimate dict's interval lies above / below 0 (degenerate included)."""
    if not isinstance(est, dict) or est.get("low") is None or est.get("high") is None:
        return 0
    if est["low"] > 0:
        return 1
    if est["high"] < 0:
        return -1
    return 0


def bias_warning(name: str, est: Any, adjusted: Any = None) -> str | None:
    """The LBR/CBR warning when the interval excludes 0 (a degenerate one included).

    With ``adjusted`` (the CBR read at equal length), the warning needs both to exclude 0
    on the same side, so a length preference is not reported as a confidence one.
    """
    direction = _excludes_zero(est)
    if direction == 0:
        return None
    has_adjusted = isinstance(adjusted, dict) and adjusted.get("value") is not None
    if has_adjusted and _excludes_zero(adjusted) != direction:
        return None
    label = "longer" if name == "lbr" else "more confident"
    verb = "prefers" if direction > 0 else "penalises"
    text = (
        f"The judge {verb} {label} answers with the same content "
        f"({name.upper()} = {est['value']:+.2f}, CI {est['low']:+.2f}..{est['high']:+.2f}"
    )
    if est["low"] == est["high"]:
        text += ": every item agreed"
    return text + ")."


def mass_warning(kind: str, est: Any) -> str | None:
    """Warn when the mean mass on the allowed answers (logprob-mode records) is below half."""
    value = est.get("value") if isinstance(est, dict) else None
    if value is None or value >= LOW_MASS_WARN:
        return None
    return (
        f"Only {value:.0%} of the judge's {kind} probability falls on the allowed answers: "
        "it mostly did not answer the question, so its verdicts are weak evidence."
    )


def mode_warning(modes: Mapping[str, int]) -> str | None:
    """Warn when the judgments were read in more than one mode (logprobs and text)."""
    used = {m: c for m, c in modes.items() if c}
    if len(used) < 2:
        return None
    counts = ", ".join(f"{c} in {m} mode" for m, c in sorted(used.items()))
    return (
        f"Judgments were read in mixed modes ({counts}): text-mode verdicts are all-or-nothing, "
        "so soft preferences and mass mean different things across records."
    )
