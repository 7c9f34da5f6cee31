"""`evalharness compare`: changes, gates, exit codes and the JUnit report."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import LONG_RUN_FLAGS, edited, run_cli

from evalharness.analysis.model import Analysis
from evalharness.commands.main import cli
from evalharness.errors import ConfigError
from evalharness.report import read_analysis
from evalharness.report.compare import compare, compare_markdown
from evalharness.report.junit import junit_xml

RUN_FLAGS = LONG_RUN_FLAGS


def est(value: float | None, low: float | None = None, high: float | None = None) -> dict:
    return {"value": value, "low": low, "high": high, "n": 10, "note": ""}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "base"
    result = run_cli("run", *RUN_FLAGS, "--run-dir", str(path))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def analysis(run_dir: Path) -> Analysis:
    return read_analysis(run_dir)


def write_config(tmp_path: Path, gates: dict[str, float]) -> Path:
    lines = ["gates:"] + [f"  {k}: {v}" for k, v in gates.items()]
    path = tmp_path / "ci.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["compare", *args])


def test_exit_0_when_gates_pass(run_dir: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, {"min_win_rate": 0.0, "max_win_rate_drop": 0.05, "max_criterion_drop": 0.1}
    )
    result = invoke(str(run_dir), str(run_dir), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "all gates passed" in result.output
    assert "win rate" in result.output and "position consistency" in result.output


def test_exit_0_without_gates(run_dir: Path) -> None:
    result = invoke(str(run_dir), str(run_dir))
    assert result.exit_code == 0, result.output
    assert "no gates configured" in result.output


def test_exit_1_when_a_gate_fails_and_junit(
    run_dir: Path, analysis: Analysis, tmp_path: Path
) -> None:
    assert analysis.headline.win_rate.value < 0.99
    config = write_config(tmp_path, {"min_win_rate": 0.99, "max_criterion_drop": 0.5})
    junit = tmp_path / "out" / "junit.xml"
    result = invoke(str(run_dir), str(run_dir), "--config", str(config), "--junit", str(junit))
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "1 gate(s) failed" in result.output
    root = ET.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["min_win_rate", "max_criterion_drop"]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"min_win_rate"}
    assert root.find("testsuite").get("failures") == "1"
    assert root.find("testsuite").get("tests") == "2"


def test_exit_2_missing_baseline(run_dir: Path, tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nope"), str(run_dir))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no such run directory" in result.output


def test_exit_2_corrupt_analysis(run_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "analysis.json").write_text('{"schema_version": 1,', encoding="utf-8")
    result = invoke(str(run_dir), str(broken))
    assert result.exit_code == 2
    assert "analysis.json:1: not valid JSON" in result.output


def test_exit_2_not_an_analysis(run_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "analysis.json").write_text("[1, 2]", encoding="utf-8")
    assert invoke(str(other), str(run_dir)).exit_code == 2


def test_exit_2_unknown_gate(run_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"min_win_rat": 0.5})
    result = invoke(str(run_dir), str(run_dir), "--config", str(config))
    assert result.exit_code == 2
    assert "unknown gate 'min_win_rat'" in result.output and "did you mean" in result.output


def test_missing_metric_fails_its_gate(analysis: Analysis) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["bias"] = None
        data["reliability"]["position"] = None

    current = edited(analysis, drop)
    gates = {
        "max_abs_length_bias": 1.0,
        "max_abs_confidence_bias": 1.0,
        "min_position_consistency": 0.0,
    }
    result = compare(analysis, current, gates)
    assert not result.passed
    assert [g.name for g in result.failed] == [
        "min_position_consistency",
        "max_abs_length_bias",
        "max_abs_confidence_bias",
    ]
    assert all(g.message.startswith("n/a") for g in result.failed)
    changes = {c.metric: c for c in result.changes}
    assert changes["length bias (LBR)"].current is None
    assert changes["length bias (LBR)"].delta is None
    assert changes["length bias (LBR)"].formatted()[1:] == ("n/a", "n/a")


def test_bias_gates_use_absolute_value(analysis: Analysis) -> None:
    assert analysis.bias is not None and analysis.bias.lbr is not None
    lbr = analysis.bias.lbr.value
    tight = compare(analysis, analysis, {"max_abs_length_bias": abs(lbr) - 0.01})
    loose = compare(analysis, analysis, {"max_abs_length_bias": abs(lbr) + 0.01})
    assert not tight.passed and loose.passed
    flipped = edited(analysis, lambda d: d["bias"]["lbr"].update(value=-lbr))
    assert not compare(analysis, flipped, {"max_abs_length_bias": abs(lbr) - 0.01}).passed


@pytest.fixture(scope="module")
def make(analysis: Analysis) -> Any:
    """The run's analysis with the given win rate and per-criterion tuned means."""

    def build(win: dict[str, Any], tuned: dict[str, float]) -> Analysis:
        def change(data: dict[str, Any]) -> None:
            data["headline"]["win_rate"] = win
            some = next(iter(data["criteria"].values()))
            data["criteria"] = {c: {**some, "tuned": est(v)} for c, v in tuned.items()}

        return edited(analysis, change)

    return build


def test_win_rate_drop_needs_significance(make: Any) -> None:
    baseline = make(est(0.9, 0.8, 1.0), {})
    gates = {"max_win_rate_drop": 0.05}
    significant = compare(baseline, make(est(0.5, 0.3, 0.7), {}), gates)
    assert not significant.passed and "significant fall" in significant.gates[0].message
    noisy = compare(baseline, make(est(0.8, 0.6, 0.95), {}), gates)
    assert noisy.passed and "not significant" in noisy.gates[0].message
    small = compare(baseline, make(est(0.87, 0.7, 0.88), {}), gates)
    assert small.passed
    no_ci = compare(baseline, make(est(0.5), {}), gates)
    assert not no_ci.passed
    missing = compare(make(est(None), {}), make(est(0.5, 0.4, 0.6), {}), gates)
    assert not missing.passed and "baseline" in missing.gates[0].message


def test_criterion_drop(make: Any) -> None:
    baseline = make(est(0.5), {"clarity": 3.0, "honesty": 4.0})
    ok = compare(
        baseline, make(est(0.5), {"clarity": 2.95, "honesty": 4.2}), {"max_criterion_drop": 0.1}
    )
    assert ok.passed
    bad = compare(
        baseline, make(est(0.5), {"clarity": 2.5, "honesty": 4.0}), {"max_criterion_drop": 0.1}
    )
    assert not bad.passed and "clarity fell by 0.50" in bad.gates[0].message
    gone = compare(baseline, make(est(0.5), {"clarity": 3.0}), {"max_criterion_drop": 0.1})
    assert not gone.passed and "honesty: n/a in the current run" in gone.gates[0].message


def test_changes_report_deltas(analysis: Analysis) -> None:
    value = analysis.headline.win_rate.value
    current = edited(analysis, lambda d: d["headline"]["win_rate"].update(value=value - 0.25))
    result = compare(analysis, current, {})
    win = next(c for c in result.changes if c.metric == "win rate")
    assert win.delta == pytest.approx(-0.25)
    assert win.formatted()[2] == "-25.0 pts"
    criteria = [c.metric for c in result.changes if c.metric.endswith(": tuned mean")]
    assert criteria == [f"{name}: tuned mean" for name in analysis.criteria]
    assert result.passed and result.gates == []


def test_compare_rejects_unknown_gate(analysis: Analysis) -> None:
    with pytest.raises(ConfigError, match="unknown gate"):
        compare(analysis, analysis, {"min_winrate": 0.5})


def test_junit_escapes_and_parses(analysis: Analysis) -> None:
    def change(data: dict[str, Any]) -> None:
        data["run"]["dir"] = 'runs/<a & "b">\x00'
        data["bias"] = None

    evil = edited(analysis, change)
    result = compare(analysis, evil, {"max_abs_length_bias": 0.1, "min_win_rate": 0.0})
    root = ET.fromstring(junit_xml(result).encode("utf-8"))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["current"] == 'runs/<a & "b">\ufffd'
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["max_abs_length_bias"].find("failure").get("message").startswith("n/a")
    assert cases["min_win_rate"].find("failure") is None


def test_step_summary_gets_gate_table(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    config = write_config(tmp_path, {"min_win_rate": 0.99})
    assert invoke(str(run_dir), str(run_dir), "--config", str(config)).exit_code == 1
    text = summary.read_text(encoding="utf-8")
    assert "1 gate(s) failed" in text and "| min\\_win\\_rate | FAIL |" in text


def test_compare_markdown_without_gates(analysis: Analysis) -> None:
    text = compare_markdown(compare(analysis, analysis, {}))
    assert "no gates configured" in text
    assert "| win rate | " in text


def test_compare_refuses_another_judge(run_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    data = read_analysis(other).to_json()
    data["run"]["judge"] = "fake:another-judge"
    (other / "analysis.json").write_text(json.dumps(data), encoding="utf-8")
    result = invoke(str(run_dir), str(other))
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert "judge differs" in result.output and "fake:another-judge" in result.output
    assert read_analysis(run_dir).run.judge in result.output
    allowed = invoke(str(run_dir), str(other), "--allow-different-judge")
    assert allowed.exit_code == 0, allowed.output


def test_compare_refuses_another_template(run_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["pairwise_template"] = "my_pairwise.yaml"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = invoke(str(run_dir), str(other))
    assert result.exit_code == 2
    assert "pairwise_template differs" in result.output and "my_pairwise.yaml" in result.output
    assert invoke(str(run_dir), str(other), "--allow-different-judge").exit_code == 0
