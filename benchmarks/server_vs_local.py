"""Server vs local: do llama.cpp's OpenAI-compatible server and the transformers backend agree?

    python benchmarks/server_vs_local.py              # 12 prompts, 48 new tokens
    python benchmarks/server_vs_local.py --n 2        # a quick smoke run
    python benchmarks/server_vs_local.py --json F     # also write the figures to F

Both sides run the built-in SmolLM2-135M-Instruct: llama-cpp-python's server computes with
the Q4_1 GGUF's quantized kernels, transformers with the same weights dequantized to fp32.

1. Greedy chat generation of the default prompt set through both backends (the server through
   ``/chat/completions``), once with the server's default sampling settings and once with
   ``server_extra: {repeat_penalty: 1.0}`` (llama-cpp-python's server applies 1.1 unless told
   otherwise).
2. Judge choice probabilities: pairwise and pointwise judge prompts rendered once with the
   local chat template and sent as the exact same text to both backends (the server through
   ``/completions``, with ``repeat_penalty: 1.0``);
   ``pointwise_space`` repeats the pointwise prompts ending in ``"Score: "``. Two more columns
   read the *local* next-token distribution the way the server backend reads a server's
   answer (the top-20 first tokens, plus the top 20 after each likely bare space token), on
   the local and on the server's token ids, which separates what the quantized kernels change
   from what the reading rule and the tokenization change.

The server listens on 127.0.0.1 only and is stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.backends import BackendOptions, freeze_extra, load_backend  # noqa: E402
from evalharness.backends.base import (  # noqa: E402
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
)
from evalharness.backends.hf import HFBackend  # noqa: E402
from evalharness.backends.http_client import Reply  # noqa: E402
from evalharness.backends.openai_compat import OpenAICompatBackend  # noqa: E402
from evalharness.backends.openai_protocol import (  # noqa: E402
    add_followed,
    match_choices,
    space_tokens,
)
from evalharness.judge.engine import Judge, PairItem, PointwiseItem  # noqa: E402
from evalharness.modelstore import builtin_gguf  # noqa: E402
from evalharness.prompts import PromptItem, load_prompts, resolve_prompt_set  # noqa: E402
from evalharness.rubrics import load_rubric  # noqa: E402
from evalharness.specs import parse_spec  # noqa: E402
from evalharness.templates import load_template  # noqa: E402

MODEL = "smollm2-135m-instruct"
ALIAS = "smollm2"
TOP_LOGPROBS = 20
READY_TIMEOUT = 180.0
FILLER = "Here is a short answer."
NO_PENALTY = {"repeat_penalty": 1.0}


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """A llama-cpp-python server process on 127.0.0.1 serving ``model`` as ``ALIAS``."""

    model: Path
    port: int
    threads: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the OpenAI-compatible API."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Launch the server process (logging to ``log_path``)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--n_threads", str(self.threads), "--model_alias", ALIAS, "--n_ctx", "2048",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until ``GET /v1/models`` answers 200; RuntimeError if the server died or hung."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.25)
        raise RuntimeError(f"llama_cpp.server not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit within 15 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def tokenize(self, text: str) -> list[int]:
        """The token ids the server computes for ``text`` as a completion prompt."""
        reply = httpx.post(
            f"http://127.0.0.1:{self.port}/extras/tokenize",
            json={"input": text, "model": ALIAS},
            timeout=60.0,
        )
        reply.raise_for_status()
        return [int(t) for t in reply.json()["tokens"]]

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:]


@contextlib.contextmanager
def running_server(threads: int) -> Iterator[LlamaServer]:
    """A started, ready server for the built-in SmolLM2 GGUF, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="server-vs-local-") as tmp:
        server = LlamaServer(builtin_gguf(MODEL), free_port(), threads, Path(tmp) / "server.log")
        try:
            server.start()
            server.wait_ready()
            yield server
        finally:
            server.stop()


def record_replies(backend: OpenAICompatBackend) -> list[dict[str, Any]]:
    """Log every request body of ``backend`` with its reply; return the (growing) log."""
    post = backend.transport.post_json
    log: list[dict[str, Any]] = []

    def posting(path: str, payload: dict[str, Any]) -> Reply:
        reply = post(path, payload)
        log.append({"request": payload, "reply": reply.body})
        return reply

    backend.transport.post_json = posting  # type: ignore[method-assign]
    return log


# ---------------------------------------------------------------------------- generation


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common prefix of two sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def chat_requests(prompts: Sequence[PromptItem], max_new_tokens: int) -> list[GenerationRequest]:
    """One greedy single-turn chat request per prompt."""
    return [
        GenerationRequest(
            key=p.id,
            messages=({"role": "user", "content": p.prompt},),
            max_new_tokens=max_new_tokens,
        )
        for p in prompts
    ]


def next_token_probs(hf: HFBackend, ids: list[int]) -> torch.Tensor:
    """The local model's next-token distribution after ``ids``."""
    with torch.inference_mode():
        logits = hf.model(input_ids=torch.tensor([ids]), use_cache=False).logits
    return torch.softmax(logits[0, -1].float(), dim=-1)


def divergence_gap(
    hf: HFBackend,
    prompt_ids: list[int],
    local: GenerationResult,
    ours: list[int],
    theirs: list[int],
) -> float | None:
    """Local P(local's token) − P(server's token) at the first differing output token.

    An output that ended first counts as choosing EOS there. None when the outputs agree on
    every token either produced.
    """
    k = common_prefix(ours, theirs)
    eos = hf.tokenizer.eos_token_id
    mine = ours[k] if k < len(ours) else (eos if local.finish_reason == "stop" else None)
    other = theirs[k] if k < len(theirs) else eos
    if mine is None or mine == other:
        return None
    probs = next_token_probs(hf, prompt_ids + ours[:k])
    return float(probs[mine] - probs[other])


def compare_generations(
    hf: HFBackend,
    requests: Sequence[GenerationRequest],
    local: Sequence[GenerationResult],
    server: Sequence[GenerationResult],
) -> list[dict[str, Any]]:
    """Per prompt: exact match, common prefix (characters, tokens) and the gap at divergence."""
    tok = hf.tokenizer
    rows = []
    for req, mine, theirs in zip(requests, local, server, strict=True):
        if theirs.error:
            raise RuntimeError(f"server generation {req.key!r} failed: {theirs.error}")
        ours_ids = tok(mine.text, add_special_tokens=False)["input_ids"]
        theirs_ids = tok(theirs.text, add_special_tokens=False)["input_ids"]
        chars = common_prefix(mine.text, theirs.text)
        tokens = common_prefix(ours_ids, theirs_ids)
        prompt_ids = tok(mine.rendered_prompt, add_special_tokens=False)["input_ids"]
        rows.append(
            {
                "id": req.key,
                "exact": mine.text == theirs.text,
                "prefix_chars": chars,
                "prefix_share": chars / len(mine.text) if mine.text else 1.0,
                "local_tokens": len(ours_ids),
                "server_tokens": len(theirs_ids),
                "prefix_tokens": tokens,
                "token_share": tokens / len(ours_ids) if ours_ids else 1.0,
                "prompt_tokens_local": mine.prompt_tokens,
                "prompt_tokens_server": theirs.prompt_tokens,
                "gap_at_divergence": divergence_gap(hf, prompt_ids, mine, ours_ids, theirs_ids),
                "local_text": mine.text,
                "server_text": theirs.text,
            }
        )
    return rows


def summarize_generations(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts and means over :func:`compare_generations` rows."""
    gaps = [r["gap_at_divergence"] for r in rows if r["gap_at_divergence"] is not None]
    return {
        "prompts": len(rows),
        "exact_match": sum(r["exact"] for r in rows),
        "mean_prefix_chars": statistics.fmean(r["prefix_chars"] for r in rows),
        "mean_prefix_share": statistics.fmean(r["prefix_share"] for r in rows),
        "mean_prefix_tokens": statistics.fmean(r["prefix_tokens"] for r in rows),
        "mean_token_share": statistics.fmean(r["token_share"] for r in rows),
        "prompt_tokens_equal": sum(
            r["prompt_tokens_local"] == r["prompt_tokens_server"] for r in rows
        ),
        "median_gap_at_divergence": statistics.median(gaps) if gaps else None,
        "max_gap_at_divergence": max(gaps) if gaps else None,
    }


# ---------------------------------------------------------------------------- judge


def make_judge(hf: HFBackend) -> Judge:
    """The judge with the shipped helpfulness rubric and pointwise/pairwise templates."""
    return Judge(
        hf, load_rubric("helpfulness"), load_template("pointwise"), load_template("pairwise")
    )


def as_exact_prompt(hf: HFBackend, request: ChoiceRequest) -> ChoiceRequest:
    """``request`` rendered with the local chat template into one exact completion prompt."""
    text = hf.render(request.messages, request.prompt) + request.answer_prefix
    return ChoiceRequest(key=request.key, choices=request.choices, prompt=text, answer_prefix="")


def judge_requests(
    hf: HFBackend, prompts: Sequence[PromptItem], answers: Sequence[str]
) -> dict[str, list[ChoiceRequest]]:
    """Exact-prompt judge requests, one of each kind per prompt.

    ``pairwise``: the reference answer against the local generation, the order alternating
    from prompt to prompt. ``pointwise``: the local generation, the criterion cycling through
    the rubric. ``pointwise_space``: the same prompts ending in ``"Score: "`` (with the space).
    """
    judge = make_judge(hf)
    pairwise, pointwise = [], []
    for i, (p, answer) in enumerate(zip(prompts, answers, strict=True)):
        pair = PairItem(
            p.id, "ref-vs-local", "reference", "local", p.prompt, p.reference or FILLER, answer
        )
        both_orders = judge.pair_requests([pair])
        pairwise.append(as_exact_prompt(hf, both_orders[i % 2]))
        criteria = judge.pointwise_requests([PointwiseItem(p.id, "local", p.prompt, answer)])
        pointwise.append(as_exact_prompt(hf, criteria[i % len(criteria)]))
    spaced = [replace(r, prompt=f"{r.prompt} ") for r in pointwise]
    return {"pairwise": pairwise, "pointwise": pointwise, "pointwise_space": spaced}


def top_table(hf: HFBackend, probs: torch.Tensor, top: int = TOP_LOGPROBS) -> dict[str, float]:
    """The ``top`` most likely next tokens as text → logprob, as llama.cpp's ``logprobs: top``."""
    values, indices = torch.topk(torch.log(probs), top)
    table: dict[str, float] = {}
    for value, index in zip(values.tolist(), indices.tolist(), strict=True):
        table[hf.tokenizer.decode([index])] = value
    return table


def read_like_server(
    hf: HFBackend,
    probs: torch.Tensor,
    choices: tuple[str, ...],
    after: Callable[[str], torch.Tensor],
) -> ChoiceResult:
    """A local next-token distribution read as the server backend reads a server's answer.

    Only the 20 most likely first tokens count, matched by the backend's own rule; for each
    likely bare space token among them (the backend's :func:`space_tokens`), the 20 most
    likely tokens of ``after(space)`` (the distribution after the prompt plus that text) are
    read too and added, weighted by the space's probability.
    """
    first = top_table(hf, probs)
    result = match_choices(first, choices)
    for space, p_space in space_tokens(first):
        result = add_followed(result, p_space, match_choices(top_table(hf, after(space)), choices))
    return ChoiceResult(result)


def normalized(result: ChoiceResult) -> dict[str, float] | None:
    """The choice probabilities divided by their mass (None without mass)."""
    mass = result.mass
    return {c: p / mass for c, p in result.probs.items()} if mass > 0 else None


def compare_choices(
    requests: Sequence[ChoiceRequest], a: Sequence[ChoiceResult], b: Sequence[ChoiceResult]
) -> dict[str, Any]:
    """|ΔP| on normalized choice probabilities, |Δmass| and argmax agreement of two readings."""
    deltas: list[float] = []
    masses: list[float] = []
    agree = defined = 0
    for req, x, y in zip(requests, a, b, strict=True):
        if x.error or y.error:
            continue  # counted by the caller
        masses.append(abs(x.mass - y.mass))
        nx, ny = normalized(x), normalized(y)
        if nx is None or ny is None:
            continue
        defined += 1
        deltas.extend(abs(nx[c] - ny[c]) for c in req.choices)
        agree += max(nx, key=nx.__getitem__) == max(ny, key=ny.__getitem__)
    return {
        "requests": len(requests),
        "compared": len(masses),
        "both_with_mass": defined,
        "max_abs_dp": max(deltas) if deltas else None,
        "mean_abs_dp": statistics.fmean(deltas) if deltas else None,
        "max_abs_dmass": max(masses) if masses else None,
        "mean_abs_dmass": statistics.fmean(masses) if masses else None,
        "argmax_agree": agree,
    }


def missed_choices(requests: Sequence[ChoiceRequest], server: Sequence[ChoiceResult]) -> int:
    """Choices the server reading gave 0.0 (outside every top 20 it read), errors left out."""
    return sum(
        r.probs.get(c, 0.0) == 0.0
        for req, r in zip(requests, server, strict=True)
        if r.error is None
        for c in req.choices
    )


# ---------------------------------------------------------------------------- run


def compare_judge(
    hf: HFBackend,
    server: LlamaServer,
    completions: OpenAICompatBackend,
    log: list[dict[str, Any]],
    requests: Sequence[ChoiceRequest],
) -> dict[str, Any]:
    """Four readings of the same exact prompts, compared with the server backend's.

    ``local``: the local backend. ``local_read_like_server``: the local model on its own
    tokens, read with the server backend's rule (top 20, bare spaces followed).
    ``local_server_tokens``: the same on the server's token ids. ``server``: the server backend.
    The last comparison differs only by the arithmetic (quantized kernels vs fp32). ``log``
    is the server backend's request log (from :func:`record_replies`).
    """
    log.clear()
    local, local_s = timed(lambda: hf.choice_probs(requests))
    server_res, server_s = timed(lambda: completions.choice_probs(requests))
    local_ids = [hf.tokenizer(r.prompt)["input_ids"] for r in requests]
    server_ids = [server.tokenize(r.prompt or "") for r in requests]
    local_dists = [next_token_probs(hf, ids) for ids in local_ids]
    server_token_dists = [next_token_probs(hf, ids) for ids in server_ids]

    def local_after(text: str) -> Callable[[str], torch.Tensor]:
        return lambda space: next_token_probs(hf, hf.tokenizer(text + space)["input_ids"])

    def server_after(text: str) -> Callable[[str], torch.Tensor]:
        return lambda space: next_token_probs(hf, server.tokenize(text + space))

    like_server = [
        read_like_server(hf, d, r.choices, local_after(r.prompt or ""))
        for r, d in zip(requests, local_dists, strict=True)
    ]
    same_tokens = [
        read_like_server(hf, d, r.choices, server_after(r.prompt or ""))
        for r, d in zip(requests, server_token_dists, strict=True)
    ]
    eos = hf.tokenizer.eos_token_id
    usage = {e["request"]["prompt"]: (e["reply"] or {}).get("usage") or {} for e in log}
    return {
        "local_vs_server": compare_choices(requests, local, server_res),
        "local_read_like_server_vs_server": compare_choices(requests, like_server, server_res),
        "local_server_tokens_vs_server": compare_choices(requests, same_tokens, server_res),
        "server_choices_outside_top20": missed_choices(requests, server_res),
        "server_errors": sum(r.error is not None for r in server_res),
        "server_error_messages": sorted({r.error for r in server_res if r.error}),
        "server_with_mass": sum(r.error is None and r.mass > 0 for r in server_res),
        "server_requests": len(log),
        "same_token_ids": sum(a == b for a, b in zip(local_ids, server_ids, strict=True)),
        "mean_extra_local_tokens": statistics.fmean(
            len(a) - len(b) for a, b in zip(local_ids, server_ids, strict=True)
        ),
        "server_prompt_tokens_as_tokenized": sum(
            usage.get(r.prompt, {}).get("prompt_tokens") == len(ids)
            for r, ids in zip(requests, server_ids, strict=True)
        ),
        "server_starts_with_one_bos": sum(
            ids[:1] == [hf.tokenizer.bos_token_id] and ids[1:2] != ids[:1] for ids in server_ids
        ),
        "mean_prompt_tokens": statistics.fmean(len(ids) for ids in server_ids),
        "local_s": local_s,
        "server_s": server_s,
        "rows": [
            {
                "key": r.key,
                "local": a.probs,
                "local_read_like_server": b.probs,
                "local_server_tokens": c.probs,
                "server": d.probs,
                "server_error": d.error,
                "local_p_eos": float(dist[eos]),
            }
            for r, a, b, c, d, dist in zip(
                requests,
                local,
                like_server,
                same_tokens,
                server_res,
                server_token_dists,
                strict=True,
            )
        ],
    }


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (the platform's processor name elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run(n: int, max_new_tokens: int, threads: int) -> dict[str, Any]:
    """Every measurement; returns the figures as a JSON-ready dict."""
    import llama_cpp
    import transformers

    prompts = load_prompts(resolve_prompt_set("default"))[:n]
    hf = load_backend(MODEL, BackendOptions(threads=threads))
    assert isinstance(hf, HFBackend)
    out: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "cpu_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "llama_cpp_python": llama_cpp.__version__,
        },
        "settings": {"prompts": len(prompts), "max_new_tokens": max_new_tokens, "threads": threads,
                     "model": MODEL, "gguf": builtin_gguf(MODEL).name},
    }  # fmt: skip
    requests = chat_requests(prompts, max_new_tokens)
    local_gen, out["local_generate_s"] = timed(lambda: hf.generate(requests))
    with running_server(threads) as server:
        options = BackendOptions(api_key_env=None, concurrency=1, timeout=120.0)
        chat = load_backend(f"openai:{ALIAS}@{server.url}", options)
        assert isinstance(chat, OpenAICompatBackend)
        shipped, out["server_generate_s"] = timed(lambda: chat.generate(requests))
        options = replace(options, server_extra=freeze_extra(NO_PENALTY))
        chat_plain = load_backend(f"openai:{ALIAS}@{server.url}", options)
        assert isinstance(chat_plain, OpenAICompatBackend)
        sent = record_replies(chat_plain)
        plain = chat_plain.generate(requests)
        assert all(e["request"]["repeat_penalty"] == 1.0 for e in sent)
        out["generation"] = {}
        for name, results in (("server_defaults", shipped), ("repeat_penalty_1", plain)):
            rows = compare_generations(hf, requests, local_gen, results)
            out["generation"][name] = {"summary": summarize_generations(rows), "rows": rows}

        judged = judge_requests(hf, prompts, [g.text for g in local_gen])
        # An answer without a first token (end-of-sequence) must stay that item's error: it
        # is not a response without logprobs, which a judge would read as text.
        completions = OpenAICompatBackend(
            parse_spec(f"openai:{ALIAS}@{server.url}?chat=0"),
            api_key_env=None,
            concurrency=1,
            timeout=options.timeout,
            chat=False,
            extra_body=NO_PENALTY,
        )
        log = record_replies(completions)
        out["judge"] = {
            kind: compare_judge(hf, server, completions, log, reqs) for kind, reqs in judged.items()
        }
        out["judge_text_mode_auto"] = bool(completions.info.details.get("text_mode_auto"))
        chat.close()
        chat_plain.close()
        completions.close()
    return out


