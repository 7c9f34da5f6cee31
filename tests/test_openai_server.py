"""End-to-end tests of the OpenAI-compatible backend against real servers on 127.0.0.1.

The llama.cpp tests start ``python -m llama_cpp.server`` with the built-in SmolLM2 GGUF
(install it with ``scripts/install-llama-server.sh .venv``); they skip when llama_cpp is not
importable. The fault tests run a tiny stdlib HTTP server that answers 500 or garbage.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evalharness.backends.base import ChoiceRequest, GenerationRequest
from evalharness.backends.http_client import Reply
from evalharness.backends.openai_compat import OpenAICompatBackend
from evalharness.errors import BackendError, HarnessError
from evalharness.specs import parse_spec

pytestmark = pytest.mark.server

ALIAS = "smollm2"
READY_TIMEOUT = 120.0
NO_PENALTY = {"repeat_penalty": 1.0}  # llama.cpp penalizes repeats by default, even greedy
CHOICES = ("1", "2", "3", "4", "5")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """A llama-cpp-python server process that can be killed and restarted on its port."""

    def __init__(self, model: Path, port: int, log_path: Path) -> None:
        self.model, self.port, self.log_path = model, port, log_path
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts} ===\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
                "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", "2",
                "--model_alias", ALIAS, "--n_ctx", "2048",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.25)
        pytest.fail(f"llama_cpp.server not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed: run scripts/install-llama-server.sh .venv")
    try:
        from evalharness.modelstore import builtin_gguf

        model = builtin_gguf("smollm2-135m-instruct")
    except HarnessError as exc:
        pytest.skip(f"built-in SmolLM2 GGUF unavailable: {exc}")
    server = LlamaServer(model, free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def backend_for(url: str, **kwargs: object) -> OpenAICompatBackend:
    kwargs.setdefault("api_key_env", None)
    kwargs.setdefault("timeout", 60.0)
    kwargs.setdefault("extra_body", NO_PENALTY)
    return OpenAICompatBackend(parse_spec(f"openai:{ALIAS}@{url}"), **kwargs)  # type: ignore[arg-type]


def ask(key: str, text: str, max_new_tokens: int = 12) -> GenerationRequest:
    return GenerationRequest(
        key=key, messages=({"role": "user", "content": text},), max_new_tokens=max_new_tokens
    )


def chatml(user: str, reply: str = "") -> str:
    """SmolLM2's chat template by hand: one user turn and an open assistant turn."""
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{reply}"


def logged(backend: OpenAICompatBackend) -> list[dict]:
    """Record the body of every request ``backend`` sends."""
    bodies: list[dict] = []
    post_json = backend.transport.post_json

    def posting(path: str, payload: dict) -> Reply:
        bodies.append(payload)
        return post_json(path, payload)

    backend.transport.post_json = posting  # type: ignore[method-assign]
    return bodies


PAIR_MESSAGES = (
    {"role": "system", "content": "You are a fair judge of answers."},
    {
        "role": "user",
        "content": "Question: What is 2+2?\n\nResponse A: 4\n\nResponse B: 5\n\n"
        "Which response is better, A or B?",
    },
)


def test_chat_generation_greedy(llama: LlamaServer) -> None:
    backend = backend_for(llama.url)
    first, again = backend.generate(
        [ask("t1", "Can you tell me the time?"), ask("t2", "Can you tell me the time?")]
    )
    assert first.error is None, first.error
    assert first.text.strip() and first.text == again.text  # greedy: deterministic
    assert first.prompt_tokens > 5 and 0 < first.output_tokens <= 12
    assert first.finish_reason in ("stop", "length")
    assert "Can you tell me the time?" in first.rendered_prompt
    backend.close()


def test_completion_on_plain_prompt(llama: LlamaServer) -> None:
    backend = backend_for(llama.url)
    req = GenerationRequest(key="p", prompt="The capital of France is", max_new_tokens=6)
    [result] = backend.generate([req])
    assert result.error is None, result.error
    assert result.text and result.output_tokens == 6 and result.finish_reason == "length"
    assert result.rendered_prompt == "The capital of France is"


