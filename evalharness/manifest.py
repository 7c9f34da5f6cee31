"""What a manifest records about the environment: packages, git commit, machine."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PACKAGES = (
    "evalharness", "torch", "transformers", "tokenizers", "accelerate", "gguf", "numpy",
    "scipy", "scikit-learn", "statsmodels", "click", "httpx",
)  # fmt: skip


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide results."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The harness's git commit (with '+dirty' when the tree has changes), if known."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """The machine the run used."""
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def environment() -> dict[str, Any]:
    """Packages, commit, machine and the time, for a manifest."""
    return {
        "packages": package_versions(),
        "git_commit": git_commit(),
        "machine": machine(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }
