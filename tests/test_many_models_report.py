"""The leaderboard in report.md and report.html: table, style terms, heatmap, order plot,
and hostile model names shown as text everywhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from battle_sim import SimConfig, simulate_run
from helpers import nearly_empty

from evalharness.analysis.codec import encode
from evalharness.analysis.leaderboard import build_leaderboard
from evalharness.analysis.model import Analysis
from evalharness.analysis.run import paired_orders
from evalharness.report import write_reports
from evalharness.report.html import render_html
from evalharness.report.leaderboard import PLOT_FILES, leaderboard_plots
from evalharness.report.markdown import render_markdown
from evalharness.runstore import RunStore
from evalharness.text.rules import load_rules

HOSTILE = '<img src=x onerror="alert(1)">|*x*`'


def analysis_with(models: dict[str, float], order: list[str] | None = None) -> Analysis:
    run = simulate_run(
        np.random.default_rng(0), models, 60, lengths={m: 30.0 * (k + 1) for k, m in
                                                      enumerate(models)}, length_effect=3.0
    )  # fmt: skip
    board = build_leaderboard(
        SimConfig(bootstrap=200, model_order=order), list(models), run.pairwise,
        run.by_prompt(), run.scores(), ["overall"], paired_orders(run.pairwise),
        load_rules(None),
    )  # fmt: skip
    return dataclasses.replace(nearly_empty(), leaderboard=board)


def test_two_model_analysis_has_no_leaderboard_key() -> None:
    assert "leaderboard" not in encode(nearly_empty())
    assert "Leaderboard" not in render_markdown(nearly_empty())


def test_markdown_has_table_style_terms_and_plots() -> None:
    analysis = analysis_with({"sft-100": 0.0, "sft-200": 0.3, "sft-300": 0.6})
    md = render_markdown(analysis)
    assert "## Leaderboard" in md and "### Style control" in md
    assert "| sft-300 |" in md.replace("\\-", "-")
    assert f"]({PLOT_FILES['leaderboard_heatmap']})" in md
    assert f"]({PLOT_FILES['leaderboard_order']})" in md
    assert "Checkpoint order: sft-100 → sft-200 → sft-300" in md.replace("\\-", "-")
    assert "the judge rewards longer answers across models" in md
    # the table leads with the best style-controlled rating
    board = analysis.leaderboard
    assert board is not None
    best = max(board.models, key=lambda r: r.controlled_rating.value).model
    first_row = next(line for line in md.splitlines() if line.startswith("| sft"))
    assert first_row.replace("\\-", "-").startswith(f"| {best} |")


def test_hostile_model_name_is_escaped(tmp_path: Path) -> None:
    analysis = analysis_with({"a": 0.0, HOSTILE: 0.2, "c": 0.4}, order=["a", HOSTILE, "c"])
    md = render_markdown(analysis)
    assert "<img" not in md and '&lt;img src=x onerror="alert(1)"&gt;\\|\\*x\\*\\`' in md
    plots = leaderboard_plots(analysis)
    assert all(p.data_uri is not None for p in plots.values()), plots
    page = render_html(analysis, plots)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;|*x*`" in page
    paths = write_reports(RunStore(tmp_path), analysis)
    for name, filename in PLOT_FILES.items():
        assert paths[name] == tmp_path / filename
        assert (tmp_path / filename).read_bytes().startswith(b"\x89PNG")
    assert 'data-plot="leaderboard_heatmap"' in (tmp_path / "report.html").read_text()


def test_without_an_order_there_is_no_order_plot(tmp_path: Path) -> None:
    analysis = analysis_with({"x": 0.0, "y": 0.3, "z": 0.6})
    assert analysis.leaderboard is not None and analysis.leaderboard.checkpoint_order is None
    md = render_markdown(analysis)
    assert PLOT_FILES["leaderboard_order"] not in md
    assert "No checkpoint order is known" in md
    (tmp_path / PLOT_FILES["leaderboard_order"]).write_bytes(b"stale")
    write_reports(RunStore(tmp_path), analysis)
    assert not (tmp_path / PLOT_FILES["leaderboard_order"]).exists()
    assert (tmp_path / PLOT_FILES["leaderboard_heatmap"]).is_file()


@pytest.mark.parametrize("kind", ["markdown", "html"])
def test_report_roundtrips_through_analysis_json(kind: str) -> None:
    analysis = analysis_with({"a": 0.0, "b": 0.2, "c": 0.4})
    again = Analysis.from_json(analysis.to_json())
    assert again.to_json() == analysis.to_json()
    if kind == "markdown":
        assert render_markdown(again) == render_markdown(analysis)
    else:
        assert render_html(again, {}) == render_html(analysis, {})


PROMPTS = Path(__file__).parent / "data" / "synthetic_prompts.jsonl"
CHECKPOINTS = "sft-100=fake:a?quality=0.3,sft-200=fake:b?quality=0.5,sft-300=fake:c?quality=0.8"


def test_run_with_three_models_writes_leaderboard_heatmap_and_plot(tmp_path: Path) -> None:
    """End to end: scripted checkpoints of known quality q, a scripted judge that prefers A
    with probability q_A / (q_A + q_B): Bradley–Terry with log q as strength, so on the
    soft target the ratings are 1000 + 400 log10(q / 0.3) (1089 and 1170)."""
    from click.testing import CliRunner

    from evalharness.commands.main import cli

    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--models",
            CHECKPOINTS,
            "--judge",
            "fake:judge",
            "--prompts",
            str(PROMPTS),
            "--rating-target",
            "soft",
            "--run-dir",
            str(run_dir),
        ],  # fmt: skip
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    analysis = Analysis.read(run_dir / "analysis.json")
    board = analysis.leaderboard
    assert board is not None and board.rating_target == "soft"
    rows = {r.model: r for r in board.models}
    for model, q in (("sft-200", 0.5), ("sft-300", 0.8)):
        assert rows[model].rating.value == pytest.approx(1000 + 400 * np.log10(q / 0.3), abs=1)
    assert board.checkpoint_order == ["sft-100", "sft-200", "sft-300"]
    assert rows["sft-300"].lbr is not None  # the bias stage probed every model
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Leaderboard" in md and "## Headline: tuned vs base" not in md
    for filename in PLOT_FILES.values():
        assert (run_dir / filename).read_bytes().startswith(b"\x89PNG")
        assert f"]({filename})" in md
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'data-plot="leaderboard_heatmap"' in page and 'data-plot="leaderboard_order"' in page
    # the terminal summary speaks of the leaderboard, not of a "tuned vs base" rate
    assert "best style-controlled rating: sft-300 (1170" in result.output
    assert "tuned vs base win rate" not in result.output


def test_deterministic_outcomes_are_flagged_in_the_report(tmp_path: Path) -> None:
    """On the default outcome target the same scripted judge always picks the better model:
    the report says the gaps are not estimable rather than showing them as measured."""
    from click.testing import CliRunner

    from evalharness.commands.main import cli

    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--models",
            CHECKPOINTS,
            "--judge",
            "fake:judge",
            "--prompts",
            str(PROMPTS),
            "--run-dir",
            str(run_dir),
            "--no-cache",
        ],  # fmt: skip
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "sft-300 won every decided battle against sft-200, sft-100" in md