def test_greedy_without_repeat_penalty_takes_the_argmax(llama: LlamaServer) -> None:
    prompt = chatml("Write the word 'red' five times, then the word 'blue' five times.")
    body = {"model": ALIAS, "prompt": prompt, "max_tokens": 24, "temperature": 0.0,
            "top_p": 1.0, "logprobs": 1, **NO_PENALTY}  # fmt: skip
    choice = httpx.post(f"{llama.url}/completions", json=body, timeout=60.0).json()["choices"][0]
    logprobs = choice["logprobs"]
    assert logprobs["tokens"]
    for chosen, top in zip(logprobs["token_logprobs"], logprobs["top_logprobs"], strict=True):
        assert chosen == pytest.approx(max(top.values()), abs=1e-5)  # greedy: the argmax
    backend = backend_for(llama.url)
    [result] = backend.generate([GenerationRequest(key="g", prompt=prompt, max_new_tokens=24)])
    assert result.error is None and result.text == choice["text"]


def test_pointwise_prompt_ending_in_colon_reads_through_the_space(llama: LlamaServer) -> None:
    # SmolLM2's next token after "Score:" is a bare space; the digit comes second
    prompt = chatml(
        "Rate the answer from 1 (useless) to 5 (perfect).\n\nQuestion: What is 2+2?\n"
        "Answer: 2+2 is 4.\n\nReply as 'Score: N'.",
    )
    backend = backend_for(llama.url)
    bodies = logged(backend)
    [result] = backend.choice_probs(
        [ChoiceRequest("p", CHOICES, prompt=prompt, answer_prefix="Score:")]
    )
    assert result.error is None, result.error
    assert [b["prompt"] for b in bodies][:2] == [prompt + "Score:", prompt + "Score: "]
    assert all(b["repeat_penalty"] == 1.0 for b in bodies)
    assert result.mass > 0.1


def test_end_of_sequence_first_fails_that_item_only(llama: LlamaServer) -> None:
    # after a finished reply the most likely next token is <|im_end|>: llama.cpp generates
    # nothing and returns an empty top_logprobs list
    done = ChoiceRequest("done", ("A", "B"), prompt=chatml("Say OK.", "OK."))
    pair = ChoiceRequest("pair", ("A", "B"), messages=PAIR_MESSAGES, answer_prefix="Better:")
    backend = backend_for(llama.url, concurrency=1)
    eos, ok = backend.choice_probs([done, pair])
    assert eos.probs == {} and eos.text is None
    assert eos.error is not None and eos.error.endswith(
        "the server generated no token (end-of-sequence first)"
    )
    assert ok.error is None and ok.text is None and ok.mass > 0.0  # still logprobs
    assert not eos.no_logprobs and not ok.no_logprobs


@pytest.mark.parametrize("via", ["chat", "prompt"])
def test_pairwise_choice_probs_with_logprobs(llama: LlamaServer, via: str) -> None:
    backend = backend_for(llama.url)
    if via == "chat":
        req = ChoiceRequest("pair", ("A", "B"), messages=PAIR_MESSAGES, answer_prefix="Better:")
    else:
        prompt = PAIR_MESSAGES[1]["content"] + "\nThe better response is"
        req = ChoiceRequest("pair", ("A", "B"), prompt=prompt, answer_prefix=" Response")
    [result] = backend.choice_probs([req])
    assert result.error is None, result.error
    assert result.text is None  # read from logprobs, not text mode
    assert set(result.probs) == {"A", "B"}
    assert all(0.0 <= p <= 1.0 for p in result.probs.values())
    assert 0.0 < result.mass <= 1.0 + 1e-6
    assert not math.isnan(result.mass)


