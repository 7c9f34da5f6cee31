"""Outputs stay put: scripted runs reproduce the committed analysis.json, report.md and
validation.json byte for byte (after masking what legitimately varies: run paths, wall-clock
seconds and the digest that hashes them).

The runs go through ``python -m evalharness`` so the test does not depend on where the
commands live in the package. To record new golden files after an intended change, run
``EVALHARNESS_WRITE_GOLDEN=1 pytest tests/test_golden_outputs.py`` and list the change in the
commit message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "data" / "golden"
PROMPTS = Path(__file__).parent / "data" / "synthetic_prompts.jsonl"
ONE_CRITERION = Path(__file__).parent / "data" / "one_criterion_rubric.yaml"
WRITE = os.environ.get("EVALHARNESS_WRITE_GOLDEN") == "1"
VOLATILE_KEYS = {"wall_seconds", "inputs_digest", "probe_seconds", "dir", "run_dir", "out"}


def evalharness(*args: str) -> None:
    """Run the CLI in a subprocess with a clean environment; fail with its output."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "120"
    result = subprocess.run(
        [sys.executable, "-m", "evalharness", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _mask(value: Any) -> Any:
    """The JSON value with the volatile fields replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def normalized_json(path: Path) -> str:
    """The file's JSON, volatile fields masked, in a stable layout."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps(_mask(data), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def normalized_text(path: Path, run_dir: Path) -> str:
    """A rendered report with the run directory masked."""
    text = path.read_text(encoding="utf-8").replace(str(run_dir), "<RUN>")
    text = re.sub(r"Run directory: [^<]*?\. Intervals", "Run directory: <RUN>. Intervals", text)
    text = re.sub(r"(?m)^(\| bias: [^|]*\|[^|]*\|[^|]*\| )[\d.]+ ", r"\1<t> ", text)
    return re.sub(r"\d+(\.\d+)? s wall", "<t> s wall", text)


def check(name: str, actual: str) -> None:
    """Compare with (or, when recording, write) the golden file ``name``."""
    golden = GOLDEN / name
    if WRITE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
        return
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        pairs = zip(expected.splitlines(), actual.splitlines(), strict=False)
        diff = [f"line {i + 1}: {e!r} != {a!r}" for i, (e, a) in enumerate(pairs) if e != a]
        pytest.fail(f"{name} changed ({len(diff)} lines): " + "; ".join(diff[:5]))


def test_length_biased_run(tmp_path: Path) -> None:
    """The README's scripted run: a judge with a planted, hard length bias."""
    run_dir = tmp_path / "run"
    evalharness(
        "run", "--base", "fake:base?chat=0", "--tuned", "fake:tuned",
        "--judge", "fake:judge?length=0.8&hard=1", "--prompts", str(PROMPTS),
        "--run-dir", str(run_dir),
    )  # fmt: skip
    check("length/analysis.json", normalized_json(run_dir / "analysis.json"))
    check("length/report.md", normalized_text(run_dir / "report.md", run_dir))


def test_confidence_biased_run_one_criterion(tmp_path: Path) -> None:
    """A soft confidence bias, an assertive tuned model, a one-criterion rubric, seed 3."""
    run_dir = tmp_path / "run"
    evalharness(
        "run", "--base", "fake:base?chat=0", "--tuned", "fake:tuned?style=assertive",
        "--judge", "fake:judge?confidence=0.8&score_confidence=0.5",
        "--rubric", str(ONE_CRITERION), "--prompts", str(PROMPTS), "--seed", "3",
        "--run-dir", str(run_dir),
    )  # fmt: skip
    check("confidence/analysis.json", normalized_json(run_dir / "analysis.json"))
    check("confidence/report.md", normalized_text(run_dir / "report.md", run_dir))


def test_labeled_run(tmp_path: Path) -> None:
    """A run without probes, with human labels imported, analyzed again."""
    from evalharness.labels.sample import draw_sample
    from evalharness.runstore import RunStore

    run_dir = tmp_path / "run"
    evalharness(
        "run", "--base", "fake:b?chat=0", "--tuned", "fake:t?style=long",
        "--judge", "fake:j?length=0.9", "--prompts", "default", "--run-dir", str(run_dir),
        "--no-bias",
    )  # fmt: skip
    sample = draw_sample(RunStore(run_dir), 8, seed=0, hard=1)
    rows = []
    for i, item in enumerate(sample.items):
        wanted = ("base", "tuned", "tie")[i % 3]
        slot = "tie" if wanted == "tie" else ("A" if item.slot_a == wanted else "B")
        rows.append({"prompt_id": item.prompt_id, "verdict": slot, "note": ""})
    labels = tmp_path / "kim.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evalharness("labels", "import", str(run_dir), str(labels), "--annotator", "kim")
    evalharness("analyze", str(run_dir))
    evalharness("report", str(run_dir))
    check("labeled/analysis.json", normalized_json(run_dir / "analysis.json"))
    check("labeled/report.md", normalized_text(run_dir / "report.md", run_dir))


def test_judge_validate(tmp_path: Path) -> None:
    """judge-validate with a scripted judge that prefers the word GOOD, on 12 labeled pairs."""
    pairs = tmp_path / "pairs.jsonl"
    rows = []
    for i in range(12):
        body = f"answer to question {i} is that water boils at 100 degrees. It does so at sea level"
        good, bad = f"The GOOD {body}.", f"The weak {body} indeed."
        label = 1 + i % 2
        first, second = (good, bad) if label == 1 else (bad, good)
        rows.append({"input": f"Question {i}?", "output_1": first, "output_2": second,
                     "label": label})  # fmt: skip
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "validate"
    evalharness("judge-validate", "--pairs", str(pairs), "--judge", "fake:j?prefer=GOOD",
                "--out", str(out))  # fmt: skip
    check("validate/validation.json", normalized_json(out / "validation.json"))
