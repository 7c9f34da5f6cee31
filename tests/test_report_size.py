"""report.md stays under GitHub's comment limit; the job summary under 1 MiB."""

import json

from click.testing import CliRunner
from helpers import nearly_empty_json

from evalharness.analysis.model import Analysis
from evalharness.commands.main import cli
from evalharness.report import STEP_SUMMARY_LIMIT, fit_summary
from evalharness.report.markdown import render_markdown
from evalharness.report.size import MARKDOWN_LIMIT, NOTE, fit_markdown


def test_a_huge_prompt_gives_a_report_md_under_the_comment_limit(tmp_path, monkeypatch):
    huge = "Tell me about rivers. " * 8_000  # 176,000 characters
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"id": "big", "prompt": huge}, {"id": "small", "prompt": "Name a river."}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "fast.yaml").write_text("bootstrap: 50\n")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    args = ["run", "--base", "fake:b", "--tuned", "fake:t", "--judge", "fake:j", "--prompts",
            str(prompts), "--run-dir", str(tmp_path / "run"), "--no-bias",
            "--config", str(tmp_path / "fast.yaml")]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "prompt 'big'" in " ".join(result.output.split())  # a very large input is named
    markdown = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert len(markdown) < MARKDOWN_LIMIT
    assert NOTE in markdown and "report.html" in markdown
    assert "## Headline" in markdown  # the numbers stay; only the examples are cut
    assert huge in (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert len(summary.read_bytes()) < 1024 * 1024


def test_fit_markdown_drops_examples_when_cutting_is_not_enough():
    both = {"base": "b", "tuned": "t"}
    example = {"prompt_id": "p", "prompt": "x" * 40_000, "responses": both,
               "tokens": {"base": 1, "tuned": 1},
               "finish_reason": {"base": "stop", "tuned": "stop"},
               "scores": {"base": {}, "tuned": {}}}  # fmt: skip
    data = nearly_empty_json()
    data["examples"] = [dict(example, prompt_id=f"p{i}") for i in range(4)]
    analysis = Analysis.from_json(data)
    text = fit_markdown(analysis, render_markdown, limit=5_000)
    assert len(text) < 5_000 and NOTE in text
    data["examples"] = [dict(example, prompt="short")]
    assert NOTE not in fit_markdown(Analysis.from_json(data), render_markdown)


def test_the_job_summary_is_cut_to_its_room():
    text = "é" * (STEP_SUMMARY_LIMIT)  # two bytes a character: twice the room
    fitted = fit_summary(text, STEP_SUMMARY_LIMIT)
    assert len(fitted.encode("utf-8")) <= STEP_SUMMARY_LIMIT
    assert "job-summary limit" in fitted
    assert fit_summary("short", 100) == "short\n"
