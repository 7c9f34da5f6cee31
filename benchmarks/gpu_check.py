"""Check a device and precision against the CPU in fp32: judge probabilities, then throughput.

    python benchmarks/gpu_check.py                               # CUDA, dtype auto, built-in judge
    python benchmarks/gpu_check.py --model hf:Qwen/Qwen2.5-1.5B-Instruct --allow-hub
    python benchmarks/gpu_check.py --model hf:/path/to/checkpoint --dtype float16
    python benchmarks/gpu_check.py --device cpu --dtype bfloat16 # the CPU precision check

What it does, in order:

1. Real judge prompts (the shipped helpfulness rubric and templates on the first --pairs
   labeled pairs of llmbar_natural: every criterion pointwise, and pairwise in both orders)
   are scored once on the CPU in float32 (the reference) and once on --device/--dtype.
   It prints the max |Δp| over every choice probability (raw and renormalized over the
   choices), the max |Δ expected score|, and how many argmax verdicts changed; it fails
   (exit 1) when the renormalized max |Δp| exceeds --tolerance.
2. Throughput on the target: greedy generation tokens/s at batch size 1 and at
   ``--batch-size auto`` (with the batch that fit), and judge calls/s.
3. Unless --no-pipeline: the default pipeline (`evalharness run`: generate, judge, bias,
   analyze, report) on the target with --sample prompts, in a temporary run directory.

Results go to stdout and, with --json FILE, to a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.backends import BackendOptions, clear_loaded, load_backend  # noqa: E402
from evalharness.backends.base import ChoiceResult, GenerationRequest  # noqa: E402
from evalharness.judge.engine import Judge, PairItem, PointwiseItem  # noqa: E402
from evalharness.pairs import load_pairs, resolve_pairs  # noqa: E402
from evalharness.rubrics import load_rubric  # noqa: E402
from evalharness.templates import load_template  # noqa: E402


def judge_requests(backend: Any, pairs: int) -> list[Any]:
    """Pointwise (every criterion) and pairwise (both orders) requests on labeled pairs."""
    judge = Judge(
        backend, load_rubric("helpfulness"), load_template("pointwise"), load_template("pairwise")
    )
    chosen = load_pairs(resolve_pairs("llmbar_natural"), limit=pairs)
    points = [PointwiseItem(p.id, "output_1", p.instruction, p.output_1) for p in chosen]
    duels = [PairItem(p.id, "v", "1", "2", p.instruction, p.output_1, p.output_2) for p in chosen]
    return judge.pointwise_requests(points) + judge.pair_requests(duels)


def compare(reference: list[ChoiceResult], target: list[ChoiceResult]) -> dict[str, Any]:
    """Max differences between two runs of the same requests."""
    raw, norm, expected, flips = 0.0, 0.0, 0.0, 0
    for ref, got in zip(reference, target, strict=True):
        for choice in ref.probs:
            raw = max(raw, abs(ref.probs[choice] - got.probs[choice]))
            if ref.mass > 0 and got.mass > 0:
                norm = max(norm, abs(ref.probs[choice] / ref.mass - got.probs[choice] / got.mass))
        if max(ref.probs, key=ref.probs.__getitem__) != max(got.probs, key=got.probs.__getitem__):
            flips += 1
        if all(c.isdigit() for c in ref.probs) and ref.mass > 0 and got.mass > 0:
            e_ref = sum(int(c) * p for c, p in ref.probs.items()) / ref.mass
            e_got = sum(int(c) * p for c, p in got.probs.items()) / got.mass
            expected = max(expected, abs(e_ref - e_got))
    return {
        "judgments": len(reference),
        "max_abs_dp_raw": raw,
        "max_abs_dp_renormalized": norm,
        "max_abs_d_expected_score": expected,
        "argmax_changed": flips,
    }


def timed_choice_probs(backend: Any, requests: list[Any]) -> tuple[list[ChoiceResult], float]:
    started = time.perf_counter()
    results = backend.choice_probs(requests)
    return results, time.perf_counter() - started


def generation_throughput(backend: Any, n: int, tokens: int) -> dict[str, Any]:
    """Greedy tokens/s at batch size 1 and at the backend's (auto) batch size."""
    requests = [
        GenerationRequest(
            key=str(i),
            prompt=f"Question: Give {i + 2} reasons to learn a language.\nAnswer:",
            max_new_tokens=tokens,
        )
        for i in range(n)
    ]
    out: dict[str, Any] = {}
    auto_size = backend.batch_size
    for label, size in (("batch_1", 1), ("batch_auto", auto_size)):
        backend.batch_size = size
        started = time.perf_counter()
        results = backend.generate(requests[: max(size, 2)] if label == "batch_1" else requests)
        seconds = time.perf_counter() - started
        out[label] = {
            "requests": len(results),
            "tokens_per_s": round(sum(r.output_tokens for r in results) / seconds, 1),
        }
    out["batch_auto"]["batch_size_used"] = backend.info.details.get("batch_size_used")
    return out


def run_pipeline(model: str, device: str, dtype: str, sample: int) -> dict[str, Any]:
    """The default pipeline on the target, in a temporary run directory."""
    from evalharness.config import RunConfig
    from evalharness.runstore import RunStore
    from evalharness.stages.pipeline import run_all

    config = RunConfig(
        base=model if model != "smollm2-135m-instruct" else "gemma3-270m",
        tuned=model,
        judge=model,
        sample=sample,
        device=device,
        dtype=dtype,
        batch_size="auto",
        bootstrap=200,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run")
        with store.claim():
            analysis = run_all(store, config, overwrite=False, bias=True).analysis
    return {"seconds": round(time.perf_counter() - started, 1), "n": analysis.headline.n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="judge/model spec")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--pairs", type=int, default=3, help="labeled pairs to judge")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--gen-requests", type=int, default=32)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--sample", type=int, default=8, help="prompts for the pipeline run")
    parser.add_argument("--no-pipeline", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--allow-hub", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.allow_hub:
        import os

        os.environ["EVALHARNESS_ALLOW_HUB"] = "1"
    import torch

    report: dict[str, Any] = {
        "model": args.model,
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    reference = load_backend(args.model, BackendOptions(device="cpu", dtype="float32"))
    requests = judge_requests(reference, args.pairs)
    ref_results, ref_seconds = timed_choice_probs(reference, requests)
    clear_loaded()
    target = load_backend(
        args.model, BackendOptions(device=args.device, dtype=args.dtype, batch_size="auto")
    )
    report["target"] = {k: target.info.details.get(k) for k in ("device", "dtype", "device_map")}
    got, seconds = timed_choice_probs(target, requests)
    report["agreement"] = compare(ref_results, got)
    report["judge_calls_per_s"] = {
        "cpu_float32": round(len(requests) / ref_seconds, 2),
        "target": round(len(requests) / seconds, 2),
    }
    if not args.no_throughput:
        report["generation"] = generation_throughput(target, args.gen_requests, args.gen_tokens)
    clear_loaded()
    if not args.no_pipeline:
        report["pipeline"] = run_pipeline(args.model, args.device, args.dtype, args.sample)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    ok = report["agreement"]["max_abs_dp_renormalized"] <= args.tolerance
    print(
        f"{'OK' if ok else 'FAIL'}: max |Δp| (renormalized) "
        f"{report['agreement']['max_abs_dp_renormalized']:.4g} vs tolerance {args.tolerance}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
