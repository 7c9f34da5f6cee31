"""The Human check: analysis of imported labels, its report section, the PPI gate, --labeled."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import copy_run, human_with, run_cli

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.human import human_check, human_for_run
from evalharness.analysis.model import Analysis
from evalharness.analysis.ppi import ppi_mean
from evalharness.config import load_config
from evalharness.labels.records import LabelRecord, verdict_for
from evalharness.labels.sample import draw_sample
from evalharness.report import read_analysis
from evalharness.report.compare import compare
from evalharness.report.html import render_html
from evalharness.report.markdown import render_markdown
from evalharness.runstore import RunStore

NOTE = "<script>alert(1)</script> [x](javascript:y) `tick`"


@pytest.fixture
def run_dir(label_template: Path, tmp_path: Path) -> Path:
    return copy_run(label_template, tmp_path / "run")


def label(run_dir: Path, verdicts: dict[str, str], annotator: str, note: str = "") -> None:
    """Import labels given per prompt as the *model* people preferred (tuned / base / tie)."""
    sample = draw_sample(RunStore(run_dir), 8, seed=0, hard=1)
    rows = []
    for item in sample.items:
        wanted = verdicts.get(item.prompt_id)
        if wanted is None:
            continue
        slot = "tie" if wanted == "tie" else ("A" if item.slot_a == wanted else "B")
        rows.append({"prompt_id": item.prompt_id, "verdict": slot, "note": note})
    path = run_dir.parent / f"{annotator}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("labels", "import", str(run_dir), str(path), "--annotator", annotator)
    assert result.exit_code == 0, result.output


def analyze(run_dir: Path) -> dict[str, Any]:
    """The full analysis, recomputed by the CLI (a few seconds)."""
    result = run_cli("analyze", str(run_dir))
    assert result.exit_code == 0, result.output
    return read_analysis(run_dir).to_json()


def with_labels_typed(run_dir: Path) -> Analysis:
    """The run's stored analysis with its human section recomputed from the labels (fast)."""
    analysis = read_analysis(run_dir)
    return replace(analysis, human=human_for_run(RunStore(run_dir), analysis, {}, [], 0.1))


def with_labels(run_dir: Path) -> dict[str, Any]:
    """:func:`with_labels_typed` as the JSON document."""
    return with_labels_typed(run_dir).to_json()


def test_no_labels_no_section(run_dir: Path) -> None:
    analysis = read_analysis(run_dir)
    assert analysis.human is None
    assert "No human labels yet" in render_markdown(analysis)


def test_known_answers_with_a_constant_biased_judge(run_dir: Path) -> None:
    """The judge prefers the (longer) tuned answer everywhere; people mostly prefer base."""
    sample = draw_sample(RunStore(run_dir), 8, seed=0, hard=1)
    random_ids = [i.prompt_id for i in sample.items if i.random]
    extra = [i.prompt_id for i in sample.items if not i.random]
    verdicts = dict.fromkeys(random_ids[:6], "base")
    verdicts[random_ids[6]] = "tuned"
    verdicts[random_ids[7]] = "tie"
    verdicts[extra[0]] = "tuned"  # a flagged extra item: listed, never estimated
    label(run_dir, verdicts, "ann", note=NOTE)
    analysis = analyze(run_dir)
    human = analysis["human"]
    per_prompt = analysis["headline"]["per_prompt"]
    assert all(v["p_tuned"] > 0.55 for v in per_prompt.values())  # the judge: tuned, always
    assert human["n_labels"] == 8 and human["extra_labeled"] == extra
    assert human["unlabeled_prompts"] == 12 - 9
    assert human["human_win_rate"]["value"] == pytest.approx(1.5 / 8)
    assert human["agreement"]["value"] == pytest.approx(1.5 / 8)  # a tie counts half
    assert human["confusion"]["base"]["tuned"] == 6
    assert human["confusion"]["tie"]["tuned"] == 1
    assert human["confusion"]["tuned"]["tuned"] == 1
    assert len(human["disagreements"]) == 7
    assert all(d["notes"] == [f"ann: {NOTE}"] for d in human["disagreements"])
    # the PPI estimate is the standard one on these numbers
    ids = sorted(random_ids)
    value = {"tuned": 1.0, "tie": 0.5, "base": 0.0}
    unl = sorted(set(per_prompt) - set(verdicts))
    expected = ppi_mean(
        np.array([value[verdicts[i]] for i in ids]),
        np.array([per_prompt[i]["p_tuned"] for i in ids]),
        np.array([per_prompt[i]["p_tuned"] for i in unl]),
    )
    assert human["ppi_win_rate"]["value"] == pytest.approx(expected.value[0])
    assert human["ppi_win_rate"]["high"] == pytest.approx(expected.high[0])
    assert human["ppi_win_rate"]["high"] < human["judge_win_rate"]["value"]
    assert human["inter_annotator"] is None


