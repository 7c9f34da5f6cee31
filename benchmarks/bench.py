"""evalharness benchmark: fixed workloads on the built-in models, figures and ratios side by side.

    python benchmarks/bench.py            # judge + generation workloads (about 5 minutes)
    python benchmarks/bench.py --e2e      # also the default `evalharness run`: cold, warm, cached
    python benchmarks/bench.py --growth   # also run time for 8, 16 and 32 prompts
    python benchmarks/bench.py --json F   # where the figures go (default results/bench-<time>.json)
    python benchmarks/bench.py --gen-compare [--compile]   # generation: previous path vs
                                          # larger batches, int8, llama.cpp, in one run

Every ratio compares two paths measured in the same process, one after the other, so it holds
on a noisy machine; single timings are medians over --repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.backends import BackendOptions, clear_loaded, load_backend  # noqa: E402
from evalharness.judge.engine import Judge, PairItem, PointwiseItem  # noqa: E402
from evalharness.prompts import load_prompts, resolve_prompt_set  # noqa: E402
from evalharness.rubrics import load_rubric  # noqa: E402
from evalharness.templates import load_template  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_e2e import e2e_old_vs_new, end_to_end, growth  # noqa: E402
from bench_gen import (  # noqa: E402
    decode_workload,
    generation_compare,
    generation_workload,
    llama_cpp_workload,
)

FILLER = (
    "Here is a short answer. The main point is stated first, then one supporting detail, "
    "and finally a brief note on what is uncertain."
)


def matmul_gflops(threads: int, size: int = 1024, repeats: int = 7) -> float:
    """Measured fp32 matmul throughput (GFLOP/s) with ``threads`` threads."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    torch.set_num_threads(old)
    return 2 * size**3 / statistics.median(times) / 1e9


def workload_items(n: int) -> tuple[list[PointwiseItem], list[PairItem]]:
    """n responses to score and n pairs to compare, from the shipped prompt sets."""
    prompts = load_prompts(resolve_prompt_set("default")) + load_prompts(
        resolve_prompt_set("mt_bench")
    )
    chosen = prompts[:n]
    points, pairs = [], []
    for item in chosen:
        response = item.reference or FILLER
        points.append(PointwiseItem(item.id, "bench", item.prompt, response))
        short = response.split(". ")[0].rstrip(".") + "."
        pairs.append(PairItem(item.id, "bench", "full", "short", item.prompt, response, short))
    return points, pairs


def make_judge(spec: str, prefix_cache: bool) -> Judge:
    """The judge with the shipped helpfulness rubric and templates."""
    backend = load_backend(spec, BackendOptions(prefix_cache=prefix_cache))
    return Judge(
        backend,
        load_rubric("helpfulness"),
        load_template("pointwise"),
        load_template("pairwise"),
    )


def _timed(fn: Any, repeats: int) -> tuple[Any, float]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def _worst_dp(records: Any, reference: Any) -> float:
    """Largest |Δp| over all choices of all judgments."""
    return max(
        abs(a.probs[k] - b.probs[k])
        for a, b in zip(records, reference, strict=True)
        for k in a.probs
    )


