"""benchmarks/gpu_check.py on the CPU with a tiny model: the script a maintainer runs on a GPU
works end to end, and its agreement check catches a real difference."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evalharness.backends.base import ChoiceResult

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_measures_the_largest_difference():
    compare = load_script().compare
    same = [ChoiceResult({"1": 0.2, "5": 0.6}), ChoiceResult({"A": 0.3, "B": 0.3})]
    moved = [ChoiceResult({"1": 0.25, "5": 0.55}), ChoiceResult({"A": 0.2, "B": 0.4})]
    result = compare(same, moved)
    assert abs(result["max_abs_dp_raw"] - 0.1) < 1e-9
    assert abs(result["max_abs_dp_renormalized"] - (0.5 - 1 / 3)) < 1e-9
    assert result["argmax_changed"] == 1  # A/B tied at first, B ahead after
    assert compare(same, same)["max_abs_dp_renormalized"] == 0


def test_runs_on_cpu_bfloat16_with_a_tiny_model(tiny_chat_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "check.json"
    argv = [
        "gpu_check.py", "--model", f"hf:{tiny_chat_dir}", "--device", "cpu", "--dtype",
        "bfloat16", "--pairs", "1", "--gen-requests", "3", "--gen-tokens", "4", "--no-pipeline",
        "--json", str(out),
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert load_script().main() == 0
    report = json.loads(out.read_text())
    assert report["target"] == {"device": "cpu", "dtype": "bfloat16", "device_map": None}
    assert report["agreement"]["judgments"] == 4 + 2  # 4 criteria pointwise, 2 orders
    assert 0 < report["agreement"]["max_abs_dp_renormalized"] < 0.05
    assert report["generation"]["batch_auto"]["batch_size_used"] == 8
    assert "OK: max |Δp|" in capsys.readouterr().out
