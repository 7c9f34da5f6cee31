"""The leaderboard of a many-model run in report.md and report.html, and its two plots.

Tables: one row per model (raw and style-controlled rating with intervals, rank interval,
win probability against the reference, mean criterion scores, length, confidence-marker and
markdown densities, LBR and CBR) and one per style coefficient. Plots: the pairwise
win-probability heatmap (style-controlled) and the ratings against checkpoint order, when
the order is known. Model names are untrusted: every table cell goes through the escaping
table writers, and the plots draw names as plain text (mathtext off).

The plots are PNG files next to the report (:data:`PLOT_FILES`), referenced from report.md,
and inline ``data:`` images in report.html (whose Content-Security-Policy allows nothing
else).
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_leaderboard import Leaderboard, LeaderboardRow
from evalharness.report.fmt import fmt_est
from evalharness.report.markup import md_table, md_text
from evalharness.report.plots import Plot, _figure, _NoData, draw_plots, figure
from evalharness.report.style import esc, table

__all__ = [
    "PLOT_FILES",
    "leaderboard_html",
    "leaderboard_markdown",
    "leaderboard_plots",
    "leaderboard_rows",
    "models_line",
    "style_rows",
    "write_plot_files",
]

PLOT_FILES = {
    "leaderboard_heatmap": "leaderboard_heatmap.png",
    "leaderboard_order": "leaderboard_order.png",
}
EXPLAIN = (
    "Bradley–Terry ratings from the judge's pairwise verdicts (the reference is 1000; "
    "+400 points = 10:1 odds). *Controlled* holds length, markdown density and "
    "confidence-marker density equal between the two answers. Intervals: a bootstrap over "
    "prompts. LBR / CBR: the judge's net preference for a padded / assertive rewrite of "
    "that model's own answers (0 = no bias)."
)


def rating_text(est: Estimate, reference: bool = False) -> str:
    """A rating as ``1234 [1200, 1270]``; ``1000 (reference)`` for the reference."""
    if not math.isfinite(est.value):
        return "n/a"
    if reference:
        return f"{est.value:.0f} (reference)"
    if not (math.isfinite(est.low) and math.isfinite(est.high)):
        return f"{est.value:.0f}"
    return f"{est.value:.0f} [{est.low:.0f}, {est.high:.0f}]"


def models_line(analysis: Analysis) -> str | None:
    """The report's opening line for a many-model run (plain text; None for two models)."""
    board = analysis.leaderboard
    if board is None:
        return None
    run = analysis.run
    names = ", ".join(r.model for r in board.models)
    return (
        f"{len(board.models)} models ({names}) judged by {run.judge} with rubric {run.rubric} "
        f"on {run.prompts} prompts (seed {run.seed}); reference {board.reference}."
    )


def _rank(row: LeaderboardRow, controlled: bool) -> str:
    if controlled:
        rank, low, high = row.controlled_rank, row.controlled_rank_low, row.controlled_rank_high
    else:
        rank, low, high = row.rank, row.rank_low, row.rank_high
    return f"{rank} [{low}–{high}]" if (low, high) != (rank, rank) else str(rank)


def _float(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def header(board: Leaderboard) -> tuple[str, ...]:
    """The leaderboard table's column names (one column per criterion)."""
    criteria = list(board.models[0].criteria) if board.models else []
    return (
        "model", "rating", "controlled rating", "rank (controlled)",
        f"P(beats {board.reference}), controlled", *criteria, "tokens",
        "confidence markers /100 words", "markdown /100 words", "LBR", "CBR",
    )  # fmt: skip


def leaderboard_rows(board: Leaderboard) -> list[tuple[str, ...]]:
    """One row of display strings per model, best style-controlled rating first."""
    rows = board.ranked()
    return [
        (
            r.model,
            rating_text(r.rating, r.model == board.reference),
            rating_text(r.controlled_rating, r.model == board.reference),
            _rank(r, controlled=True),
            fmt_est(r.controlled_win_vs_reference, "pct"),
            *(fmt_est(e) for e in r.criteria.values()),
            _float(r.mean_tokens, 0),
            _float(r.confidence_density, 2),
            _float(r.markdown_density, 2),
            fmt_est(r.lbr, "signed") if r.lbr is not None else "not run",
            fmt_est(r.cbr, "signed") if r.cbr is not None else "not run",
        )
        for r in rows
    ]


STYLE_HEADER = ("style term", "rating points per SD [interval]", "log-odds per SD", "reading")


def style_rows(board: Leaderboard) -> list[tuple[str, str, str, str]]:
    """One row per style coefficient: its effect with interval and a plain reading."""
    out = []
    for term in board.style:
        if not term.estimable:
            out.append((term.name, "n/a", "n/a", "not estimable: no difference in this style"))
            continue
        excludes = term.points.excludes(0.0)
        if excludes:
            reading = "the judge rewards it" if term.points.value > 0 else "the judge penalizes it"
        else:
            reading = "no evidence of an effect (interval covers 0)"
        est = term.points
        shown = f"{est.value:+.0f} [{est.low:+.0f}, {est.high:+.0f}]"
        out.append((term.name, shown, fmt_est(term.logit, "signed"), reading))
    return out


def _order_note(board: Leaderboard) -> str:
    if board.checkpoint_order is None:
        return (
            "No checkpoint order is known (set `model_order:` in the config, or name the "
            "models `<run>-<step>`), so there is no rating-by-step plot."
        )
    return "Checkpoint order: " + " → ".join(md_text(m) for m in board.checkpoint_order) + "."


def _facts(board: Leaderboard) -> str:
    return (
        f"{board.battles} battles on {board.prompts} prompts ({board.excluded} failed or "
        f"undecided left out); rating target: {board.rating_target}"
        + ("" if board.converged else "; ⚠ some fits did not converge")
        + "."
    )


def leaderboard_markdown(analysis: Analysis) -> list[str]:
    """The leaderboard section of report.md (empty for two-model runs)."""
    board = analysis.leaderboard
    if board is None:
        return []
    out = ["## Leaderboard", "", EXPLAIN, "", md_text(_facts(board)), ""]
    out += [md_table(header(board), leaderboard_rows(board)), ""]
    out += ["### Style control", "", md_table(STYLE_HEADER, style_rows(board)), ""]
    out += [f"- {md_text(s)}" for s in board.readings]
    out += [""] if board.readings else []
    out += [
        f"![Pairwise win probability, style-controlled]({PLOT_FILES['leaderboard_heatmap']})",
        "",
    ]
    if board.checkpoint_order is not None:
        out += [f"![Rating by checkpoint]({PLOT_FILES['leaderboard_order']})", ""]
    out += [_order_note(board), ""]
    return out


def leaderboard_html(analysis: Analysis, plots: dict[str, Plot]) -> str:
    """The leaderboard section of report.html (empty for two-model runs)."""
    board = analysis.leaderboard
    if board is None:
        return ""
    rows = leaderboard_rows(board)
    numeric = tuple(range(1, len(header(board))))
    parts = [
        '<h2 id="leaderboard">Leaderboard</h2>',
        f"<p>{esc(EXPLAIN.replace('*', ''))}</p>",
        f"<p>{esc(_facts(board))}</p>",
        table(header(board), rows, numeric=numeric),
        "<h3>Style control</h3>",
        table(STYLE_HEADER, style_rows(board), numeric=(1, 2)),
    ]
    if board.readings:
        parts.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in board.readings) + "</ul>")
    parts.append(figure(plots.get("leaderboard_heatmap")))
    if board.checkpoint_order is not None:
        parts.append(figure(plots.get("leaderboard_order")))
    else:
        parts.append(f"<p>{esc(_order_note(board).replace('`', ''))}</p>")
    return "\n".join(p for p in parts if p)