def judge_workload(
    spec: str, n: int = 16, repeats: int = 3, naive_repeats: int = 1
) -> dict[str, Any]:
    """Naive, previous fast (one suffix at a time) and batched-suffix judge paths on the same
    judgments: speed, agreement with the naive path, share of the unique-token roofline."""
    points, pairs = workload_items(n)
    fast = make_judge(spec, prefix_cache=True)
    naive = make_judge(spec, prefix_cache=False)
    backend: Any = fast.backend
    out: dict[str, Any] = {"spec": spec, "responses": len(points), "pairs": len(pairs)}
    params = sum(p.numel() for p in backend.model.parameters())
    gflops = matmul_gflops(torch.get_num_threads())
    out["matmul_gflops"] = round(gflops, 1)

    def measure(judge: Judge, run: Any, times: int, batched: bool = True) -> tuple[Any, float, int]:
        stats = judge.backend.stats  # type: ignore[attr-defined]
        judge.backend.suffix_batch = batched  # type: ignore[attr-defined]
        stats.update(forward_calls=0, tokens_computed=0, tokens_padding=0)

        def fresh() -> Any:
            # every path pays for the rubric prefix: forget the one kept from the last call
            judge.backend.prefix.forget()  # type: ignore[attr-defined]
            return run(judge)

        records, seconds = _timed(fresh, times)
        return records, seconds, stats["tokens_computed"] // times

    for kind, run, count in (
        ("pointwise", lambda j: j.score(points), len(points) * len(fast.rubric.criteria)),
        ("pairwise", lambda j: j.compare(pairs), 2 * len(pairs)),
    ):
        old_records, old_s, tokens_old = measure(fast, run, repeats, batched=False)
        fast_records, fast_s, tokens_fast = measure(fast, run, repeats)
        naive_records, naive_s, tokens_naive = measure(naive, run, naive_repeats)

        delta, delta_old = (
            _worst_dp(fast_records, naive_records),
            _worst_dp(old_records, naive_records),
        )
        roofline_s = 2 * params * tokens_fast / (gflops * 1e9)
        out[kind] = {
            "judgments": count,
            "naive_judgments_per_s": round(count / naive_s, 2),
            "old_judgments_per_s": round(count / old_s, 2),
            "fast_judgments_per_s": round(count / fast_s, 2),
            "speedup": round(naive_s / fast_s, 2),
            "old_speedup": round(naive_s / old_s, 2),
            "fast_vs_old": round(old_s / fast_s, 2),
            "naive_seconds": round(naive_s, 2),
            "old_seconds": round(old_s, 2),
            "fast_seconds": round(fast_s, 2),
            "tokens_naive": tokens_naive,
            "tokens_old": tokens_old,
            "tokens_fast": tokens_fast,
            "roofline_judgments_per_s": round(count / roofline_s, 2),
            "old_share_of_roofline": round(2 * params * tokens_old / (gflops * 1e9) / old_s, 2),
            "fast_share_of_roofline": round(roofline_s / fast_s, 2),
            "max_abs_dp": delta,
            "old_max_abs_dp": delta_old,
            "agree": max(delta, delta_old) < 1e-4,
        }
    for path in ("naive", "old", "fast"):
        out[f"{path}_seconds_all"] = round(
            out["pointwise"][f"{path}_seconds"] + out["pairwise"][f"{path}_seconds"], 2
        )
    out["speedup_all"] = round(out["naive_seconds_all"] / out["fast_seconds_all"], 2)
    out["old_speedup_all"] = round(out["naive_seconds_all"] / out["old_seconds_all"], 2)
    out["fast_vs_old_all"] = round(out["old_seconds_all"] / out["fast_seconds_all"], 2)
    return out


def int8_judge_cost(spec: str, n: int = 16) -> dict[str, Any]:
    """Accuracy cost of int8 quantization for the judge: |Δp| and argmax flips vs fp32."""
    points, pairs = workload_items(n)
    results = {}
    for quantize in (None, "int8"):
        clear_loaded()
        backend = load_backend(spec, BackendOptions(quantize=quantize))
        judge = Judge(backend, load_rubric("helpfulness"), load_template("pointwise"),
                      load_template("pairwise"))  # fmt: skip
        started = time.perf_counter()
        records = judge.score(points) + judge.compare(pairs)
        results[quantize or "fp32"] = (records, time.perf_counter() - started)
    clear_loaded()
    (fp32, t32), (int8, t8) = results["fp32"], results["int8"]
    deltas = [
        abs(a.probs[k] - b.probs[k]) for a, b in zip(fp32, int8, strict=True) for k in a.probs
    ]
    expected = [abs((a.expected or 0) - (b.expected or 0)) for a, b in zip(fp32, int8, strict=True)
                if hasattr(a, "expected")]  # fmt: skip
    flips = sum(
        max(a.probs, key=a.probs.__getitem__) != max(b.probs, key=b.probs.__getitem__)
        for a, b in zip(fp32, int8, strict=True)
    )
    return {
        "judgments": len(fp32),
        "fp32_seconds": round(t32, 2),
        "int8_seconds": round(t8, 2),
        "speedup": round(t32 / t8, 2),
        "max_abs_dp": round(max(deltas), 4),
        "mean_abs_dp": round(sum(deltas) / len(deltas), 4),
        "max_abs_expected_score_diff": round(max(expected), 3) if expected else None,
        "argmax_flips": flips,
    }


