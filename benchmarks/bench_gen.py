"""Generation workloads of the benchmark: batch sizes, decode paths, int8, llama.cpp.

:func:`generation_compare` measures the previous generation path (``generate()`` at the
default batch size, fp32) beside each candidate in one process, on the same prompts, and
llama.cpp single stream on the same GGUF: tokens per second, the ratio to the previous path
and to llama.cpp, and how many greedy texts equal the previous path's.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from evalharness.backends import BackendOptions, clear_loaded, load_backend
from evalharness.backends.base import GenerationRequest
from evalharness.prompts import load_prompts, resolve_prompt_set


def generation_workload(
    spec: str,
    n: int = 16,
    new_tokens: int = 96,
    batches: tuple[int, ...] = (1, 4, 8, 16),
    quantize: str | None = None,
) -> dict[str, Any]:
    """Aggregate tok/s of single-stream vs batched greedy generation, same prompts."""
    prompts = load_prompts(resolve_prompt_set("mt_bench"))[:n]
    out: dict[str, Any] = {"spec": spec + (f" ({quantize})" if quantize else ""), "prompts": n,
                           "max_new_tokens": new_tokens}  # fmt: skip
    base_rate = None
    texts: dict[int, list[str]] = {}
    for batch in batches:
        clear_loaded()
        backend = load_backend(spec, BackendOptions(batch_size=batch, quantize=quantize))
        requests = []
        for item in prompts:
            if backend.info.has_chat_template:
                msg = ({"role": "user", "content": item.prompt},)
                requests.append(GenerationRequest(item.id, messages=msg, max_new_tokens=new_tokens))
            else:
                frame = f"Question: {item.prompt}\nAnswer:"
                requests.append(GenerationRequest(item.id, prompt=frame, max_new_tokens=new_tokens))
        started = time.perf_counter()
        results = backend.generate(requests)
        seconds = time.perf_counter() - started
        tokens = sum(r.output_tokens for r in results)
        texts[batch] = [r.text for r in results]
        rate = tokens / seconds
        base_rate = base_rate or rate
        out[f"batch_{batch}"] = {
            "seconds": round(seconds, 2),
            "tokens": tokens,
            "tok_per_s": round(rate, 1),
            "vs_single": round(rate / base_rate, 2),
            "same_text_as_single": sum(
                a == b for a, b in zip(texts[batch], texts[batches[0]], strict=True)
            ),
        }
    clear_loaded()
    out["texts"] = texts[batches[0]]
    return out


def decode_workload(
    spec: str, n: int = 16, new_tokens: int = 96, batches: tuple[int, ...] = (1, 16)
) -> dict[str, Any]:
    """``model.generate`` (old) vs the plain greedy loop (new), same model and prompts."""
    prompts = load_prompts(resolve_prompt_set("mt_bench"))[:n]
    out: dict[str, Any] = {"spec": spec, "prompts": n, "max_new_tokens": new_tokens}
    for batch in batches:
        clear_loaded()
        backend: Any = load_backend(spec, BackendOptions(batch_size=batch))
        requests = [
            GenerationRequest(item.id, messages=({"role": "user", "content": item.prompt},),
                              max_new_tokens=new_tokens)
            for item in prompts
        ]  # fmt: skip
        backend.generate(requests[:1])  # warm up
        row: dict[str, Any] = {}
        texts = {}
        for path, plain in (("generate", False), ("loop", True)):
            backend.plain_greedy = plain
            started = time.perf_counter()
            results = backend.generate(requests)
            seconds = time.perf_counter() - started
            tokens = sum(r.output_tokens for r in results)
            texts[path] = [r.text for r in results]
            row[f"{path}_tok_per_s"] = round(tokens / seconds, 1)
        row["loop_vs_generate"] = round(row["loop_tok_per_s"] / row["generate_tok_per_s"], 2)
        row["same_text"] = sum(
            a == b for a, b in zip(texts["loop"], texts["generate"], strict=True)
        )
        out[f"batch_{batch}"] = row
    clear_loaded()
    return out


def llama_cpp_workload(n: int = 16, new_tokens: int = 96) -> dict[str, Any] | None:
    """llama.cpp single-stream decode on the same SmolLM2 GGUF, if llama-cpp-python is installed."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    from evalharness.modelstore import builtin_gguf

    llm = Llama(str(builtin_gguf("smollm2-135m-instruct")), n_threads=2, n_ctx=2048, verbose=False)
    prompts = load_prompts(resolve_prompt_set("mt_bench"))[:n]
    tokens = 0
    started = time.perf_counter()
    for item in prompts:
        reply = llm.create_chat_completion(
            [{"role": "user", "content": item.prompt}], max_tokens=new_tokens, temperature=0.0
        )
        tokens += reply["usage"]["completion_tokens"]
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "seconds": round(seconds, 2), "tok_per_s": round(tokens / seconds, 1)}


