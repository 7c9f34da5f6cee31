"""Shared test helpers: the CLI run in process, input files, scripted runs, typed analyses to
edit, and a headless Chromium. Fixtures built on these live in conftest.py."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_probes import Human
from evalharness.commands.main import cli
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SYNTHETIC_PROMPTS = DATA / "synthetic_prompts.jsonl"
"""The synthetic prompt set of the scripted runs (tests/data)."""

LONG_RUN_FLAGS = [
    "--base", "fake:b?chat=0", "--tuned", "fake:t?style=long",
    "--judge", "fake:j?length=0.8&hard=1",
]  # fmt: skip
"""A scripted run: a long-winded tuned model and a judge with a strong length bias."""

LABEL_RUN_FLAGS = [
    "--base", "fake:b?chat=0", "--tuned", "fake:t?style=long", "--judge", "fake:j?length=0.9",
]  # fmt: skip

VARIED_PROMPTS = (
    "Hi",
    "Tell me the time please",
    "What is the answer to the question of the river city?",
    "A or B",
    "Score the first response because it is clear and honest and correct, or the second one",
    "Please tell me what number is better: 3 or 5",
)
"""Prompts of very different token lengths, for batching tests of local models."""


# ------------------------------------------------------------------ the CLI and its inputs


def run_cli(*args: str) -> Result:
    """``evalharness ARGS`` in this process; unexpected exceptions propagate."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def invoke(*args: str, code: int = 0) -> Result:
    """:func:`run_cli`, asserting the exit code (the output is shown when it differs)."""
    result = run_cli(*args)
    assert result.exit_code == code, result.output
    return result