def test_two_annotators_agreement(run_dir: Path) -> None:
    sample = draw_sample(RunStore(run_dir), 8, seed=0, hard=1)
    ids = [i.prompt_id for i in sample.items if i.random]
    label(run_dir, dict.fromkeys(ids, "base"), "ann")
    label(run_dir, dict.fromkeys(ids, "base"), "bob")
    same = with_labels(run_dir)["human"]["inter_annotator"]
    assert same["annotators"] == ["ann", "bob"] and same["shared_prompts"] == 8
    assert same["exact_agreement"] == 1.0
    label(run_dir, {**dict.fromkeys(ids[:4], "tuned"), **dict.fromkeys(ids[4:], "base")}, "cy")
    mixed = with_labels(run_dir)["human"]
    assert mixed["inter_annotator"]["krippendorff_alpha"] < 1.0
    assert mixed["inter_annotator"]["exact_agreement"] == 0.5
    # three annotators on a prompt: its human value is their mean
    assert mixed["human_win_rate"]["value"] == pytest.approx((4 * (1 / 3)) / 8)


def test_report_section_escapes_untrusted_text(run_dir: Path) -> None:
    sample = draw_sample(RunStore(run_dir), 8, seed=0)
    label(run_dir, {i.prompt_id: "base" for i in sample.items}, "ann", note=NOTE)
    analysis = with_labels_typed(run_dir)
    markdown = render_markdown(analysis)
    section = markdown[markdown.index("## Human check") : markdown.index("## Side-by-side")]
    assert "Prediction-powered win rate (PPI++)" in section
    assert "Where the judge and people disagree" in section
    assert "<script>" not in section and "&lt;script&gt;" in section
    page = render_html(analysis, {})
    assert 'id="human"' in page and "<script>" not in page


def test_compare_gate_on_the_ppi_win_rate(run_dir: Path) -> None:
    stored = read_analysis(run_dir)

    def analysis(value: float | None) -> Analysis:
        if value is None:
            return replace(stored, human=None)
        return replace(stored, human=human_with(Estimate(value, 0.4, 0.8, 50)))

    assert compare(analysis(0.6), analysis(0.6), {"min_win_rate_ppi": 0.55}).passed
    failed = compare(analysis(0.6), analysis(0.5), {"min_win_rate_ppi": 0.55})
    assert not failed.passed and "50% < 55%" in failed.gates[0].message
    missing = compare(analysis(0.6), analysis(None), {"min_win_rate_ppi": 0.55})
    assert not missing.passed and "n/a" in missing.gates[0].message


def test_gate_in_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "ci.yaml"
    path.write_text("gates:\n  min_win_rate_ppi: 0.5\n", encoding="utf-8")
    assert load_config(path).gates == {"min_win_rate_ppi": 0.5}


def test_judge_validate_labeled(tmp_path: Path) -> None:
    out = tmp_path / "val"
    args = ["judge-validate", "--judge", "fake:j?length=0.7", "--no-probes", "--out", str(out)]
    result = run_cli(*args, "--labeled", "30")
    assert result.exit_code == 0, result.output
    assert "truth from all labels: 42%" in " ".join(result.output.split())
    check = json.loads((out / "validation.json").read_text())["labeled_check"]
    assert check["labeled"] == 30 and check["unlabeled"] == 70
    assert check["truth"] == pytest.approx(0.42)
    assert check["ppi"]["low"] < check["ppi"]["value"] < check["ppi"]["high"]
    assert check["covered"] == (check["ppi"]["low"] <= 0.42 <= check["ppi"]["high"])
    result = run_cli(*args, "--labeled", "100")
    assert result.exit_code == 2 and "--labeled must be between 2 and 99" in result.output


def _record(pid: str, verdict: str, annotator: str = "a", revision: int = 0) -> LabelRecord:
    choice = {"tuned": "A", "base": "B", "tie": "tie", "undo": "undo", "skip": "skip"}[verdict]
    return LabelRecord(pid, annotator, revision, "tuned", choice, verdict_for(choice, "tuned"))


def test_human_check_edge_cases() -> None:
    per_prompt = {f"p{i}": {"p_tuned": 0.3 + 0.05 * i} for i in range(6)}
    assert human_check([], per_prompt, 0.1, {}) is None
    # an undone or skipped label does not count
    assert human_check([_record("p0", "tuned"), _record("p0", "undo", revision=1)],
                       per_prompt, 0.1, {}) is None  # fmt: skip
    one = human_check([_record("p0", "tuned"), _record("p1", "skip")], per_prompt, 0.1, {})
    assert one["n_labels"] == 1 and one["ppi_win_rate"] is None and one["unlabeled_prompts"] == 5
    everything = human_check(
        [_record(p, "tuned" if i % 2 else "base") for i, p in enumerate(per_prompt)],
        per_prompt, 0.1, {},
    )  # fmt: skip
    assert everything["unlabeled_prompts"] == 0
    assert everything["ppi_win_rate"] == everything["human_win_rate"]
    assert everything["ppi_win_rate"]["value"] == 0.5
    unjudged = human_check([_record("zz", "tuned")], per_prompt, 0.1, {})
    assert unjudged["labels_without_judgment"] == ["zz"] and unjudged["n_labels"] == 0


def test_malformed_label_file_is_a_clean_error(run_dir: Path) -> None:
    (run_dir / "labels.jsonl").write_text('{"prompt_id": "time"}\n', encoding="utf-8")
    result = run_cli("analyze", str(run_dir))
    assert result.exit_code == 2 and "labels.jsonl:1: not a valid LabelRecord" in result.output
