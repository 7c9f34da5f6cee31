"""A small fake-backend run directory for the label tests (no model work, about a second)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from evalharness.commands.main import cli

FLAGS = [
    "--base",
    "fake:b?chat=0",
    "--tuned",
    "fake:t?style=long",
    "--judge",
    "fake:j?length=0.9",
]


def make_run(run_dir: Path, prompts: str = "default") -> Path:
    """Generate and judge the prompt set with the scripted backends (no bias probes)."""
    result = CliRunner().invoke(
        cli, ["run", *FLAGS, "--prompts", prompts, "--run-dir", str(run_dir), "--no-bias"]
    )
    assert result.exit_code == 0, result.output
    return run_dir


def copy_run(template: Path, target: Path) -> Path:
    """A fresh copy of a prepared run directory."""
    shutil.copytree(template, target)
    return target