# ---------------------------------------------------------------------------- output


def fmt(value: Any, digits: int = 3) -> str:
    """A number for the table (``-`` for None)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(out: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    settings = out["settings"]
    lines = [
        "SmolLM2-135M-Instruct: transformers fp32 vs llama.cpp server (Q4_1), "
        f"{settings['prompts']} prompts, {settings['max_new_tokens']} new tokens"
    ]
    lines.append("")
    lines.append(f"{'greedy generation':<34}{'server defaults':>18}{'repeat_penalty 1.0':>20}")
    gens = [out["generation"][k]["summary"] for k in ("server_defaults", "repeat_penalty_1")]
    n = settings["prompts"]
    for label, key, digits in (
        ("exact match", "exact_match", 0),
        ("mean common prefix (chars)", "mean_prefix_chars", 1),
        ("mean common prefix (share)", "mean_prefix_share", 3),
        ("mean tokens before divergence", "mean_prefix_tokens", 1),
        ("mean share of tokens before div.", "mean_token_share", 3),
        ("prompt tokens equal", "prompt_tokens_equal", 0),
        ("median local P gap at divergence", "median_gap_at_divergence", 3),
    ):
        cells = [fmt(g[key], digits) + (f"/{n}" if digits == 0 else "") for g in gens]
        lines.append(f"{label:<34}{cells[0]:>18}{cells[1]:>20}")
    lines.append("")
    columns = (
        ("local_vs_server", "backends"),
        ("local_read_like_server_vs_server", "same reading"),
        ("local_server_tokens_vs_server", "same tokens+reading"),
    )
    lines.append(f"{'judge probabilities vs server':<34}" + "".join(f"{t:>21}" for _, t in columns))
    for kind, judged in out["judge"].items():
        m = judged["local_vs_server"]["requests"]
        lines.append(f"{kind} ({m} prompts, ~{judged['mean_prompt_tokens']:.0f} tokens)")
        for label, key, digits in (
            ("  max |dP| (normalized)", "max_abs_dp", 4),
            ("  mean |dP| (normalized)", "mean_abs_dp", 4),
            ("  max |dmass|", "max_abs_dmass", 4),
            ("  argmax agrees", "argmax_agree", 0),
        ):
            cells = []
            for column, _ in columns:
                x = judged[column]
                cells.append(
                    fmt(x[key], digits) + (f"/{x['both_with_mass']}" if not digits else "")
                )
            lines.append(f"{label:<34}" + "".join(f"{c:>21}" for c in cells))
        read = (m - judged["server_errors"]) * len(judged["rows"][0]["local"])
        for label, value in (
            ("  same prompt token ids", f"{judged['same_token_ids']}/{m}"),
            ("  extra local tokens (mean)", fmt(judged["mean_extra_local_tokens"], 1)),
            (
                "  server prompt = its tokenization",
                f"{judged['server_prompt_tokens_as_tokenized']}/{m}",
            ),
            ("  server item errors", f"{judged['server_errors']}/{m}"),
            ("  server judgments with mass", f"{judged['server_with_mass']}/{m}"),
            ("  server requests sent", str(judged["server_requests"])),
            ("  server choices read as 0.0", f"{judged['server_choices_outside_top20']}/{read}"),
        ):
            lines.append(f"{label:<34}{value:>21}")
        for message in judged["server_error_messages"]:
            lines.append(f"    error: {message}")
    lines.append(f"judge backend switched to text mode: {out['judge_text_mode_auto']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, measure, print the table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=12, help="prompts of the default set (max 12)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2, help="torch and llama.cpp threads")
    parser.add_argument("--json", type=Path, help="write the figures (with per-prompt rows) here")
    args = parser.parse_args(argv)
    out = run(args.n, args.max_new_tokens, args.threads)
    print(table(out))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
