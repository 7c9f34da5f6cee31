"""report.md and report.html: content, escaping of model outputs, self-containment, job summary."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import LONG_RUN_FLAGS, edited, invoke, write_jsonl
from helpers import nearly_empty as make_nearly_empty

from evalharness.analysis.model import Analysis
from evalharness.commands.main import cli
from evalharness.report import read_analysis, write_reports
from evalharness.report.content import fmt_est, preference_reading
from evalharness.report.html import render_html
from evalharness.report.markdown import md_fence, md_text, render_markdown
from evalharness.report.plots import render_plots
from evalharness.runstore import RunStore

SCRIPT = '<script>window.__pwned=1;document.title="pwned"</script>'
IMG = '<img src=x onerror="window.__pwned=2">'
PAYLOAD = f"Sure. {SCRIPT} and {IMG} ```` fence & done"
RUN_FLAGS = LONG_RUN_FLAGS


def make_injected_run(run_dir: Path) -> Path:
    """A fake-backend run whose tuned answer to the "time" prompt carries HTML/JS payloads."""
    invoke("generate", *RUN_FLAGS, "--run-dir", str(run_dir))
    path = run_dir / "generations.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    hits = [r for r in rows if r["prompt_id"] == "time" and r["role"] == "tuned"]
    assert len(hits) == 1
    hits[0]["output"] = PAYLOAD
    write_jsonl(path, rows)
    invoke("run", *RUN_FLAGS, "--run-dir", str(run_dir))
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_injected_run(tmp_path_factory.mktemp("run") / "r")


@pytest.fixture(scope="module")
def analysis(run_dir: Path) -> Analysis:
    return read_analysis(run_dir)


def outside_fences(markdown: str) -> str:
    """The Markdown with the contents of every fenced code block removed."""
    out, fence = [], None
    for line in markdown.splitlines():
        if fence is None:
            match = re.match(r"^(`{3,})", line)
            if match:
                fence = match.group(1)
            else:
                out.append(line)
        elif re.fullmatch(rf"{fence}`*\s*", line):
            fence = None
    assert fence is None, "unclosed code fence"
    return "\n".join(out)


def test_run_writes_both_reports(run_dir: Path) -> None:
    assert (run_dir / "report.md").stat().st_size > 0
    assert (run_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_markdown_has_headline_criteria_reliability(analysis: Analysis) -> None:
    md = render_markdown(analysis)
    head = analysis.to_json()["headline"]
    assert "## Headline: tuned vs base" in md
    assert fmt_est(head["win_rate"], "pct").replace("[", "\\[").replace("]", "\\]") in md
    wins, ties, losses = (head["outcomes"][k] for k in ("win", "tie", "loss"))
    assert f"| {wins} / {ties} / {losses} |" in md
    assert f"{head['order_disagreements']} of {head['n']}" in md
    assert "Length-controlled win rate" in md
    for name, entry in analysis.to_json()["criteria"].items():
        row = next(line for line in md.splitlines() if line.startswith(f"| {md_text(name)} |"))
        assert md_text(fmt_est(entry["tuned_minus_base"], "signed")) in row
    assert "Position consistency (tuned vs base)" in md
    assert "Parse failures" in md


def test_markdown_bias_rows_have_readings(analysis: Analysis) -> None:
    md = render_markdown(analysis)
    lbr = analysis.to_json()["bias"]["lbr"]
    assert lbr["low"] > 0, "the scripted judge prefers the longer answer"
    row = next(line for line in md.splitlines() if line.startswith("| Length bias, LBR"))
    assert md_text(fmt_est(lbr, "signed")) in row
    assert "it rewards length, not content" in row
    assert f"net {abs(lbr['value']) * 100:.0f} percentage points" in row
    assert "| Confidence bias, CBR" in md
    for kind in analysis.to_json()["bias"]["probes"]:
        assert f"| Preference for {kind} over original |" in md
    assert "### Which criterion each probe moves most" in md


def test_markdown_renders_warnings_prominently(analysis: Analysis) -> None:
    md = render_markdown(analysis)
    assert analysis.warnings, "the biased fake judge must trigger warnings"
    trust = md.index("## ⚠ Can this judge be trusted?")
    assert trust < md.index("## Headline")
    for warning in analysis.warnings:
        assert f"- ⚠ {md_text(warning)}" in md


def test_self_judging_gets_a_loud_line(analysis: Analysis) -> None:
    changed = edited(analysis, lambda d: d["reliability"].update(judges_itself=["tuned"]))
    md = render_markdown(changed)
    loud = next(line for line in md.splitlines() if line.startswith("> **⚠"))
    assert "IS ALSO THE TUNED MODEL" in loud
    assert "IS ALSO THE TUNED MODEL" in render_html(changed, {})
    assert "IS ALSO THE" not in render_markdown(analysis)


def test_examples_time_first_up_to_four(analysis: Analysis) -> None:
    md = render_markdown(analysis)
    headings = [line for line in md.splitlines() if line.startswith("### Example ")]
    assert len(headings) == min(4, len(analysis.examples))
    assert headings[0] == "### Example 1: time"
    assert "Can you tell me the time?" in md


def test_model_output_never_unescaped_in_markdown(analysis: Analysis) -> None:
    md = render_markdown(analysis)
    assert PAYLOAD in md, "the response is shown verbatim inside a code block"
    prose = outside_fences(md)
    assert "<script" not in prose and "<img" not in prose
    # the payload's ```` run cannot close its block: the fence is longer
    block = md_fence(PAYLOAD)
    assert block.startswith("`````text\n") and block.endswith("\n`````")


def test_text_fields_escaped_in_markdown_and_html(analysis: Analysis) -> None:
    def change(data: dict[str, Any]) -> None:
        data["examples"][0]["prompt_id"] = SCRIPT
        data["examples"][0]["prompt"] = IMG
        data["run"]["tuned"] = IMG
        data["warnings"].append(f"{SCRIPT} | *bold* [link](javascript:alert(1))")

    evil = edited(analysis, change)
    md = render_markdown(evil)
    prose = outside_fences(md)
    assert "<script" not in prose and "<img" not in prose
    assert "&lt;script&gt;" in prose
    assert "\\[link\\](javascript:alert(1))" in prose
    page = render_html(evil, {})
    assert "<script" not in page and "<img src=x" not in page
    assert page.count("&lt;script&gt;window.__pwned=1") >= 2


def test_html_escapes_outputs_and_is_self_contained(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned=1;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert "@import" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_plots_are_png_data_uris(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    images = re.findall(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-plot="(\w+)"', page
    )
    assert {name for _, name in images} == {"score_vs_length", "criteria", "bias", "position"}
    for data, _ in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")


def test_bias_not_run_renders(analysis: Analysis) -> None:
    without = edited(analysis, lambda d: d.update(bias=None))
    md = render_markdown(without)
    assert "Bias probes: **not run**" in md
    plots = render_plots(without)
    assert plots["bias"].data_uri is None and "not run" in (plots["bias"].missing or "")
    page = render_html(without, plots)
    assert "<strong>not run</strong>" in page


def test_missing_sections_render_as_na() -> None:
    nearly_empty = make_nearly_empty()
    md = render_markdown(nearly_empty)
    assert "n/a" in md and "not run" in md
    plots = render_plots(nearly_empty)
    assert all(p.data_uri is None and p.missing for p in plots.values())
    assert "n/a" in render_html(nearly_empty, plots)


def test_step_summary_is_appended_once_per_run(
    analysis: Analysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    store = RunStore(tmp_path / "out")
    paths = write_reports(store, analysis, step_summary=summary)
    write_reports(store, analysis, step_summary=summary)
    report = paths["markdown"].read_text(encoding="utf-8")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")
    assert text.count(report) == 1  # once per run, however often `report` runs
    assert len(text) == len("earlier step\n") + len(report)
    assert set(paths) == {"markdown", "html"} and paths["html"].exists()


def test_no_step_summary_without_env(analysis: Analysis, tmp_path: Path) -> None:
    paths = write_reports(RunStore(tmp_path), analysis)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_preference_readings() -> None:
    covers = {"value": 0.1, "low": -0.05, "high": 0.2, "n": 10, "note": ""}
    assert preference_reading(covers, "padded", "length") == (
        "No detectable length bias (CI covers 0)."
    )
    above = {"value": 0.6, "low": 0.4, "high": 0.8, "n": 10, "note": ""}
    text = preference_reading(above, "padded", "length")
    assert "prefers a padded copy" in text and "60 percentage points" in text
    below = {"value": -0.3, "low": -0.5, "high": -0.1, "n": 10, "note": ""}
    assert "prefers the original over a shortened copy" in preference_reading(
        below, "shortened", "length"
    )
    assert preference_reading(None, "padded", "length") == "not run"


def test_report_command_rerenders(run_dir: Path) -> None:
    (run_dir / "report.md").unlink()
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.md").exists()


def test_report_command_missing_analysis(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "analysis.json: not found" in result.output


def test_matplotlib_not_imported_by_report_package() -> None:
    code = (
        "import sys, evalharness.report, evalharness.commands.report, evalharness.commands.main; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
