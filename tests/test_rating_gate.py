"""The `compare --max-rating-drop` gate: the new checkpoint's style-controlled rating is not
below the best other model's by more than X points (lower bound of the bootstrap interval of
the difference), within the current run's leaderboard."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from battle_sim import SimConfig, simulate_run
from click.testing import CliRunner
from helpers import nearly_empty

from evalharness.analysis.leaderboard import build_leaderboard
from evalharness.analysis.model import Analysis
from evalharness.analysis.run import paired_orders
from evalharness.commands.main import cli
from evalharness.errors import ConfigError
from evalharness.report.compare import rating_gate
from evalharness.text.rules import load_rules

# sft-300 is scripted 0.5 logits (87 rating points) below sft-200, the best.
STRENGTHS = {"sft-100": 0.0, "sft-200": 1.0, "sft-300": 0.5}


def scripted(strengths: dict[str, float]) -> Analysis:
    run = simulate_run(np.random.default_rng(11), strengths, 200)
    board = build_leaderboard(
        SimConfig(bootstrap=500), list(strengths), run.pairwise, run.by_prompt(),
        run.scores(), ["overall"], paired_orders(run.pairwise), load_rules(None),
    )  # fmt: skip
    return dataclasses.replace(nearly_empty(), leaderboard=board)


def write(tmp_path: Path, name: str, analysis: Analysis) -> str:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "analysis.json").write_text(json.dumps(analysis.to_json()), encoding="utf-8")
    return str(directory)


def test_gate_reads_the_difference_to_the_best_other_model() -> None:
    analysis = scripted(STRENGTHS)
    board = analysis.leaderboard
    assert board is not None and board.checkpoint_order == ["sft-100", "sft-200", "sft-300"]
    diff = board.controlled_difference[2][1]  # sft-300 − sft-200
    assert diff.high < 0.0 and diff.low < diff.value < diff.high  # a real drop, ~87 points
    failed = rating_gate(analysis, 20.0)
    assert not failed.passed and "sft-300 − sft-200 (best other)" in failed.message
    assert rating_gate(analysis, -diff.low + 1.0).passed
    assert not rating_gate(analysis, -diff.low - 1.0).passed
    # the best model itself, named as the new one, passes at 0
    assert rating_gate(analysis, 0.0, "sft-200").passed


def test_gate_errors() -> None:
    with pytest.raises(ConfigError, match="not a model of the current run"):
        rating_gate(scripted(STRENGTHS), 10.0, "sft-999")
    with pytest.raises(ConfigError, match=">= 0"):
        rating_gate(scripted(STRENGTHS), -1.0)
    two = rating_gate(nearly_empty(), 10.0)
    assert not two.passed and "no leaderboard" in two.message


def test_compare_command_exit_codes(tmp_path: Path) -> None:
    base = write(tmp_path, "base", nearly_empty())
    current = write(tmp_path, "current", scripted(STRENGTHS))
    flags = ["compare", base, current, "--allow-different-judge"]
    runner = CliRunner()
    failed = runner.invoke(cli, [*flags, "--max-rating-drop", "20"])
    assert failed.exit_code == 1, failed.output
    assert "max_rating_drop" in failed.output and "FAIL" in failed.output
    passed = runner.invoke(cli, [*flags, "--max-rating-drop", "500"])
    assert passed.exit_code == 0, passed.output
    named = runner.invoke(cli, [*flags, "--max-rating-drop", "0", "--new-model", "sft-200"])
    assert named.exit_code == 0, named.output
    unknown = runner.invoke(cli, [*flags, "--max-rating-drop", "5", "--new-model", "nope"])
    assert unknown.exit_code == 2 and "not a model of the current run" in unknown.output
