"""`evalharness judge-validate` on labeled pairs, with scripted judges whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import write_jsonl

from evalharness.backends import _LOADED, clear_loaded
from evalharness.backends.fake import FakeBackend
from evalharness.commands.main import cli

SHORT = "The answer is {}."
LONG = "The answer is {} and here is a longer explanation of why that is so in detail."


def write_pairs(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write LLMBar-style rows as JSONL."""
    return write_jsonl(path, rows)


def validate(pairs: Path, judge: str, out: Path) -> tuple[str, dict[str, Any]]:
    """Run judge-validate; returns its output and validation.json."""
    args = ["judge-validate", "--pairs", str(pairs), "--judge", judge, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "validation.json").read_text(encoding="utf-8"))


def prefer_rows(n: int = 10) -> list[dict[str, Any]]:
    """Pairs whose better output (label) holds the word GOOD; labels alternate 1 and 2."""
    rows = []
    for i in range(n):
        body = f"answer to question {i} is that water boils at 100 degrees. It does so at sea level"
        good, bad = f"The GOOD {body}.", f"The weak {body}."
        label = 1 + i % 2
        first, second = (good, bad) if label == 1 else (bad, good)
        rows.append(
            {"input": f"Question {i}?", "output_1": first, "output_2": second, "label": label}
        )
    return rows


def length_rows() -> list[dict[str, Any]]:
    """Ten pairs of a short and a long output; the longer is labeled better in six."""
    rows = []
    for i in range(10):
        long_first = i % 3 != 0
        first, second = (LONG, SHORT) if long_first else (SHORT, LONG)
        longer = 1 if long_first else 2
        label = longer if i < 6 else 3 - longer
        rows.append(
            {
                "id": f"len{i}",
                "input": f"Question {i}?",
                "output_1": first.format(i),
                "output_2": second.format(i),
                "label": label,
            }
        )
    return rows


def test_judge_that_sees_the_answer_is_perfect(tmp_path: Path) -> None:
    """A judge that prefers the labeled-better output: accuracy 1, kappa 1, consistent."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", prefer_rows())
    _, result = validate(pairs, "fake:j?prefer=GOOD", tmp_path / "out")
    assert result["pairs"] == result["judged"] == 10
    assert result["failed"] == 0
    assert result["accuracy"]["value"] == 1.0
    assert result["cohen_kappa"]["value"] == pytest.approx(1.0)
    assert result["cohen_kappa"]["low"] is not None
    assert result["label_1_share"]["value"] == 0.5
    assert result["warnings"] == []
    assert result["position"]["consistency"]["value"] == 1.0
    assert result["position"]["first_slot_share"]["value"] == 0.5
    # The probe variants carry GOOD on both sides or neither: this judge has no reason to
    # prefer padding or certainty, so both rates stay within its ±0.2 jitter.
    for name in ("lbr", "cbr"):
        assert result[name] is not None and result[name]["n"] > 0
        assert abs(result[name]["value"]) <= 0.2


def test_length_judge_matches_the_longer_baseline(tmp_path: Path) -> None:
    """A judge that always picks the longer output is exactly as good as that baseline."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", length_rows())
    output, result = validate(pairs, "fake:j?length=1.0", tmp_path / "out")
    assert result["accuracy"]["value"] == pytest.approx(0.6)
    assert result["longer_baseline_accuracy"]["value"] == pytest.approx(0.6)
    text = " ".join(output.split())
    assert "not clearly above the best trivial baseline" in text
    assert result["position"]["consistency"]["value"] == 1.0
    assert result["lbr"]["value"] == pytest.approx(1.0)
    # A deterministic length preference: a degenerate interval, and the same LBR warning as `run`.
    assert result["lbr"]["low"] == result["lbr"]["high"] == 1.0
    assert any("prefers longer answers" in w for w in result["warnings"])
    assert "prefers longer answers" in text
    for name in ("majority_label", "always_first_slot", "longer_chars", "longer_words"):
        assert result["baselines"][name]["low"] is not None
    assert result["cbr"] is not None and -1.0 <= result["cbr"]["value"] <= 1.0


def test_rerun_resumes_without_judging_again(tmp_path: Path) -> None:
    """A second run over the same pairs reads the records and makes no judge calls."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", prefer_rows(6))
    out = tmp_path / "out"
    _, first = validate(pairs, "fake:j?prefer=GOOD", out)
    records = (out / "pairwise.jsonl").read_bytes()
    assert records.count(b"\n") > 12  # both orders of each pair, plus the probe comparisons
    clear_loaded()
    output, second = validate(pairs, "fake:j?prefer=GOOD", out)
    assert "0 new judgments" in output
    assert (out / "pairwise.jsonl").read_bytes() == records
    judges = [b for b in _LOADED.values() if isinstance(b, FakeBackend)]
    assert judges and all(b.calls == [] for b in judges)
    assert second == first


def test_always_a_judge_scores_half_and_is_warned_about(tmp_path: Path) -> None:
    """Slot A in both orders is a tie on every pair: half a vote each, and a position warning."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", length_rows())
    output, result = validate(pairs, "fake:j?position=1.0", tmp_path / "out")
    assert result["accuracy"]["value"] == pytest.approx(0.5)
    assert result["ties"] == 10
    assert result["baselines"]["always_first_slot"]["value"] == pytest.approx(0.5)
    warnings = " ".join(result["warnings"])
    assert "not clearly above the best trivial baseline" in warnings
    assert "favours the first slot" in warnings
    assert "favours the first slot" in " ".join(output.split())