def heatmap(analysis: Analysis) -> Any:
    """P(row beats column) from the style-controlled ratings, every pair of models."""
    board = analysis.leaderboard
    if board is None or len(board.models) < 2:
        raise _NoData("no leaderboard")
    names = [r.model for r in board.models]
    matrix = board.controlled_win_matrix
    size = 1.2 + 0.75 * len(names)
    fig = _figure(size + 1.5, size)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="RdBu")
    ax.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), labels=names)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if i != j:
                color = "white" if abs(value - 0.5) > 0.3 else "black"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=color)
    ax.set_xlabel("opponent")
    ax.set_ylabel("model")
    fig.colorbar(image, ax=ax, label="P(model beats opponent), style-controlled")
    return fig


def order_plot(analysis: Analysis) -> Any:
    """Raw and style-controlled ratings with intervals against checkpoint order."""
    board = analysis.leaderboard
    if board is None or board.checkpoint_order is None:
        raise _NoData("no checkpoint order")
    rows = {r.model: r for r in board.models}
    names = [m for m in board.checkpoint_order if m in rows]
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    for offset, label, attr, color in (
        (-0.08, "raw", "rating", "#7f8c8d"),
        (0.08, "style-controlled", "controlled_rating", "#2b6cb0"),
    ):
        xs, ys, lows, highs = [], [], [], []
        for k, name in enumerate(names):
            est: Estimate = getattr(rows[name], attr)
            low = est.low if math.isfinite(est.low) else est.value
            high = est.high if math.isfinite(est.high) else est.value
            xs.append(k + offset)
            ys.append(est.value)
            lows.append(max(0.0, est.value - low))
            highs.append(max(0.0, high - est.value))
        ax.errorbar(xs, ys, yerr=[lows, highs], fmt="o-", capsize=3, color=color, label=label)
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    ax.axhline(1000.0, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlabel("checkpoint")
    ax.set_ylabel(f"rating (reference {board.reference} = 1000)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


_PLOTS = {
    "leaderboard_heatmap": (
        "Pairwise win probability (style-controlled)",
        "Heatmap of the probability that each model beats each other model",
        heatmap,
    ),
    "leaderboard_order": (
        "Rating by checkpoint (raw and style-controlled)",
        "Ratings with intervals against checkpoint order",
        order_plot,
    ),
}


def leaderboard_plots(analysis: Analysis) -> dict[str, Plot]:
    """The leaderboard's plots by name (none for a two-model run)."""
    if analysis.leaderboard is None:
        return {}
    return draw_plots(analysis, _PLOTS)


def write_plot_files(directory: Path, plots: dict[str, Plot]) -> dict[str, Path]:
    """Write the drawn leaderboard plots as PNG files in ``directory`` (each replaced
    atomically); a plot that was not drawn leaves no file. Returns name -> path."""
    out: dict[str, Path] = {}
    for name, filename in PLOT_FILES.items():
        plot = plots.get(name)
        path = directory / filename
        if plot is None or plot.data_uri is None:
            path.unlink(missing_ok=True)
            continue
        data = base64.b64decode(plot.data_uri.split(",", 1)[1])
        handle, temp = tempfile.mkstemp(dir=directory, prefix=f".{filename}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
        out[name] = path
    return out