def print_table(figures: dict[str, Any]) -> None:
    """The human-readable table."""
    print(f"\nmachine: {figures['machine']}")
    judge = figures.get("judge")
    if judge:
        print(f"\nJUDGE WORKLOAD ({judge['spec']}; matmul {judge['matmul_gflops']} GFLOP/s)")
        print("old = prefix cache, one suffix per forward; new = batched suffixes")
        print(f"{'':10} {'naive j/s':>10} {'old j/s':>8} {'new j/s':>8} {'old/naive':>10} "
              f"{'new/naive':>10} {'new/old':>8} {'roofline j/s':>13} {'old roof':>9} "
              f"{'new roof':>9} {'max|dp|':>9}")  # fmt: skip
        for kind in ("pointwise", "pairwise"):
            r = judge[kind]
            print(f"{kind:10} {r['naive_judgments_per_s']:>10} {r['old_judgments_per_s']:>8} "
                  f"{r['fast_judgments_per_s']:>8} {r['old_speedup']:>9}x {r['speedup']:>9}x "
                  f"{r['fast_vs_old']:>7}x {r['roofline_judgments_per_s']:>13} "
                  f"{r['old_share_of_roofline']:>9.0%} {r['fast_share_of_roofline']:>9.0%} "
                  f"{max(r['max_abs_dp'], r['old_max_abs_dp']):>9.1e}")  # fmt: skip
        print(f"all judgments: old {judge['old_speedup_all']}x naive, new "
              f"{judge['speedup_all']}x naive, new/old {judge['fast_vs_old_all']}x")  # fmt: skip
    for gen in figures.get("generation", []):
        size = f"{gen['prompts']} prompts x {gen['max_new_tokens']} tokens"
        print(f"\nGENERATION ({gen['spec']}, {size})")
        if "same_text_as_fp32" in gen:
            print(f"  same text as fp32: {gen['same_text_as_fp32']} of {gen['prompts']}")
        for key, r in gen.items():
            if key.startswith("batch_"):
                print(f"  {key:9} {r['tok_per_s']:>7} tok/s  {r['vs_single']:>5}x single  "
                      f"({r['tokens']} tokens, {r['seconds']} s, "
                      f"{r['same_text_as_single']} texts = single)")  # fmt: skip
    decode = figures.get("decode")
    if decode:
        print(f"\nDECODE LOOP vs generate() ({decode['spec']}, {decode['prompts']} prompts)")
        for key, r in decode.items():
            if key.startswith("batch_"):
                print(f"  {key:9} generate {r['generate_tok_per_s']:>7} tok/s  loop "
                      f"{r['loop_tok_per_s']:>7} tok/s  {r['loop_vs_generate']}x  "
                      f"({r['same_text']} texts identical)")  # fmt: skip
        llama = figures.get("llama_cpp")
        best = max(r["loop_tok_per_s"] for k, r in decode.items() if k.startswith("batch_"))
        if llama:
            print(f"  best loop vs llama.cpp single stream: {best / llama['tok_per_s']:.2f}x")
    compare = figures.get("gen_compare")
    if compare:
        print(f"\nGENERATION, PREVIOUS PATH vs CANDIDATES ({compare['spec']}, {compare['prompts']} "
              f"prompts x up to {compare['max_new_tokens']} tokens, greedy)")  # fmt: skip
        llama_rate = compare.get("llama_cpp_tok_per_s")
        for r in compare["rows"].values():
            vs_llama = f"{r['vs_llama_cpp']:>5}x llama.cpp" if llama_rate else ""
            same = f"{r['same_text_as_old']}/{compare['prompts']} texts = old"
            print(f"  {r['path']:44} {r['tok_per_s']:>7} tok/s {r['vs_old']:>5}x old "
                  f"{vs_llama}  ({same})")  # fmt: skip
            if "first_run_seconds" in r:
                print(f"  {'':44} first run (compiling): {r['first_run_seconds']} s")
        if llama_rate:
            print(f"  {'llama.cpp, same GGUF, single stream':44} {llama_rate:>7} tok/s "
                  f"(runs before and after: {compare['llama_cpp_runs']})")  # fmt: skip
        if "int8_same_text_as_fp32" in compare:
            print(f"  int8 texts = fp32 texts at the same batch: "
                  f"{compare['int8_same_text_as_fp32']} of {compare['prompts']}")  # fmt: skip
        for row in compare.get("int8_kernels", []):
            print(f"  Linear {row['shape']} batch {row['batch']:>2}: fp32 {row['fp32_us']} us, "
                  f"weight-only int8 {row['weight_only_int8_us']} us, dynamic int8 "
                  f"{row['dynamic_int8_us']} us")  # fmt: skip
        if compare.get("int8_judge_scores"):
            print(f"  judge scores, fp32 texts (a) vs int8 texts (b): "
                  f"{compare['int8_judge_scores']}")  # fmt: skip
    int8 = figures.get("int8_judge")
    if int8:
        print(f"\nINT8 JUDGE vs FP32: {int8}")
    llama = figures.get("llama_cpp")
    if llama:
        print(f"  llama.cpp single stream: {llama['tok_per_s']} tok/s")
    for key in ("end_to_end", "growth", "e2e_old_vs_new"):
        if figures.get(key):
            print(f"\n{key.upper().replace('_', ' ')}")
            for name, r in figures[key].items():
                print(f"  {name:14} {r}")