def generate_args(
    run_dir: Path,
    prompts: Path,
    *extra: str,
    base: str = "fake:b?chat=0",
    tuned: str = "fake:t?style=long",
    judge: str = "fake:j",
) -> list[str]:
    """``generate`` with scripted models (by default a terse base and a long-winded tuned one)."""
    return [
        "generate", "--base", base, "--tuned", tuned, "--judge", judge,
        "--prompts", str(prompts), "--run-dir", str(run_dir), *extra,
    ]  # fmt: skip


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Write one JSON line per row (a string row is written as it is, for malformed lines)."""
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ------------------------------------------------------------------ records


def generation_record(prompt_id: str, **fields: Any) -> GenerationRecord:
    """A generation with placeholder values; ``fields`` sets any of them."""
    values: dict[str, Any] = {
        "role": "base", "model": "fake:m", "resolved": "fake:m", "prompt": "p",
        "rendered_prompt": "p", "output": "out", "prompt_tokens": 1, "output_tokens": 1,
        "finish_reason": "stop", "seconds": 0.0,
    }  # fmt: skip
    return GenerationRecord(prompt_id=prompt_id, **{**values, **fields})


def pointwise_record(prompt_id: str, **fields: Any) -> PointwiseRecord:
    """A pointwise judgment without a verdict (no probability mass); ``fields`` sets any value."""
    values: dict[str, Any] = {
        "subject": "base", "judge": "fake:j", "rubric": "r@1", "template": "t@1",
        "criterion": "c", "rendered_prompt": "", "probs": {}, "mass": 0.0, "expected": None,
        "argmax": None, "low_mass": True, "mode": "logprobs",
    }  # fmt: skip
    return PointwiseRecord(prompt_id=prompt_id, **{**values, **fields})


def pairwise_record(prompt_id: str, **fields: Any) -> PairwiseRecord:
    """A pairwise judgment (tuned vs base, order xy) at even odds; ``fields`` sets any value."""
    values: dict[str, Any] = {
        "comparison": "c", "x": "tuned", "y": "base", "order": "xy", "judge": "j",
        "rubric": "r@1", "template": "t@1", "rendered_prompt": "", "probs": {"A": 0.5, "B": 0.5},
        "mass": 1.0, "p_first": 0.5, "p_x": 0.5, "low_mass": False, "mode": "logprobs",
    }  # fmt: skip
    return PairwiseRecord(prompt_id=prompt_id, **{**values, **fields})


# ------------------------------------------------------------------ prepared run directories


def make_label_run(run_dir: Path, prompts: str = "default") -> Path:
    """Generate and judge a prompt set with the scripted backends (no bias probes, ~1 s)."""
    invoke("run", *LABEL_RUN_FLAGS, "--prompts", prompts, "--run-dir", str(run_dir), "--no-bias")
    return run_dir


def copy_run(template: Path, target: Path) -> Path:
    """A fresh copy of a prepared run directory."""
    shutil.copytree(template, target)
    return target


# ------------------------------------------------------------------ typed analyses


def edited(analysis: Analysis, change: Callable[[dict[str, Any]], Any]) -> Analysis:
    """A copy of ``analysis`` whose JSON document went through ``change`` (it edits in place)."""
    data = copy.deepcopy(analysis.to_json())
    change(data)
    return Analysis.from_json(data)


def no_estimate() -> dict[str, Any]:
    """An Estimate without data."""
    return {"value": None, "low": None, "high": None, "n": 0, "note": "no data"}


def nearly_empty_json() -> dict[str, Any]:
    """The document of a run where nothing could be computed: every section empty or null."""
    position = None
    return {
        "schema_version": 1,
        "examples": [],
        "run": {"dir": "r", "base": "b", "tuned": "t", "judge": "j", "rubric": "x@1",
                "criteria": [], "prompts": 0, "seed": 0, "bootstrap": 10, "confidence": 0.95},
        "headline": {"n": 0, "win_rate": no_estimate(), "outcomes": {}, "outcome_shares": {},
                     "order_disagreements": 0, "order_disagreement_ids": [], "undecided": 0,
                     "tie_band": 0.1, "controlled": None, "per_prompt": {}},
        "criteria": {},
        "reliability": {"position": position, "position_all_comparisons": position,
                        "pointwise_mass": no_estimate(), "pairwise_mass": no_estimate(),
                        "pointwise_low_mass_share": None, "pairwise_low_mass_share": None,
                        "modes": {}, "parse_failures": {"pointwise": 0, "pairwise": 0,
                                                        "total_judgments": 0},
                        "judges_itself": [], "judge": "j"},
        "bias": None,
        "points": [],
        "human": None,
        "cost": {"stages": {"generate": {"answers": 0, "prompt_tokens": 0, "output_tokens": 0,
                                         "seconds": 0.0, "by_role": {}},
                            "judge": {"judgments": 0, "seconds": 0.0, "failed": 0,
                                      "judge_tokens_computed": None, "wall_seconds": None},
                            "bias": {"judgments": 0, "seconds": 0.0, "failed": 0,
                                     "judge_tokens_computed": None, "wall_seconds": None}},
                 "seconds": 0.0, "share": {}},
        "failures": {"records": 0, "failed": 0, "share": 0.0, "stages": []},
        "warnings": [],
    }  # fmt: skip


def nearly_empty() -> Analysis:
    """:func:`nearly_empty_json` as an Analysis."""
    return Analysis.from_json(nearly_empty_json())


def human_with(ppi_win_rate: Estimate | None) -> Human:
    """A human section holding only a prediction-powered win rate."""
    return Human(
        n_labels=0, n_label_records=0, annotators=[], extra_labeled=[], unlabeled_prompts=0,
        labels_without_judgment=[], agreement=None, kappa=None, confusion={}, disagreements=[],
        inter_annotator=None, human_win_rate=None, ppi_win_rate=ppi_win_rate,
        judge_win_rate=None, lambda_=None, correlation=None, effective_labels=None,
        labels_needed=None, criteria=None,
    )  # fmt: skip


# ------------------------------------------------------------------ headless Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
)


def require_chromium() -> None:
    """Skip the calling test module unless chromium, chromedriver and selenium are present."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "chromium and chromedriver are not installed "
            "(apt-get install chromium chromium-driver)",
            allow_module_level=True,
        )
    pytest.importorskip("selenium.webdriver", reason="selenium is not installed")


def open_chromium(profile: Path) -> Any:
    """A headless Chromium driven by selenium, keeping the browser console's log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def severe_console_errors(driver: Any) -> list[Any]:
    """The SEVERE entries of the browser console's log so far."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
