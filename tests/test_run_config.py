"""A run's config is the run's; judges coexist; a rerun with nothing changed recomputes nothing."""

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import invoke

import evalharness.stages.pipeline

MODELS = ["--base", "fake:b", "--tuned", "fake:t?style=long", "--judge", "fake:j"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"Name river {i}."}) + "\n" for i in range(4))
    )
    (tmp_path / "fast.yaml").write_text("bootstrap: 50\n")
    run = tmp_path / "run"
    invoke("run", *MODELS, "--prompts", str(prompts), "--run-dir", str(run), "--no-bias",
           "--config", str(tmp_path / "fast.yaml"))  # fmt: skip
    return run


def analysis(run: Path) -> dict:
    return json.loads((run / "analysis.json").read_text(encoding="utf-8"))


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))


def test_stage_commands_keep_the_runs_config(run_dir, tmp_path):
    ci = tmp_path / "ci.yaml"  # a CI config that names only gates and statistics
    ci.write_text("bootstrap: 60\ngates:\n  min_win_rate: 0.4\n")
    invoke("analyze", str(run_dir), "--config", str(ci))
    data = analysis(run_dir)
    assert (data["run"]["base"], data["run"]["tuned"]) == ("fake:b", "fake:t?style=long")
    assert data["run"]["judge"] == "fake:j" and data["headline"]["n"] == 4
    result = invoke("judge", str(run_dir), "--config", str(ci))
    assert "0 new records" in result.output  # nothing loaded, nothing judged again
    assert "changes" not in manifest(run_dir)  # analyze and equal values change nothing


def test_a_new_judge_is_recorded_and_analyzed_by_default(run_dir):
    invoke("judge", str(run_dir), "--judge", "fake:j2?length=0.9")
    saved = manifest(run_dir)
    assert saved["config"]["judge"] == "fake:j2?length=0.9"
    assert saved["changes"][-1]["command"] == "judge"
    assert saved["changes"][-1]["values"] == {"judge": ["fake:j", "fake:j2?length=0.9"]}
    assert [j["spec"] for j in saved["judges"]] == ["fake:j", "fake:j2?length=0.9"]
    invoke("analyze", str(run_dir))
    invoke("report", str(run_dir))
    data = analysis(run_dir)
    assert data["run"]["judge"] == "fake:j2?length=0.9"
    assert data["headline"]["n"] == 4
    assert "uses fake:j2?length=0.9 (the latest" in data["warnings"][0]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "judged by fake:j2?length=0.9" in report
    assert "holds judgments by 2 judges" in report
    invoke("analyze", str(run_dir), "--judge", "fake:j")
    data = analysis(run_dir)
    assert data["run"]["judge"] == "fake:j" and data["headline"]["n"] == 4
    assert "(chosen with --judge" in data["warnings"][0]
    assert manifest(run_dir)["config"]["judge"] == "fake:j2?length=0.9"  # a view, not a change
    result = invoke("analyze", str(run_dir), "--judge", "fake:never", code=2)
    assert "no judgments by fake:never in this run" in result.stderr


def test_a_rerun_with_nothing_changed_recomputes_nothing(run_dir, tmp_path, monkeypatch):
    prompts = tmp_path / "prompts.jsonl"
    before = {n: os.stat(run_dir / n).st_mtime_ns for n in ("analysis.json", "report.md")}

    def must_not_run(*args, **kwargs):
        raise AssertionError("the analysis was recomputed")

    monkeypatch.setattr(evalharness.stages.pipeline, "analyze", must_not_run)
    args = ["run", *MODELS, "--prompts", str(prompts), "--run-dir", str(run_dir), "--no-bias",
            "--config", str(tmp_path / "fast.yaml")]  # fmt: skip
    invoke(*args)
    after = {n: os.stat(run_dir / n).st_mtime_ns for n in ("analysis.json", "report.md")}
    assert after == before
    monkeypatch.undo()
    (tmp_path / "fast.yaml").write_text("bootstrap: 51\n")  # a statistics setting changed
    invoke(*args)
    assert os.stat(run_dir / "analysis.json").st_mtime_ns != before["analysis.json"]


def test_report_appends_the_job_summary_once_per_run(run_dir, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    invoke("report", str(run_dir))
    invoke("report", str(run_dir))
    text = summary.read_text(encoding="utf-8")
    assert text.count("# evalharness report") == 1


def test_compare_names_runs_by_directory(run_dir, tmp_path):
    baseline = tmp_path / "baseline-copy"
    shutil.copytree(run_dir, baseline)
    result = invoke("compare", str(baseline), str(run_dir))
    assert f"{baseline} → {run_dir}" in " ".join(result.output.split())


def test_judge_validate_out_refuses_another_config(tmp_path):
    out = tmp_path / "validate"
    common = ["judge-validate", "--sample", "2", "--no-probes", "--run-dir", str(out)]
    invoke(*common, "--judge", "fake:j")
    before = (out / "pairwise.jsonl").read_bytes()
    refused = invoke(*common, "--judge", "fake:k", code=2)
    assert "holds a validation with another config" in refused.stderr
    assert (out / "pairwise.jsonl").read_bytes() == before
    invoke(*common, "--judge", "fake:k", "--overwrite")
    records = [json.loads(x) for x in (out / "pairwise.jsonl").read_text().splitlines()]
    assert {r["judge"] for r in records} == {"fake:k"}
