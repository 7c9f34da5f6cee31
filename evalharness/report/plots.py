"""The report's plots, drawn with matplotlib's Agg canvas and returned as PNG ``data:`` URIs.

matplotlib is imported only when a plot is drawn, and pyplot is never used, so drawing a
report changes no global plotting state. A plot that cannot be drawn is returned with the
reason instead of an image; it never stops the report.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import evalharness.report.content as content
from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.report.fmt import as_estimate
from evalharness.report.style import esc

COLORS = {"base": "#7f8c8d", "tuned": "#2b6cb0"}


@dataclass(frozen=True)
class Plot:
    """One plot of the report: a PNG data URI, or the reason it is missing."""

    name: str
    title: str
    alt: str
    data_uri: str | None = None
    missing: str | None = None


def figure(plot: Plot | None) -> str:
    """An inline plot with its caption, or a note saying why it is missing."""
    if plot is None:
        return ""
    if plot.data_uri is None:
        return f'<p class="missing">{esc(plot.title)}: {esc(plot.missing or "not drawn")}.</p>'
    return (
        f'<figure><img src="{esc(plot.data_uri)}" alt="{esc(plot.alt)}" '
        f'data-plot="{esc(plot.name)}"><figcaption>{esc(plot.title)}</figcaption></figure>'
    )


class _NoData(Exception):
    """The analysis has nothing to draw for this plot."""


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _to_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bounds(est: Estimate | None) -> tuple[float, float, float] | None:
    """(value, distance to low, distance to high); NaN-free, zero-width without a CI."""
    found = as_estimate(est)
    if found is None:
        return None
    value, low, high = found.value, found.low, found.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return value, 0.0, 0.0
    return value, max(0.0, value - low), max(0.0, high - value)


def score_vs_length(analysis: Analysis) -> Any:
    """Mean judge score of each answer against its length in tokens, both models."""
    points = analysis.points
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    drawn = False
    for role in ("base", "tuned"):
        xs, ys = [], []
        for p in points:
            x, y = float(p.tokens), p.score
            if p.role == role and y is not None and math.isfinite(y):
                xs.append(x)
                ys.append(y)
        if xs:
            ax.scatter(xs, ys, s=28, alpha=0.75, color=COLORS[role], label=f"{role} ({len(xs)})")
            drawn = True
    if not drawn:
        raise _NoData("no scored answers")
    ax.set_xlabel("response length (tokens)")
    ax.set_ylabel("mean judge score over criteria")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def criterion_bars(analysis: Analysis) -> Any:
    """Each criterion's mean score per model, with CI error bars."""
    criteria = analysis.criteria
    names = list(criteria)
    if not names:
        raise _NoData("no criteria")
    fig = _figure(max(5.0, 1.3 * len(names) + 2), 3.8)
    ax = fig.add_subplot()
    width = 0.38
    drawn = False
    for offset, role in ((-width / 2, "base"), (width / 2, "tuned")):
        xs, values, lows, highs = [], [], [], []
        for i, name in enumerate(names):
            found = _bounds(getattr(criteria[name], role))
            if found is not None:
                xs.append(i + offset)
                values.append(found[0])
                lows.append(found[1])
                highs.append(found[2])
        if xs:
            heights = [v - 1 for v in values]  # bars rise from the lowest level, 1
            ax.bar(xs, heights, width, bottom=1, yerr=[lows, highs], capsize=4,
                   color=COLORS[role], label=role)  # fmt: skip
            drawn = True
    if not drawn:
        raise _NoData("no criterion has a score")
    ax.set_xticks(range(len(names)), [str(n) for n in names], rotation=15)
    ax.set_ylabel("mean score (CI)")
    ax.set_ylim(1, 5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return fig


def _forest(ax: Any, items: list[tuple[str, Estimate | None]], xlabel: str) -> None:
    labels = [label for label, _ in items]
    for row, (_, est) in enumerate(items):
        found = _bounds(est)
        if found is None:
            ax.text(0, row, "n/a", va="center", ha="center", color="#999999", fontsize=8)
            continue
        value, down, up = found
        has_ci = (down, up) != (0.0, 0.0) or content.side(est) is not None
        significant = content.side(est) in (1, -1)
        color = "#c0392b" if significant else "#2b6cb0"
        ax.errorbar(
            [value],
            [row],
            xerr=[[down], [up]],
            fmt="o" if has_ci else "D",
            color=color,
            mfc=color if has_ci else "white",
            capsize=3,
        )
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def bias_forest(analysis: Analysis) -> Any:
    """Every bias estimate with its CI and a zero line (red: CI excludes 0)."""
    prefs = content.preference_estimates(analysis)
    shifts = content.score_shift_estimates(analysis)
    if not prefs:
        raise _NoData("bias probes not run")
    panels = [(prefs, "net preference for the variant (−1..+1)")]
    if shifts:
        panels.append((shifts, "score shift, variant − original (points)"))
    heights = [max(1.5, 0.28 * len(items) + 0.8) for items, _ in panels]
    fig = _figure(7.5, sum(heights) + 0.4)
    axes = fig.subplots(len(panels), 1, height_ratios=heights, squeeze=False)[:, 0]
    for ax, (items, xlabel) in zip(axes, panels, strict=True):
        _forest(ax, items, xlabel)
    return fig


def position_plot(analysis: Analysis) -> Any:
    """Position consistency and first-slot share, with CIs and reference lines."""
    main, every = analysis.reliability.position, analysis.reliability.position_all_comparisons
    rows = [
        ("consistency (tuned vs base)", main.consistency if main else None, 1.0),
        ("consistency (all comparisons)", every.consistency if every else None, 1.0),
        ("first-slot share (tuned vs base)", main.first_slot_share if main else None, 0.5),
        ("first-slot share (all comparisons)", every.first_slot_share if every else None, 0.5),
    ]
    if all(as_estimate(est) is None for _, est, _ in rows):
        raise _NoData("no pair judged in both orders")
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    for row, (_, est, ideal) in enumerate(rows):
        ax.plot([ideal], [row], marker="|", markersize=18, color="#27ae60")
        found = _bounds(est)
        if found is not None:
            value, down, up = found
            ax.errorbar([value], [row], xerr=[[down], [up]], fmt="o", color="#2b6cb0", capsize=4)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share (CI); green tick = ideal judge")
    ax.grid(axis="x", alpha=0.3)
    return fig


PlotSpec = tuple[str, str, Callable[[Analysis], Any]]
"""A plot's title, alt text and draw function."""

PLOTS: dict[str, PlotSpec] = {
    "score_vs_length": (
        "Judge score vs response length",
        "Scatter plot of each answer's mean judge score against its length in tokens",
        score_vs_length,
    ),
    "criteria": (
        "Scores per criterion",
        "Bar chart of mean scores per criterion for base and tuned with CI error bars",
        criterion_bars,
    ),
    "bias": (
        "Bias estimates",
        "Forest plot of every bias estimate with its CI and a zero line",
        bias_forest,
    ),
    "position": (
        "Position bias",
        "Position consistency and first-slot share with CIs",
        position_plot,
    ),
}


def render_plots(analysis: Analysis) -> dict[str, Plot]:
    """Every plot of the report, by name."""
    return draw_plots(analysis, PLOTS)


def draw_plots(analysis: Analysis, plots: Mapping[str, PlotSpec]) -> dict[str, Plot]:
    """Draw each ``name: (title, alt text, draw function)``; a plot that cannot be drawn
    says why instead of failing the report."""
    import matplotlib

    out = {}
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 9}):
        for name, (title, alt, draw) in plots.items():
            try:
                out[name] = Plot(name, title, alt, data_uri=_to_uri(draw(analysis)))
            except _NoData as exc:
                out[name] = Plot(name, title, alt, missing=str(exc))
            except (ValueError, TypeError, KeyError, RuntimeError) as exc:
                out[name] = Plot(name, title, alt, missing=f"could not draw ({exc})")
    return out
