"""One writer per run directory: two real processes, and a lock left by a killed one."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from helpers import REPO, write_jsonl

PROMPTS = [{"id": f"p{i}", "prompt": f"Name river number {i}."} for i in range(4)]


def command(run_dir: Path, prompts: Path, config: Path, tuned: str) -> list[str]:
    return [
        sys.executable, "-m", "evalharness", "run", "--base", "fake:b", "--tuned", tuned,
        "--judge", "fake:j", "--prompts", str(prompts), "--run-dir", str(run_dir),
        "--config", str(config), "--no-bias",
    ]  # fmt: skip


def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    config = tmp_path / "fast.yaml"
    config.write_text("bootstrap: 100\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return prompts, config, env


def wait_for_lock(run_dir: Path, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    info = run_dir / ".lock.json"
    while time.monotonic() < deadline:
        assert process.poll() is None, "the first run ended before taking the lock"
        if info.exists():
            try:
                return json.loads(info.read_text(encoding="utf-8"))
            except ValueError:
                pass
        time.sleep(0.05)
    raise AssertionError("no lock taken")


def assert_no_duplicates(run_dir: Path) -> None:
    for name in ("generations.jsonl", "pointwise.jsonl", "pairwise.jsonl"):
        rows = [json.loads(line) for line in (run_dir / name).read_text().split("\n") if line]
        if name == "generations.jsonl":
            keys = Counter((r["prompt_id"], r["role"]) for r in rows)
            assert len(keys) == 2 * len(PROMPTS)
        else:
            keys = Counter(json.dumps(r, sort_keys=True) for r in rows)
        assert max(keys.values()) == 1, f"duplicate records in {name}"


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    prompts, config, env = setup(tmp_path)
    run_dir = tmp_path / "run"
    slow = "fake:t?sleep=2.5"  # holds the lock ~10 s: two refused starts fit under load
    first = subprocess.Popen(
        command(run_dir, prompts, config, slow),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        holder = wait_for_lock(run_dir, first)
        assert holder["pid"] == first.pid
        for tuned in (slow, "fake:other"):  # the same config, and another one
            second = subprocess.run(
                command(run_dir, prompts, config, tuned),
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert second.returncode == 2, second.stderr
            assert second.stderr.count("\n") == 1
            line = second.stderr.strip()
            assert line.startswith(f"error: {run_dir} is in use by pid {first.pid} on ")
            assert socket.gethostname() in line and holder["started"] in line
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
    assert_no_duplicates(run_dir)
    assert not (run_dir / ".lock.json").exists()
    other = subprocess.run(
        command(run_dir, prompts, config, "fake:other"),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert other.returncode == 2
    assert "holds a run with another configuration" in other.stderr


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    prompts, config, env = setup(tmp_path)
    run_dir = tmp_path / "run"
    slow = "fake:t?sleep=2.5"  # holds the lock ~10 s: two refused starts fit under load
    victim = subprocess.Popen(
        command(run_dir, prompts, config, slow),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_lock(run_dir, victim)
    deadline = time.monotonic() + 60
    while not (run_dir / "generations.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the base model's answers are on disk; the tuned model is slow
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert (run_dir / ".lock.json").exists()  # the killed holder left its note behind
    rerun = subprocess.run(
        command(run_dir, prompts, config, "fake:t"),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 2  # another config: refused by the config check, not the lock
    assert "in use" not in rerun.stderr
    resumed = subprocess.run(
        command(run_dir, prompts, config, slow),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert_no_duplicates(run_dir)