def _requests(backend: Any, prompts: list[Any], new_tokens: int) -> list[GenerationRequest]:
    """Chat requests for a chat model, a question/answer frame for a base model."""
    if backend.info.has_chat_template:
        return [
            GenerationRequest(p.id, messages=({"role": "user", "content": p.prompt},),
                              max_new_tokens=new_tokens)
            for p in prompts
        ]  # fmt: skip
    return [
        GenerationRequest(p.id, prompt=f"Question: {p.prompt}\nAnswer:", max_new_tokens=new_tokens)
        for p in prompts
    ]


def _say(label: str, row: dict[str, Any]) -> None:
    """A progress line as each path finishes (a long run killed early keeps what it printed)."""
    print(f"[gen-compare] {label}: {row}", file=sys.stderr, flush=True)


def _timed_generate(
    backend: Any, requests: list[GenerationRequest]
) -> tuple[list[str], dict[str, Any]]:
    started = time.perf_counter()
    results = backend.generate(requests)
    seconds = time.perf_counter() - started
    tokens = sum(r.output_tokens for r in results)
    row = {"seconds": round(seconds, 2), "tokens": tokens, "tok_per_s": round(tokens / seconds, 1)}
    return [r.text for r in results], row


def judge_score_difference(
    judge_spec: str, prompts: list[Any], texts_a: list[str], texts_b: list[str]
) -> dict[str, Any]:
    """Pointwise scores (mean expected score over the helpfulness criteria) of two sets of
    answers to the same prompts, from the same judge: mean of b - a, mean |b - a|."""
    from evalharness.judge.engine import Judge, PointwiseItem
    from evalharness.rubrics import load_rubric
    from evalharness.templates import load_template

    backend = load_backend(judge_spec, BackendOptions())
    judge = Judge(backend, load_rubric("helpfulness"), load_template("pointwise"),
                  load_template("pairwise"))  # fmt: skip
    means = []
    for texts in (texts_a, texts_b):
        items = [PointwiseItem(p.id, "x", p.prompt, t) for p, t in zip(prompts, texts, strict=True)]
        records = judge.score(items)
        per_prompt: dict[str, list[float]] = {}
        for record in records:
            per_prompt.setdefault(record.prompt_id, []).append(record.expected or 0.0)
        means.append([sum(v) / len(v) for v in per_prompt.values()])
    diffs = [b - a for a, b in zip(means[0], means[1], strict=True)]
    return {
        "judged_prompts": len(diffs),
        "different_texts": sum(a != b for a, b in zip(texts_a, texts_b, strict=True)),
        "mean_score_a": round(sum(means[0]) / len(diffs), 3),
        "mean_score_b": round(sum(means[1]) / len(diffs), 3),
        "mean_diff": round(sum(diffs) / len(diffs), 3),
        "mean_abs_diff": round(sum(abs(d) for d in diffs) / len(diffs), 3),
        "max_abs_diff": round(max(abs(d) for d in diffs), 3),
    }


def generation_compare(
    spec: str,
    n: int = 16,
    new_tokens: int = 96,
    batches: tuple[int, ...] = (16, 32),
    int8: bool = True,
    compile_static: bool = False,
    llama: bool = True,
    judge_spec: str | None = None,
    judge_sample: int = 8,
    kernel_repeats: int = 20,
    llama_prompts: int | None = None,
) -> dict[str, Any]:
    """The previous generation path beside each candidate, in one process, same prompts.

    ``old``: ``generate()`` at the default batch size, fp32. Candidates: larger batches
    (prompts sorted by length, as always); with ``compile_static`` a static KV cache and a
    compiled forward at the largest batch (the first run, compilation included, is reported
    apart); with ``int8`` the opt-in int8 quantization at the largest batch, its texts compared
    with fp32's at that batch and (``judge_spec``) judged beside them on ``judge_sample``
    prompts, and one Linear layer timed in fp32, weight-only int8 and dynamic int8
    (:func:`int8_kernels`). llama.cpp single stream on the same GGUF runs before and after
    (mean reported), on the first ``llama_prompts`` prompts (default all).
    """
    prompts = load_prompts(resolve_prompt_set("mt_bench"))[:n]
    out: dict[str, Any] = {"spec": spec, "prompts": n, "max_new_tokens": new_tokens}
    llama_rates = []
    llama_n = llama_prompts or n
    if llama and (first := llama_cpp_workload(llama_n, new_tokens)):
        llama_rates.append(first["tok_per_s"])
        _say("llama.cpp single stream (before)", first)
    clear_loaded()
    backend: Any = load_backend(spec, BackendOptions())
    requests = _requests(backend, prompts, new_tokens)
    backend.generate(requests[:1])  # warm up
    rows: dict[str, dict[str, Any]] = {}
    old_texts, rows["old"] = _timed_generate(backend, requests)
    rows["old"]["path"] = f"generate(), batch {backend.batch_size}, fp32"
    _say("old", rows["old"])
    texts: dict[str, list[str]] = {"old": old_texts}
    for batch in batches:
        backend.batch_size = batch
        texts[f"batch_{batch}"], rows[f"batch_{batch}"] = _timed_generate(backend, requests)
        rows[f"batch_{batch}"]["path"] = f"generate(), batch {batch}, fp32"
        _say(f"batch_{batch}", rows[f"batch_{batch}"])
    top = max(batches)
    if compile_static:
        from transformers import CompileConfig

        config = backend.model.generation_config
        compile_config = CompileConfig()
        compile_config._compile_all_devices = True  # transformers compiles on GPUs only
        config.cache_implementation, config.compile_config = "static", compile_config
        backend.batch_size = top
        started = time.perf_counter()
        backend.generate(requests)
        first_seconds = time.perf_counter() - started
        key = f"static_compiled_batch_{top}"
        texts[key], rows[key] = _timed_generate(backend, requests)
        rows[key]["path"] = f"static cache + torch.compile, batch {top}, fp32"
        rows[key]["first_run_seconds"] = round(first_seconds, 1)
        _say(key, rows[key])
        config.cache_implementation, config.compile_config = None, None
    clear_loaded()
    if int8:
        backend = load_backend(spec, BackendOptions(batch_size=top, quantize="int8"))
        backend.generate(requests[:1])
        key = f"int8_batch_{top}"
        texts[key], rows[key] = _timed_generate(backend, requests)
        rows[key]["path"] = f"generate(), batch {top}, int8 (opt-in)"
        _say(key, rows[key])
        fp32 = texts[f"batch_{top}"]
        out["int8_same_text_as_fp32"] = sum(a == b for a, b in zip(texts[key], fp32, strict=True))
        clear_loaded()
        if judge_spec and judge_sample > 0:
            k = min(judge_sample, n)
            out["int8_judge_scores"] = judge_score_difference(
                judge_spec, prompts[:k], fp32[:k], texts[key][:k]
            )
            clear_loaded()
    if llama and (last := llama_cpp_workload(llama_n, new_tokens)):
        llama_rates.append(last["tok_per_s"])
        _say("llama.cpp single stream (after)", last)
    base = rows["old"]["tok_per_s"]
    for key, row in rows.items():
        row["vs_old"] = round(row["tok_per_s"] / base, 2)
        row["same_text_as_old"] = sum(a == b for a, b in zip(texts[key], old_texts, strict=True))
    if llama_rates:
        out["llama_cpp_tok_per_s"] = round(sum(llama_rates) / len(llama_rates), 1)
        out["llama_cpp_runs"] = llama_rates
        for row in rows.values():
            row["vs_llama_cpp"] = round(row["tok_per_s"] / out["llama_cpp_tok_per_s"], 2)
    out["rows"] = rows
    if int8:
        out["int8_kernels"] = int8_kernels(repeats=kernel_repeats)
    return out


def int8_kernels(
    shapes: tuple[tuple[int, int], ...] = ((576, 1536), (576, 49152)),
    batches: tuple[int, ...] = (1, 16),
    repeats: int = 20,
) -> list[dict[str, Any]]:
    """One Linear layer of SmolLM2's shapes (in, out): fp32 vs weight-only int8
    (``torch._weight_int8pack_mm``, per-channel scales) vs dynamic int8 (``quantize_dynamic``,
    what ``--quantize int8`` uses), microseconds per call, interleaved."""
    import statistics
    from functools import partial

    import torch

    from evalharness.backends.hf_load import quantize_int8

    rows = []
    torch.manual_seed(0)
    for fan_in, fan_out in shapes:
        layer = torch.nn.Linear(fan_in, fan_out, bias=False)
        weight = layer.weight.detach()
        scales = weight.abs().amax(1) / 127
        packed = torch.round(weight / scales[:, None]).clamp(-128, 127).to(torch.int8)
        dynamic = quantize_int8(torch.nn.Sequential(layer))
        for batch in batches:
            x = torch.randn(batch, fan_in)
            paths = {
                "fp32": partial(layer, x),
                "weight_only_int8": partial(torch._weight_int8pack_mm, x, packed, scales),
                "dynamic_int8": partial(dynamic, x),
            }
            times: dict[str, list[float]] = {name: [] for name in paths}
            with torch.inference_mode():
                for fn in paths.values():
                    fn()
                for _ in range(repeats):
                    for name, fn in paths.items():
                        started = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - started)
            row: dict[str, Any] = {"shape": f"{fan_in}x{fan_out}", "batch": batch}
            for name, values in times.items():
                row[f"{name}_us"] = round(statistics.median(values) * 1e6)
            rows.append(row)
    return rows