def test_text_mode_against_real_server(llama: LlamaServer) -> None:
    """The judge's text mode (its one home) against a real server."""
    from evalharness.judge.engine import Judge, PairItem
    from evalharness.templates import load_judge_setup

    backend = backend_for(llama.url)
    setup = load_judge_setup(backend.info.spec, "helpfulness", mode="text")
    judge = Judge.from_setup(backend, setup)
    item = PairItem("p", "tuned_vs_base", "tuned", "base", "What is 2+2?", "4.", "2+2 is 5.")
    for record in judge.compare([item]):
        assert record.mode == "text" and record.raw_text is not None
        if record.error is None:
            assert sorted(record.probs.values()) == [0.0, 1.0]
        else:
            assert record.p_first is None and record.error.startswith("no verdict among A,B in ")


def test_unknown_model_is_a_backend_error(llama: LlamaServer) -> None:
    backend = OpenAICompatBackend(parse_spec(f"openai:no-such-model@{llama.url}"), api_key_env=None)
    with pytest.raises(BackendError, match=f"served: {ALIAS}"):
        backend.generate([ask("k", "hi")])


def test_server_restart_mid_batch(llama: LlamaServer) -> None:
    # ~150 s of retries (uniform(0, 1 s) backoff): room for a model reload on a busy machine
    backend = backend_for(
        llama.url, concurrency=2, max_retries=300, backoff_base=0.25, max_backoff=1.0
    )
    requests = [ask(f"r{i}", f"Say the number {i}.", max_new_tokens=4) for i in range(8)]
    finished: list[int] = []
    starts_before = llama.starts
    tries: list[int] = []
    post_json = backend.transport.post_json

    def counting_post(path: str, payload: dict) -> Reply:
        reply = post_json(path, payload)
        tries.append(reply.tries)
        return reply

    backend.transport.post_json = counting_post  # type: ignore[method-assign]

    def progress(n: int) -> None:
        finished.append(n)
        if len(finished) == 1:
            llama.kill()
            llama.start()  # same port; the batch waits for it through retries

    try:
        results = backend.generate(requests, progress=progress)
    finally:
        llama.wait_ready()
    assert llama.starts == starts_before + 1
    assert len(finished) == 8
    assert [r.error for r in results] == [None] * 8
    assert all(r.output_tokens > 0 for r in results)
    assert max(tries) > 1  # some requests met the dead server and were retried
    served_after_restart = llama.log_tail(100_000).split(f"=== start {llama.starts} ===")[-1]
    assert "/v1/chat/completions" in served_after_restart


# ---------------------------------------------------------------------------- faulty server


class FaultyHandler(http.server.BaseHTTPRequestHandler):
    """500 on chat completions, garbage on completions, no model listing."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/chat/completions"):
            self._send(500, b"internal kaboom")
        else:
            self._send(200, b'{"choices": [ {"text": "unterminated')

    def do_GET(self) -> None:  # noqa: N802
        self._send(404, b"not here")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def faulty() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_faulty_server_items_fail_cleanly(faulty: str) -> None:
    backend = backend_for(faulty, max_retries=2, backoff_base=0.01)
    results = backend.generate(
        [ask("c", "hi"), GenerationRequest(key="p", prompt="hi", max_new_tokens=2)]
    )
    chat, comp = results
    assert chat.finish_reason == "error"
    assert chat.error == f"HTTP 500 from {faulty}/chat/completions after 2 tries: internal kaboom"
    assert comp.finish_reason == "error"
    assert comp.error.startswith(f"malformed JSON from {faulty}/completions: ")
    choices = backend.choice_probs(
        [
            ChoiceRequest("a", ("A", "B"), messages=PAIR_MESSAGES),
            ChoiceRequest("b", ("A", "B"), prompt="x"),
        ]
    )
    assert [c.probs for c in choices] == [{}, {}]
    assert "HTTP 500" in choices[0].error and "malformed JSON" in choices[1].error


def test_unreachable_server_is_an_item_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = backend_for(url, max_retries=2, backoff_base=0.01, timeout=5.0)
    [result] = backend.generate([ask("k", "hi")])
    assert result.finish_reason == "error"
    assert result.error.startswith(f"connection error from {url}/chat/completions after 2 tries: ")
