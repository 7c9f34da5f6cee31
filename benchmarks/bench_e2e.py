"""End-to-end workloads of the benchmark: `evalharness run` cold, warm, cached, growing,
and a warm run with the previous settings beside the new ones in one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evalharness.backends import clear_loaded

ROOT = Path(__file__).resolve().parents[1]


def _run_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalharness", *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"evalharness {' '.join(args)} failed:\n{err[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2)}


def end_to_end(extra: list[str] | None = None, keep: str | None = None) -> dict[str, Any]:
    """Default `evalharness run`: cold (empty model cache), warm (cache filled), cached rerun.

    ``keep``: copy the warm run's directory there (for reading its reports)."""
    extra = extra or []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EVALHARNESS_CACHE": str(Path(tmp) / "cache")}
        out = {}
        for name in ("cold", "warm"):
            run_dir = Path(tmp) / f"run-{name}"
            out[name] = _run_cli(["run", "--run-dir", str(run_dir), *extra], env)
        out["cached_rerun"] = _run_cli(
            ["run", "--run-dir", str(Path(tmp) / "run-warm"), *extra], env
        )
        if keep:
            shutil.copytree(Path(tmp) / "run-warm", keep, dirs_exist_ok=True)
        shutil.rmtree(Path(tmp) / "cache", ignore_errors=True)
    return out


def e2e_old_vs_new(
    overrides: dict[str, Any] | None = None, new_settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A warm `run` in this process with the previous judge path and every probe, then with
    the batched judge and ``new_settings`` (for example
    ``{"probe_sample": 6}``), one after the other; the model cache must be filled already."""
    import evalharness
    from evalharness.backends.hf import HFBackend

    init = HFBackend.__init__
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, new in (("old", False), ("new", True)):

            def patched(self: Any, *args: Any, _new: bool = new, **kwargs: Any) -> None:
                init(self, *args, **kwargs)
                self.suffix_batch = _new

            HFBackend.__init__ = patched  # type: ignore[method-assign]
            try:
                clear_loaded()
                settings = {**(overrides or {}), **((new_settings or {}) if new else {})}
                started = time.perf_counter()
                result = evalharness.run(run_dir=Path(tmp) / label, **settings)
                seconds = time.perf_counter() - started
            finally:
                HFBackend.__init__ = init  # type: ignore[method-assign]
                clear_loaded()
            cost = result.analysis.to_json()["cost"]
            out[label] = {
                "seconds": round(seconds, 1),
                "settings": settings,
                "stage_seconds": {k: v["seconds"] for k, v in cost.get("stages", {}).items()},
                "bias_interval_width": cost.get("bias_interval_width"),
            }
    out["new_vs_old"] = round(out["new"]["seconds"] / out["old"]["seconds"], 2)
    return out


def growth(sizes: tuple[int, ...] = (8, 16, 32)) -> dict[str, Any]:
    """Wall time of a full run on the MT-Bench set for growing prompt counts (warm cache)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            run_dir = str(Path(tmp) / f"run-{size}")
            result = _run_cli(
                ["run", "--prompts", "mt_bench", "--sample", str(size), "--run-dir", run_dir],
                dict(os.environ),
            )
            result["seconds_per_prompt"] = round(result["seconds"] / size, 2)
            out[str(size)] = result
    return out
