"""The benchmark's judge workload, small: fast and naive judge paths agree (no timing checks)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fixture", ["tiny_chat_dir", "tiny_split_dir"])
def test_fast_and_naive_judge_paths_agree(bench, request, fixture):
    spec = f"hf:{request.getfixturevalue(fixture)}"
    figures = bench.judge_workload(spec, n=3, repeats=1)
    for kind, judgments in (("pointwise", 3 * 4), ("pairwise", 3 * 2)):
        result = figures[kind]
        assert result["judgments"] == judgments
        assert result["agree"], result["max_abs_dp"]
        assert result["max_abs_dp"] < 1e-4
        assert result["old_max_abs_dp"] < 1e-4
        # the fast path computes fewer tokens: shared prefixes run once
        assert result["tokens_fast"] < result["tokens_naive"]
        assert result["tokens_old"] < result["tokens_naive"]


def test_workload_items_are_fixed(bench):
    points, pairs = bench.workload_items(16)
    assert len(points) == len(pairs) == 16
    assert points[0].prompt_id == "time"
    assert [p.prompt_id for p in points] == [p.prompt_id for p in bench.workload_items(16)[0]]


def test_decode_workload_compares_generate_and_the_loop(bench, tiny_chat_dir):
    figures = bench.decode_workload(f"hf:{tiny_chat_dir}", n=3, new_tokens=8, batches=(1, 3))
    for key in ("batch_1", "batch_3"):
        row = figures[key]
        assert row["same_text"] == 3  # greedy: the loop gives generate()'s texts
        assert row["generate_tok_per_s"] > 0 and row["loop_tok_per_s"] > 0


def test_e2e_old_vs_new_runs_both_paths_and_restores_the_backend(bench, tiny_chat_dir):
    from evalharness.backends.hf import HFBackend

    init = HFBackend.__init__
    spec = f"hf:{tiny_chat_dir}"
    models = {"base": spec, "tuned": spec, "judge": spec, "sample": 2, "max_new_tokens": 6}
    figures = bench.e2e_old_vs_new({**models, "bootstrap": 50}, {"probe_sample": 1})
    assert HFBackend.__init__ is init
    old, new = figures["old"], figures["new"]
    assert "probe_sample" not in old["settings"] and new["settings"]["probe_sample"] == 1
    assert old["stage_seconds"]["bias"] > 0 and new["stage_seconds"]["bias"] > 0
    assert figures["new_vs_old"] > 0


def test_generation_compare_puts_the_previous_path_beside_the_candidates(bench, tiny_chat_dir):
    spec = f"hf:{tiny_chat_dir}"
    figures = bench.generation_compare(
        spec,
        n=3,
        new_tokens=6,
        batches=(2, 3),
        llama=False,
        judge_spec=spec,
        judge_sample=2,
        kernel_repeats=1,
    )
    rows = figures["rows"]
    assert set(rows) == {"old", "batch_2", "batch_3", "int8_batch_3"}
    assert rows["old"]["vs_old"] == 1.0
    # greedy, fp32: larger batches give the previous path's texts
    assert rows["batch_2"]["same_text_as_old"] == rows["batch_3"]["same_text_as_old"] == 3
    assert 0 <= figures["int8_same_text_as_fp32"] <= 3
    scores = figures["int8_judge_scores"]
    assert scores["judged_prompts"] == 2
    assert scores["mean_abs_diff"] >= abs(scores["mean_diff"])
    if scores["different_texts"] == 0:  # the same texts get the same scores
        assert scores["max_abs_diff"] == 0
    kernels = figures["int8_kernels"]
    assert {(row["shape"], row["batch"]) for row in kernels} == {
        ("576x1536", 1),
        ("576x1536", 16),
        ("576x49152", 1),
        ("576x49152", 16),
    }
    assert all(row[f"{path}_us"] > 0 for row in kernels for path in ("fp32", "dynamic_int8"))
