"""The wheel: built from the checkout, installed into a fresh environment, run from an empty
directory, so it can only find its rubrics, templates and prompt sets as package data.

The fresh environment reuses this environment's installed dependencies through a .pth file
(added after the wheel is installed), so the test needs no network and no package index.
"""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["EVALHARNESS_CACHE"] = str(tmp / "cache")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("wheel")
    env = clean_env(base)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(base / "dist"), str(REPO)],
        check=True, env=env, cwd=base,
    )  # fmt: skip
    [wheel] = (base / "dist").glob("evalharness-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True, env=env,
    )  # fmt: skip
    [site] = (venv / "lib").glob("python*/site-packages")
    shared = Path(sysconfig.get_path("purelib")).resolve()
    (site / "zz_shared_dependencies.pth").write_text(f"{shared}\n")
    empty = base / "empty"
    empty.mkdir()
    return wheel, venv, env


def run_in(venv: Path, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "evalharness"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_wheel_ships_the_data_files(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "evalharness/_data/rubrics/helpfulness.yaml",
        "evalharness/_data/rubrics/templates/pointwise.yaml",
        "evalharness/_data/prompts/default.jsonl",
        "evalharness/_data/prompts/mt_bench.jsonl",
        "evalharness/_data/prompts/NOTICE.md",
        "evalharness/_data/prompts/pairs/llmbar_natural.json",
        "evalharness/_data/prompts/pairs/NOTICE.md",
        "evalharness/text/rule_files/length.yaml",
        "evalharness/text/rule_files/confidence.yaml",
    ):
        assert path in names, path
    assert not any(n.startswith(("tests/", "rubrics/", "prompts/")) for n in names)


def test_installed_wheel_runs_outside_the_checkout(installed):
    _, venv, env = installed
    empty = venv.parent / "empty"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import evalharness.rubrics as r; print(r.__file__); print(r.RUBRICS_DIR)"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert where[1].endswith("evalharness/_data/rubrics")

    check = run_in(venv, env, empty, "rubric", "check", "helpfulness")
    assert check.returncode == 0, check.stderr
    assert "helpfulness: ok" in check.stdout
    unknown = run_in(venv, env, empty, "rubric", "check", "helpfulnes")
    assert unknown.returncode == 2 and "did you mean 'helpfulness'" in unknown.stderr

    models = run_in(venv, env, empty, "models")
    assert models.returncode == 0, models.stderr
    assert "smollm2-135m-instruct" in models.stdout and "gemma3-270m" in models.stdout

    run = run_in(
        venv, env, empty, "run", "--base", "fake:b?chat=0", "--tuned", "fake:t?style=long",
        "--judge", "fake:j", "--sample", "4", "--run-dir", "results/r",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = empty / "results" / "r"
    for name in ("generations.jsonl", "pairwise.jsonl", "analysis.json", "report.md"):
        assert (out / name).is_file(), name
    validate = run_in(
        venv, env, empty, "judge-validate", "--judge", "fake:j", "--pairs", "tiny",
        "--no-probes", "--out", "results/v",
    )  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert (empty / "results" / "v" / "validation.json").is_file()
    version = run_in(venv, env, empty, "--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["results"]
