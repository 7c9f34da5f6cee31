"""Crash and resume: a run killed in any stage finishes on rerun with every record exactly once.

The killed runs are real ``python -m evalharness run`` subprocesses stopped with SIGKILL
while the stage under test is writing; the scripted fake backend sleeps a little per item
so that each stage lasts long enough to be caught. Reruns happen in this process, so the
fake's call history shows how much work the resume did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from evalharness.backends import clear_loaded
from evalharness.backends.fake import FakeBackend
from evalharness.commands.main import cli
from evalharness.records import (
    GenerationRecord,
    PairwiseRecord,
    PointwiseRecord,
    ProbeRecord,
    Record,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
RECORD_TYPES: tuple[type[Record], ...] = (
    GenerationRecord,
    PointwiseRecord,
    PairwiseRecord,
    ProbeRecord,
)
SAMPLE = 4  # prompts; the rubric has one criterion
SLOW = (
    "--base", "fake:base?chat=0&sleep=0.05",
    "--tuned", "fake:tuned?style=long&sleep=0.05",
    "--judge", "fake:judge?length=0.8&sleep=0.02",
)  # fmt: skip
FAST = ("--base", "fake:base?chat=0", "--tuned", "fake:tuned?style=long", "--judge", "fake:judge")
Records = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, quick run config: one criterion, few bootstrap resamples, batches of two; no
    result cache (these tests count what the models themselves redo)."""
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    rubric = DATA / "one_criterion_rubric.yaml"
    text = f"bootstrap: 40\nbatch_size: 2\nrubric: {rubric}\ncache: false\n"
    path.write_text(text, encoding="utf-8")
    return path


def run_args(run_dir: Path, config: Path, models: tuple[str, ...]) -> list[str]:
    """Arguments of `evalharness run` for the synthetic prompt set."""
    return [
        "run", "--config", str(config), *models,
        "--prompts", str(DATA / "synthetic_prompts.jsonl"), "--sample", str(SAMPLE),
        "--run-dir", str(run_dir),
    ]  # fmt: skip


def run_in_process(run_dir: Path, config: Path, models: tuple[str, ...]) -> list[FakeBackend]:
    """Run the pipeline here with fresh backends; returns the fake backends it created.

    Backends are tracked as they are made: the pipeline releases a model it no longer needs.
    """
    clear_loaded()
    made: list[FakeBackend] = []
    original = FakeBackend.__init__

    def tracking_init(self: FakeBackend, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    with mock.patch.object(FakeBackend, "__init__", tracking_init):
        result = CliRunner().invoke(cli, run_args(run_dir, config, models))
    assert result.exit_code == 0, result.output
    return made


def calls(backends: list[FakeBackend], kind: str) -> int:
    """How many items of one kind ("generate" or "choice") the backends processed."""
    return sum(1 for b in backends for k, _ in b.calls if k == kind)


def read_records(run_dir: Path) -> Records:
    """Every record file, checked: whole lines only, each parses, no key twice.

    Returns file name -> record key -> record (without its timing, which varies).
    """
    out: Records = {}
    for cls in RECORD_TYPES:
        path = run_dir / cls.FILE
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path} ends in a partial line"
        lines = data.decode("utf-8").splitlines()
        records = [cls.from_dict(json.loads(line)) for line in lines]
        keys = [r.key() for r in records]
        assert len(set(keys)) == len(keys), f"{path}: duplicated keys"
        out[cls.FILE] = {
            r.key(): {k: v for k, v in r.to_dict().items() if k != "seconds"} for r in records
        }
    return out


def complete_lines(path: Path) -> int:
    """Number of newline-terminated lines in a file (0 if it does not exist)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def judgments(records: Records) -> int:
    """Judge calls a set of records stands for (one per pointwise record and per order)."""
    return len(records[PointwiseRecord.FILE]) + len(records[PairwiseRecord.FILE])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> Iterator[Records]:
    """The records of an uninterrupted run of the slow configuration."""
    run_dir = tmp_path_factory.mktemp("reference")
    backends = run_in_process(run_dir, config_file, SLOW)
    records = read_records(run_dir)
    assert len(records[GenerationRecord.FILE]) == 2 * SAMPLE
    assert calls(backends, "generate") == 2 * SAMPLE
    assert calls(backends, "choice") == judgments(records)
    yield records
    clear_loaded()


def in_stage(run_dir: Path, stage: str) -> bool:
    """Whether the run has written some, not all, of the given stage's records."""
    if stage == "generate":
        return complete_lines(run_dir / GenerationRecord.FILE) > 0
    if stage == "judge":
        return complete_lines(run_dir / PointwiseRecord.FILE) > 0
    # bias: probes are built, and their pointwise scores (after the 2*SAMPLE originals) started
    return complete_lines(run_dir / PointwiseRecord.FILE) > 2 * SAMPLE


def kill_during(stage: str, run_dir: Path, config: Path, log: Path) -> None:
    """Start `evalharness run` in a subprocess and SIGKILL it once ``stage`` is under way."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalharness", *run_args(run_dir, config, SLOW)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not in_stage(run_dir, stage):
                if proc.poll() is not None:
                    pytest.fail(f"run exited ({proc.returncode}) before {stage}: {log.read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"run did not reach {stage} in 60 s")
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["generate", "judge", "bias"])
def test_kill_in_stage_then_rerun_completes(
    stage: str, tmp_path: Path, config_file: Path, reference: Records
) -> None:
    """SIGKILL mid-stage, rerun: the same records as an uninterrupted run, none twice."""
    run_dir = tmp_path / "run"
    kill_during(stage, run_dir, config_file, tmp_path / "log.txt")
    generated = complete_lines(run_dir / GenerationRecord.FILE)
    pairwise = complete_lines(run_dir / PairwiseRecord.FILE)
    # The kill landed inside the stage: its records are incomplete, the next stage not begun.
    if stage == "generate":
        assert generated < 2 * SAMPLE and not (run_dir / PointwiseRecord.FILE).exists()
    elif stage == "judge":
        assert pairwise < 2 * SAMPLE and not (run_dir / ProbeRecord.FILE).exists()
    else:
        assert pairwise < len(reference[PairwiseRecord.FILE])
    assert not (run_dir / "analysis.json").exists()
    survived = {
        cls.FILE: complete_lines(run_dir / cls.FILE) for cls in RECORD_TYPES
    }  # a line cut short by the kill is not a record

    backends = run_in_process(run_dir, config_file, SLOW)

    records = read_records(run_dir)
    assert records == reference
    # The resume did exactly the missing work.
    assert calls(backends, "generate") == 2 * SAMPLE - survived[GenerationRecord.FILE]
    done = survived[PointwiseRecord.FILE] + survived[PairwiseRecord.FILE]
    assert calls(backends, "choice") == judgments(reference) - done
    for name in ("analysis.json", "report.md", "report.html"):
        assert (run_dir / name).stat().st_size > 0


def test_rerun_with_nothing_to_do_makes_no_model_calls(tmp_path: Path, config_file: Path) -> None:
    """A finished run rerun: no backend work, records untouched, analysis and reports rewritten."""
    run_dir = tmp_path / "run"
    run_in_process(run_dir, config_file, FAST)
    before = {cls.FILE: (run_dir / cls.FILE).read_bytes() for cls in RECORD_TYPES}
    analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    outputs = ("analysis.json", "report.md", "report.html")
    for name in outputs:
        (run_dir / name).write_text("stale", encoding="utf-8")

    backends = run_in_process(run_dir, config_file, FAST)

    assert all(b.calls == [] for b in backends)
    assert {cls.FILE: (run_dir / cls.FILE).read_bytes() for cls in RECORD_TYPES} == before
    for name in outputs:
        assert (run_dir / name).read_text(encoding="utf-8") != "stale"
    again = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
    assert again["headline"] == analysis["headline"]
    assert again["bias"] == analysis["bias"]
    assert "<html" in (run_dir / "report.html").read_text(encoding="utf-8").lower()
    assert "fake:judge" in (run_dir / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("cls", [GenerationRecord, PointwiseRecord, PairwiseRecord])
def test_line_cut_short_is_dropped_and_redone(
    cls: type[Record], tmp_path: Path, config_file: Path
) -> None:
    """A last line cut mid-write is ignored, cut off before the next append, and redone."""
    run_dir = tmp_path / "run"
    run_in_process(run_dir, config_file, FAST)
    full = read_records(run_dir)
    path = run_dir / cls.FILE
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: start + (len(data) - start) // 2])  # half of the last line

    backends = run_in_process(run_dir, config_file, FAST)

    assert read_records(run_dir) == full
    assert path.read_bytes().count(b"\n") == len(full[cls.FILE])
    # Only the lost record's item is redone: one generation, one criterion, or both orders
    # of one pair (the surviving order is not written again).
    assert calls(backends, "generate") == (1 if cls is GenerationRecord else 0)
    redone = {GenerationRecord: 0, PointwiseRecord: 1, PairwiseRecord: 2}
    assert calls(backends, "choice") == redone[cls]
