"""The typed analysis: the file round-trips byte for byte, bad files get one-line errors, and
docs/analysis-schema.md is what the dataclasses generate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SYNTHETIC_PROMPTS as PROMPTS
from helpers import copy_run, invoke, write_jsonl

from evalharness.analysis.model import Analysis
from evalharness.analysis.schema import DOC, PROSE, render
from evalharness.commands.main import cli
from evalharness.errors import ConfigError
from evalharness.runstore import write_json_atomic


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scripted run with probes (a planted length bias)."""
    path = tmp_path_factory.mktemp("model") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GITHUB_STEP_SUMMARY", raising=False)
        args = ["run", "--base", "fake:b?chat=0", "--tuned", "fake:t?style=long",
                "--judge", "fake:j?length=0.8", "--prompts", str(PROMPTS),
                "--run-dir", str(path)]  # fmt: skip
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return path


def test_file_round_trips_byte_for_byte(run_dir: Path, tmp_path: Path) -> None:
    path = run_dir / "analysis.json"
    analysis = Analysis.read(path)
    assert analysis.bias is not None and analysis.bias.lbr is not None
    assert analysis.bias.lbr.low > 0  # typed access reaches the planted bias
    assert analysis.to_json() == json.loads(path.read_text(encoding="utf-8"))
    again = tmp_path / "analysis.json"
    write_json_atomic(again, analysis.to_json())
    assert again.read_bytes() == path.read_bytes()


def test_labeled_human_section_round_trips(tmp_path: Path, label_template: Path) -> None:
    """A human section (PPI, kappa, the "lambda" key) survives from_json and to_json."""
    from evalharness.analysis.human import human_for_run
    from evalharness.labels.sample import draw_sample
    from evalharness.report import read_analysis
    from evalharness.runstore import RunStore

    run = copy_run(label_template, tmp_path / "run")
    sample = draw_sample(RunStore(run), 8, seed=0)
    rows = [{"prompt_id": i.prompt_id, "verdict": "A" if n % 2 else "tie"}
            for n, i in enumerate(sample.items)]  # fmt: skip
    labels = write_jsonl(tmp_path / "l.jsonl", rows)
    invoke("labels", "import", str(run), str(labels), "--annotator", "a")
    stored = read_analysis(run)
    human = human_for_run(RunStore(run), stored, {}, [], 0.1)
    assert human is not None and human.n_labels == sum(i.random for i in sample.items)
    data = dataclasses.replace(stored, human=human).to_json()
    assert "lambda" in data["human"] and data["human"]["n_labels"] == human.n_labels
    again = Analysis.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data


def test_wrong_schema_version_is_refused(run_dir: Path) -> None:
    data = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    data["schema_version"] = 99
    with pytest.raises(ConfigError) as info:
        Analysis.from_json(data, "runs/x/analysis.json")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("runs/x/analysis.json: schema_version 99 is not supported")
    assert "reads 1" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["headline"].update(n="four"), "headline.n: expected an integer, got str"),
        (lambda d: d["run"].pop("judge"), "run: missing field 'judge'"),
        (lambda d: d["headline"]["win_rate"].update(value="x"), "headline.win_rate.value"),
        (lambda d: d.update(examples={}), "examples: expected a list"),
    ],
)
def test_malformed_fields_name_their_path(run_dir: Path, change: object, expected: str) -> None:
    data = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        Analysis.from_json(data, "a.json")


def test_report_on_a_malformed_analysis_exits_2(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    data = json.loads((broken / "analysis.json").read_text(encoding="utf-8"))
    data["reliability"]["position"] = {"n": 3}
    (broken / "analysis.json").write_text(json.dumps(data), encoding="utf-8")
    before = (broken / "report.md").read_bytes()
    result = CliRunner().invoke(cli, ["report", str(broken)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "reliability.position: missing field 'consistent'" in result.output
    assert (broken / "report.md").read_bytes() == before  # nothing half-written


def test_schema_doc_is_generated_from_the_dataclasses() -> None:
    expected = render(PROSE.read_text(encoding="utf-8"))
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/analysis-schema.md is stale: run `python -m evalharness.analysis.schema`"
    )


def test_schema_doc_lists_every_json_key(run_dir: Path) -> None:
    """Every key of a real analysis.json appears in the generated document."""
    text = DOC.read_text(encoding="utf-8")
    data = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    keys: set[str] = set()

    def walk(value: object, free: bool) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if not free:
                    keys.add(k)
                walk(v, k in FREE_KEYS)
        elif isinstance(value, list):
            for v in value:
                walk(v, False)

    walk(data, False)
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing


FREE_KEYS = {"criteria", "per_prompt", "probes", "score_shift", "cbr_score_shift", "adjusted_p",
             "modes", "pointwise", "pairwise", "outcomes", "outcome_shares", "by_role", "share",
             "probe_share_of_run", "probe_seconds", "responses", "tokens", "finish_reason",
             "scores", "kinds", "dropped_terms", "coefficients", "bias_interval_width",
             "tuned", "base"}  # fmt: skip
