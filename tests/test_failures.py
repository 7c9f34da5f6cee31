"""Failures are counted, shown, named and retried; exit 3 when their share is over the limit."""

import json
from pathlib import Path

import pytest
from helpers import run_cli, write_jsonl
from stub_openai import StubServer

from evalharness.records import GenerationRecord
from evalharness.runstore import RunStore

PROMPTS = [
    {"id": f"p{i}", "prompt": f"Question number {i}: name a river{'!' * i}"} for i in range(6)
]


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)


@pytest.fixture
def server():
    stub = StubServer().start()
    yield stub
    stub.stop()


def write_config(tmp_path: Path, **values) -> Path:
    path = tmp_path / "ci.yaml"
    text = {"max_retries": 1, "timeout": 5, "concurrency": 1, "bootstrap": 100, **values}
    path.write_text("".join(f"{k}: {v}\n" for k, v in text.items()), encoding="utf-8")
    return path


def run_args(run_dir: Path, prompts: Path, config: Path, tuned: str, *extra: str) -> list[str]:
    return [
        "run", "--base", "fake:b", "--tuned", tuned, "--judge", "fake:j", "--prompts",
        str(prompts), "--run-dir", str(run_dir), "--config", str(config), "--no-bias", *extra,
    ]  # fmt: skip


def test_an_outage_mid_run_is_counted_shown_and_retried(tmp_path, prompts, server):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path)
    tuned = f"openai:stub@{server.url}"
    server.stop_after = 2  # the server goes away after two answers
    first = run_cli(*run_args(run_dir, prompts, config, tuned))
    assert first.exit_code == 3, first.output
    last = first.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 4 of ") and "max_failure_share 0" in last
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    stages = {(g["stage"], g["model"]): g for g in analysis["failures"]["stages"]}
    tuned_gen = stages[("generate", tuned)]
    assert (tuned_gen["failed"], tuned_gen["records"]) == (4, 6)
    assert tuned_gen["kinds"] == {"connection error": 4}
    assert tuned_gen["first_errors"][0].startswith("connection error from http://127.0.0.1:")
    assert stages[("generate", "fake:b")]["failed"] == 0
    assert analysis["reliability"]["parse_failures"]["pointwise"] == 0
    for name in ("report.md", "report.html"):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert "No warnings" not in text
        assert "4 of 6 generations failed for the tuned model" in text
        assert "connection error ×4" in text
        assert "failed to parse" not in text

    server.start()  # back on the same port
    before = len(server.requests)
    second = run_cli(*run_args(run_dir, prompts, config, tuned))
    assert second.exit_code == 0, second.output
    assert len(server.requests) - before == 4  # only the failed ones were sent again
    records = RunStore(run_dir).read(GenerationRecord)
    assert len(records) == 12 and not any(r.error for r in records)
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    assert analysis["failures"]["failed"] == 0
    assert analysis["headline"]["n"] == 6


def test_no_retry_failed_keeps_failures(tmp_path, prompts, server):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path)
    tuned = f"openai:stub@{server.url}"
    server.stop()
    assert run_cli(*run_args(run_dir, prompts, config, tuned)).exit_code == 3
    server.start()
    kept = run_cli(*run_args(run_dir, prompts, config, tuned, "--no-retry-failed"))
    assert kept.exit_code == 3
    assert server.requests == []
    assert run_cli(*run_args(run_dir, prompts, config, tuned)).exit_code == 0
    assert len(server.requests) == 6


def test_server_errors_are_named_by_status(tmp_path, prompts, server):
    run_dir = tmp_path / "run"
    server.fail_status, server.fail_body = 503, "overloaded"
    tuned = f"openai:stub@{server.url}"
    result = run_cli(*run_args(run_dir, prompts, write_config(tmp_path), tuned))
    assert result.exit_code == 3
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    group = next(g for g in analysis["failures"]["stages"] if g["model"] == tuned)
    assert group["kinds"] == {"HTTP 503": 6}
    assert "overloaded" in group["first_errors"][0]
    assert not any("parse" in w for w in analysis["warnings"])


def test_failure_share_threshold(tmp_path, prompts):
    args = ["--base", "fake:b", "--tuned", "fake:t?fail=river!!!!!", "--judge", "fake:j"]
    args += ["--prompts", str(prompts), "--no-bias"]
    strict_config = write_config(tmp_path)
    strict = run_cli("run", *args, "--run-dir", str(tmp_path / "a"), "--config", str(strict_config))
    assert strict.exit_code == 3  # default max_failure_share 0: any failure
    lenient = write_config(tmp_path / "a", max_failure_share=0.2)
    result = run_cli("run", *args, "--run-dir", str(tmp_path / "b"), "--config", str(lenient))
    assert result.exit_code == 0, result.output
    analysis = json.loads((tmp_path / "b" / "analysis.json").read_text(encoding="utf-8"))
    assert 0 < analysis["failures"]["share"] <= 0.2
    assert any("generations failed for the tuned model" in w for w in analysis["warnings"])


def test_a_judge_server_error_is_a_failure_not_a_parse_failure(tmp_path, prompts, server):
    run_dir = tmp_path / "run"
    server.fail_status, server.fail_body = 502, "bad gateway"
    judge = f"openai:stub@{server.url}"
    args = ["run", "--base", "fake:b", "--tuned", "fake:t", "--judge", judge, "--prompts",
            str(prompts), "--run-dir", str(run_dir), "--no-bias",
            "--config", str(write_config(tmp_path))]  # fmt: skip
    assert run_cli(*args).exit_code == 3
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    stages = {g["stage"]: g for g in analysis["failures"]["stages"] if g["model"] == judge}
    assert stages["judge pairwise"]["kinds"] == {"HTTP 502": 12}
    assert stages["judge pointwise"]["failed"] == stages["judge pointwise"]["records"] > 0
    assert analysis["reliability"]["parse_failures"]["pairwise"] == 0
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "12 of 12 pairwise judgments failed for the judge model" in report
