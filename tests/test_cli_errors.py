"""Bad input: exit code 2, one line on stderr starting "error:", no traceback, no run directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import REPO, generate_args, write_jsonl

from evalharness.commands.main import cli

GOOD = [{"id": "a", "prompt": "Hi?"}, {"id": "b", "prompt": "Name a river."}]


write_prompts = write_jsonl


def run_generate(tmp_path: Path, *args: str, prompts: Path | None = None) -> tuple[str, Path]:
    """Run `generate` expecting a user error; returns the error line and the run dir."""
    run_dir = tmp_path / "run"
    prompts = prompts or write_prompts(tmp_path / "ok.jsonl", GOOD)
    defaults = {"--base": "fake:b", "--tuned": "fake:t", "--judge": "fake:j"}
    for i in range(0, len(args), 2):
        defaults.pop(args[i], None)
    flat = [x for pair in defaults.items() for x in pair]
    argv = ["generate", *flat, *args, "--prompts", str(prompts), "--run-dir", str(run_dir)]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dir.exists(), "bad input must not create a run directory"
    return result.stderr.strip(), run_dir


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([GOOD[0], GOOD[1], '{"id": "c", "prompt": '], ":3: invalid JSON"),
        ([GOOD[0], {"id": "c"}], ":2: missing field 'prompt'"),
        ([GOOD[0], GOOD[1], {"id": "a", "prompt": "again"}], ":3: duplicate id 'a'"),
        ([GOOD[0], {"id": "c", "prompt": "   "}], ":2: empty prompt for id 'c'"),
        ([GOOD[0], {"id": "c", "prompt": "x", "answer": "y"}], ":2: unknown key 'answer'"),
    ],
)
def test_malformed_prompt_file(tmp_path, rows, expected):
    prompts = write_prompts(tmp_path / "bad.jsonl", rows)
    line, _ = run_generate(tmp_path, prompts=prompts)
    assert f"{prompts}{expected}" in line


def test_missing_prompt_file(tmp_path):
    line, _ = run_generate(tmp_path, prompts=tmp_path / "absent.jsonl")
    assert "absent.jsonl" in line


@pytest.mark.parametrize("option", ["--base", "--tuned", "--judge"])
def test_unknown_model_spec_suggests(tmp_path, option):
    line, _ = run_generate(tmp_path, option, "gemma3-207m")
    assert "unknown model 'gemma3-207m'" in line
    assert "did you mean 'gemma3-270m'" in line


def test_unknown_config_key_names_the_line(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("base: fake:b\ntuned: fake:t\ntemprature: 0.5\n")
    line, _ = run_generate(tmp_path, "--config", str(config))
    assert f"{config}:3: unknown key 'temprature'" in line
    assert "did you mean 'temperature'" in line


@pytest.mark.parametrize("content", [b"\x00\x01random bytes" * 100, b"GGUF" + b"\xff" * 300])
def test_corrupt_gguf(tmp_path, content):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    line, _ = run_generate(tmp_path, "--base", f"gguf:{path}")
    assert str(path) in line
    converted = Path(os.environ["EVALHARNESS_CACHE"]) / "converted"
    assert not converted.exists() or list(converted.iterdir()) == []


def test_missing_gguf(tmp_path):
    line, _ = run_generate(tmp_path, "--tuned", f"gguf:{tmp_path / 'none.gguf'}")
    assert "GGUF file not found" in line


def test_hub_model_without_allow_hub(tmp_path):
    line, _ = run_generate(tmp_path, "--base", "hf:org/some-model")
    assert "--allow-hub" in line


def test_judge_on_a_directory_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(cli, ["judge", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "not a run directory" in result.stderr
    assert not (tmp_path / "nothing").exists()


def test_click_usage_errors_also_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--sample", "0"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_real_subprocess_bad_input(tmp_path):
    prompts = write_prompts(tmp_path / "bad.jsonl", [GOOD[0], GOOD[1], "{oops"])
    run_dir = tmp_path / "run"
    args = generate_args(run_dir, prompts, base="fake:b", tuned="fake:t")
    done = subprocess.run(
        [sys.executable, "-m", "evalharness", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: {prompts}:3: invalid JSON")
    assert done.stderr.count("\n") == 1
    assert not run_dir.exists()
