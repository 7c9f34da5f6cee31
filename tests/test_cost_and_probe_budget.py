"""The probe budget (--probe-sample, --probe-kinds) and the per-run cost accounting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from helpers import SYNTHETIC_PROMPTS as PROMPTS

from evalharness.commands.main import cli
from evalharness.config import RunConfig
from evalharness.stages.probes import probed_prompts, widest_interval


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _run(
    tmp_path: Path, *extra: str, judge: str = "fake:judge"
) -> tuple[Path, dict[str, Any], str]:
    config = tmp_path / "run.yaml"
    config.write_text("bootstrap: 100\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    args = ["run", "--config", str(config), "--base", "fake:base?chat=0", "--tuned"]
    args += ["fake:tuned?style=long", "--judge", judge, "--prompts", str(PROMPTS)]
    args += ["--run-dir", str(run_dir), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    return run_dir, analysis, result.output


def test_probe_sample_is_seeded_nested_and_bounded():
    ids = [f"p{i}" for i in range(40)]
    small = probed_prompts(ids, RunConfig(probe_sample=5))
    large = probed_prompts(ids, RunConfig(probe_sample=12))
    assert len(small) == 5 and len(large) == 12
    assert small < large  # a larger budget keeps the smaller one's prompts
    assert small == probed_prompts(list(reversed(ids)), RunConfig(probe_sample=5))
    assert small != probed_prompts(ids, RunConfig(probe_sample=5, seed=1))
    assert probed_prompts(ids, RunConfig(probe_sample=99)) == set(ids)
    assert probed_prompts(ids, RunConfig()) == set(ids)
    assert widest_interval(0) is None
    assert abs(widest_interval(100) - 0.098) < 1e-3  # type: ignore[operator]


def test_probe_budget_limits_the_work_and_reports_its_cost(tmp_path, monkeypatch):
    monkeypatch.setattr("evalharness.progress.console.width", 400)
    run_dir, analysis, output = _run(
        tmp_path, "--probe-sample", "6", "--probe-kinds", "padded,hedged"
    )
    probes = _jsonl(run_dir / "probes.jsonl")
    assert {p["kind"] for p in probes} == {"padded", "hedged"}
    assert len({p["prompt_id"] for p in probes}) == 6
    pairs = _jsonl(run_dir / "pairwise.jsonl")
    probed = {r["prompt_id"] for r in pairs if r["comparison"].startswith("probe:")}
    assert probed <= {p["prompt_id"] for p in probes}
    # no assertive variant, so no assertive-vs-hedged comparison is judged
    assert not any("assertive" in r["comparison"] for r in pairs)
    assert "6 prompts, 12 answers" in output
    assert "at most +/-0.28" in output  # 1.96 * sqrt(0.25 / 12)

    cost = analysis["cost"]
    gens = _jsonl(run_dir / "generations.jsonl")
    points = _jsonl(run_dir / "pointwise.jsonl")
    generate = cost["stages"]["generate"]
    assert generate["output_tokens"] == sum(g["output_tokens"] for g in gens)
    assert generate["prompt_tokens"] == sum(g["prompt_tokens"] for g in gens)
    assert generate["by_role"]["tuned"]["answers"] == 40
    assert generate["by_role"]["tuned"]["token_source"] == "tokenizer"
    bias_judgments = sum("/" in p["subject"] for p in points) + len(
        [r for r in pairs if r["comparison"].startswith("probe:")]
    )
    assert cost["stages"]["bias"]["judgments"] == bias_judgments
    assert cost["stages"]["judge"]["judgments"] == len(points) + len(pairs) - bias_judgments
    assert set(cost["probe_seconds"]) == {"padded", "hedged"}
    assert set(cost["bias_interval_width"]) == {"lbr", "cbr"}
    assert cost["bias_interval_width"]["lbr"] > 0
    # the fake judge computes no tokens: unknown, not zero
    assert cost["stages"]["judge"]["judge_tokens_computed"] is None
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    section = markdown.split("## Run cost", 1)[1]
    assert f"{generate['output_tokens']:,} generated" in section
    assert "bias: padded" in section and "bias: hedged" in section
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="cost"' in html and "bias: hedged" in html


def test_unknown_probe_kind_is_a_one_line_error(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("bootstrap: 100\n", encoding="utf-8")
    args = ["run", "--config", str(config), "--base", "fake:b?chat=0", "--tuned", "fake:t"]
    args += ["--judge", "fake:j", "--prompts", str(PROMPTS), "--run-dir", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, [*args, "--probe-kinds", "padded,lengthy"])
    assert result.exit_code == 2
    assert "unknown probe kinds ['lengthy']" in result.output


def test_local_judge_books_the_tokens_it_computed(tmp_path, tiny_chat_dir):
    spec = f"hf:{tiny_chat_dir}"
    _, analysis, _ = _run(tmp_path, "--sample", "3", "--max-new-tokens", "8", judge=spec)
    stages = analysis["cost"]["stages"]
    assert stages["judge"]["judge_tokens_computed"] > 0
    assert stages["bias"]["judge_tokens_computed"] > 0
    assert stages["bias"]["wall_seconds"] > 0