def main() -> None:
    """Parse arguments, run the workloads, print the table and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--judge", default="smollm2-135m-instruct")
    parser.add_argument("--n", type=int, default=16, help="responses/pairs/prompts per workload")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-judge", action="store_true")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--gen-models", default="smollm2-135m-instruct,gemma3-270m")
    parser.add_argument("--int8", action="store_true", help="also measure int8 quantization")
    parser.add_argument(
        "--decode-only",
        action="store_true",
        help="only generate() vs the plain greedy loop, and llama.cpp, in one run",
    )
    parser.add_argument(
        "--gen-compare",
        action="store_true",
        help="only generation: the previous path beside larger batches, opt-in int8 (texts "
        "compared and judged) and llama.cpp single stream, in one run",
    )
    parser.add_argument("--gen-batches", default="16,32", help="with --gen-compare")
    parser.add_argument("--new-tokens", type=int, default=96, help="with --gen-compare")
    parser.add_argument(
        "--compile", action="store_true", help="with --gen-compare: static cache + torch.compile"
    )
    parser.add_argument("--judge-sample", type=int, default=8, help="with --gen-compare")
    parser.add_argument("--llama-n", type=int, help="with --gen-compare: llama.cpp prompts")
    parser.add_argument("--e2e", action="store_true")
    parser.add_argument("--growth", action="store_true")
    parser.add_argument(
        "--e2e-compare",
        action="store_true",
        help="a warm default run with the previous paths and all probes vs the new paths "
        "and --probe-sample, in one process",
    )
    parser.add_argument("--probe-sample", type=int, help="with --e2e-compare: the new budget")
    parser.add_argument("--sample", type=int, help="with --e2e-compare: prompts per run")
    parser.add_argument("--keep-run", help="with --e2e: copy the warm run directory here")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if args.decode_only:
        args.skip_judge = args.skip_generation = True
        figures["decode"] = decode_workload(args.gen_models.split(",")[0], args.n)
        figures["llama_cpp"] = llama_cpp_workload(args.n)
    if args.gen_compare:
        args.skip_judge = args.skip_generation = True
        figures["gen_compare"] = generation_compare(
            args.gen_models.split(",")[0],
            args.n,
            args.new_tokens,
            tuple(int(b) for b in args.gen_batches.split(",")),
            compile_static=args.compile,
            judge_spec=args.judge,
            judge_sample=args.judge_sample,
            llama_prompts=args.llama_n,
        )
    if not args.skip_judge:
        figures["judge"] = judge_workload(args.judge, args.n, args.repeats)
        clear_loaded()
    if not args.skip_generation:
        figures["generation"] = [generation_workload(s, args.n) for s in args.gen_models.split(",")]
        if args.int8:
            fp32 = figures["generation"][0]
            int8 = generation_workload(fp32["spec"], args.n, quantize="int8")
            int8["same_text_as_fp32"] = sum(
                a == b for a, b in zip(int8["texts"], fp32["texts"], strict=True)
            )
            figures["generation"].append(int8)
        figures["llama_cpp"] = llama_cpp_workload(args.n)
    if args.int8:
        figures["int8_judge"] = int8_judge_cost(args.judge, args.n)
    if args.e2e:
        figures["end_to_end"] = end_to_end(keep=args.keep_run)
    if args.growth:
        figures["growth"] = growth()
    if args.e2e_compare:
        base = {"sample": args.sample} if args.sample else {}
        new = {"probe_sample": args.probe_sample} if args.probe_sample else {}
        figures["e2e_old_vs_new"] = e2e_old_vs_new(base, new)
    print_table(figures)
    path = Path(args.json_path or ROOT / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures -> {path}")


if __name__ == "__main__":
    main()
