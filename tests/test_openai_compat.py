"""Unit tests of the OpenAI-compatible backend: pure functions and the transport (no sockets)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter

import httpx
import pytest

from evalharness.backends import BackendOptions, clear_loaded, freeze_extra, load_backend
from evalharness.backends.base import ChoiceRequest, GenerationRequest
from evalharness.backends.http_client import (
    HttpTransport,
    ReplicaPool,
    Secret,
    parse_retry_after,
)
from evalharness.backends.openai_compat import OpenAICompatBackend
from evalharness.backends.openai_protocol import (
    NoLogprobsError,
    ResponseFormatError,
    add_followed,
    build_chat_request,
    build_completion_request,
    normalize_token,
    parse_choice_logprobs,
    parse_generation,
    parse_top_logprobs,
    space_tokens,
)
from evalharness.config import load_config
from evalharness.errors import BackendError, ConfigError, ModelError
from evalharness.judge.parse import parse_last_verdict
from evalharness.specs import parse_spec

KEY = "sk-test-SECRET-0123456789"
URL = "http://127.0.0.1:9"


def chat_body(text: str, finish: str = "stop", usage: bool = True) -> dict:
    body: dict = {"choices": [{"message": {"role": "assistant", "content": text}}]}
    body["choices"][0]["finish_reason"] = finish
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": 3}
    return body


def chat_logprob_body(top: dict[str, float]) -> dict:
    first = next(iter(top))
    entry = {
        "token": first,
        "logprob": top[first],
        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top.items()],
    }
    return {
        "choices": [
            {
                "message": {"content": first},
                "logprobs": {"content": [entry]},
                "finish_reason": "length",
            }
        ]
    }


def completion_logprob_body(top: dict[str, float]) -> dict:
    first = next(iter(top))
    logprobs = {"tokens": [first], "token_logprobs": [top[first]], "top_logprobs": [top]}
    return {"choices": [{"text": first, "logprobs": logprobs, "finish_reason": "length"}]}


def make_backend(handler, urls: str = URL, **kwargs) -> OpenAICompatBackend:
    kwargs.setdefault("backoff_base", 0.001)
    kwargs.setdefault("verify_model", False)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return OpenAICompatBackend(parse_spec(f"openai:m1@{urls}"), client=client, **kwargs)


def gen(key: str, text: str = "hi", **kw) -> GenerationRequest:
    return GenerationRequest(key=key, messages=({"role": "user", "content": text},), **kw)


# ---------------------------------------------------------------------------- requests


def test_build_chat_request_fields():
    body = build_chat_request(
        "m", [{"role": "user", "content": "x"}], max_tokens=5, seed=3, stop=("\n",), top_logprobs=7
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 5,
        "temperature": 0.0,
        "top_p": 1.0,
        "seed": 3,
        "stop": ["\n"],
        "logprobs": True,
        "top_logprobs": 7,
    }
    plain = build_chat_request("m", [{"role": "user", "content": "x"}], max_tokens=5)
    assert "stop" not in plain and "logprobs" not in plain and "seed" not in plain


def test_build_completion_request_fields():
    body = build_completion_request("m", "Q: 1+1\nA:", max_tokens=1, logprobs=20, stop=())
    assert body["prompt"] == "Q: 1+1\nA:"
    assert body["logprobs"] == 20 and "stop" not in body and "top_logprobs" not in body


# ---------------------------------------------------------------------------- responses


def test_parse_generation_chat_and_completion():
    parsed = parse_generation(chat_body("Hello", finish="eos"), chat=True)
    assert (parsed.text, parsed.prompt_tokens, parsed.output_tokens) == ("Hello", 11, 3)
    assert parsed.finish_reason == "stop" and parsed.note is None
    comp = {"choices": [{"text": " world", "finish_reason": "length"}]}
    parsed = parse_generation(comp, chat=False)
    assert parsed.text == " world" and parsed.finish_reason == "length"
    assert parsed.prompt_tokens == 0 and parsed.output_tokens == 0 and "usage" in parsed.note
    odd = parse_generation(chat_body("x", finish="content_filter"), chat=True)
    assert odd.finish_reason == "content_filter"


@pytest.mark.parametrize(
    ("body", "chat", "field"),
    [
        ({}, True, "choices[0]"),
        ({"choices": []}, False, "choices[0]"),
        ({"choices": [{"text": "x"}]}, True, "choices[0].message.content"),
        ({"choices": [{"message": {"content": "x"}}]}, False, "choices[0].text"),
        ([1, 2], True, "JSON object"),
    ],
)
def test_parse_generation_names_missing_field(body, chat, field):
    with pytest.raises(ResponseFormatError, match=f"malformed response.*{field.replace('[', '.')}"):
        parse_generation(body, chat)


@pytest.mark.parametrize("token", ["3", " 3", "▁3", "Ġ3", "\n3"])
def test_normalize_token(token):
    assert normalize_token(token) == "3"


def test_parse_choice_logprobs_chat_shape_sums_spellings():
    top = {"3": math.log(0.4), " 3": math.log(0.1), "▁4": math.log(0.2), "Hello": math.log(0.2)}
    probs = parse_choice_logprobs(chat_logprob_body(top), True, ("1", "2", "3", "4", "5"))
    assert set(probs) == {"1", "2", "3", "4", "5"}
    assert probs["3"] == pytest.approx(0.5) and probs["4"] == pytest.approx(0.2)
    assert probs["1"] == 0.0 and sum(probs.values()) == pytest.approx(0.7)


def test_parse_choice_logprobs_completion_shape():
    top = {" A": math.log(0.6), "B": math.log(0.25), " The": math.log(0.1)}
    probs = parse_choice_logprobs(completion_logprob_body(top), False, ("A", "B"))
    assert probs == pytest.approx({"A": 0.6, "B": 0.25})


def test_parse_choice_logprobs_missing_logprobs():
    with pytest.raises(NoLogprobsError):
        parse_choice_logprobs(chat_body("A"), True, ("A", "B"))
    body = {"choices": [{"text": "A", "logprobs": None}]}
    with pytest.raises(NoLogprobsError):
        parse_choice_logprobs(body, False, ("A", "B"))
    with pytest.raises(ResponseFormatError, match="logprobs is not an object"):
        parse_choice_logprobs({"choices": [{"logprobs": "x"}]}, True, ("A",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 4", "4"),
        ("I'd say 2. On reflection, Score: 5", "5"),
        ("3/5", "3"),
        ("Score 4.5", None),
        ("10 out of 10", None),
        ("no digits here", None),
        ("", None),
        ("**4**", "4"),
    ],
)
def test_parse_last_verdict_scores(text, expected):
    assert parse_last_verdict(text, ("1", "2", "3", "4", "5")) == expected


def test_parse_last_verdict_letters():
    assert parse_last_verdict("Response A is longer, but B is right. Verdict: B", ("A", "B")) == "B"
    assert parse_last_verdict("[[A]]", ("A", "B")) == "A"
    assert parse_last_verdict("Both are Bad", ("A", "B")) is None
    assert parse_last_verdict("[[A]]", ("[[A]]", "[[B]]")) == "[[A]]"


# ---------------------------------------------------------------------------- transport


def test_secret_never_printed():
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    assert s.redact(f"echo {KEY}!") == "echo ***!"


def test_parse_retry_after():
    assert parse_retry_after("3", cap=60) == 3.0
    assert parse_retry_after("1000", cap=60) == 60.0
    assert parse_retry_after(None, cap=60) is None
    assert parse_retry_after("soon", cap=60) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=60) == 0.0


def test_replica_pool_least_in_flight_then_round_robin():
    pool = ReplicaPool(["a", "b", "c"])
    assert [pool.acquire() for _ in range(3)] == ["a", "b", "c"]
    pool.release("b")
    assert pool.acquire() == "b"
    for u in "abc":
        pool.release(u)
    assert pool.acquire() == "c"  # all idle: round robin continues after the last pick
    assert pool.acquire(avoid={"a"}) == "b"
    fresh = ReplicaPool(["a", "b"])
    assert fresh.acquire(avoid={"a"}) == "b"
    assert fresh.acquire(avoid={"a", "b"}) == "a"  # all failed: any replica


def test_order_preserved_under_concurrency():
    def handler(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["messages"][0]["content"]
        time.sleep(0.02 * (int(text) % 4))
        return httpx.Response(200, json=chat_body(f"echo {text}"))

    backend = make_backend(handler, concurrency=4)
    done = []
    results = backend.generate([gen(str(i), str(i)) for i in range(12)], progress=done.append)
    assert [r.text for r in results] == [f"echo {i}" for i in range(12)]
    assert all(r.error is None and r.finish_reason == "stop" for r in results)
    assert results[0].prompt_tokens == 11 and results[0].output_tokens == 3
    assert done == [1] * 12


def test_concurrency_limit_respected():
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return httpx.Response(200, json=chat_body("ok"))

    make_backend(handler, concurrency=3).generate([gen(str(i)) for i in range(10)])
    assert state["max"] == 3


def test_retry_then_success():
    calls = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json=chat_body("fine"))

    [result] = make_backend(handler, max_retries=4).generate([gen("k")])
    assert result.error is None and result.text == "fine" and calls["n"] == 3


def test_connection_errors_and_timeouts_are_retried():
    calls = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        if calls["n"] == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=chat_body("back"))

    [result] = make_backend(handler, max_retries=3).generate([gen("k")])
    assert result.text == "back" and calls["n"] == 3


def test_give_up_after_max_retries_others_go_on():
    calls = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["messages"][0]["content"]
        calls[text] += 1
        if text == "bad":
            return httpx.Response(500, text="boom\n  internal")
        return httpx.Response(200, json=chat_body("ok"))

    backend = make_backend(handler, max_retries=3, concurrency=2)
    results = backend.generate([gen("1", "good"), gen("2", "bad"), gen("3", "good")])
    assert [r.text for r in results] == ["ok", "", "ok"]
    bad = results[1]
    assert bad.finish_reason == "error"
    assert bad.error == f"HTTP 500 from {URL}/chat/completions after 3 tries: boom internal"
    assert calls["bad"] == 3
    assert bad.rendered_prompt  # the prompt is kept with the failure


def test_400_not_retried():
    calls = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(400, json={"error": {"message": "max_tokens too large"}})

    [result] = make_backend(handler, max_retries=5).generate([gen("k")])
    assert calls["n"] == 1
    assert result.finish_reason == "error" and result.error.startswith("HTTP 400 from ")
    assert "max_tokens too large" in result.error


def test_retry_after_honoured_and_capped():
    sleeps: list[float] = []
    calls = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "2"}, text="slow down")
        if calls["n"] == 2:
            return httpx.Response(429, headers={"Retry-After": "99999"}, text="slow down")
        return httpx.Response(200, json=chat_body("ok"))

    transport = HttpTransport(
        [URL],
        max_tries=5,
        retry_after_cap=30.0,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
    )
    reply = transport.post_json("/chat/completions", {"x": 1})
    assert reply.ok and reply.tries == 3
    assert sleeps == [2.0, 30.0]


def test_backoff_is_jittered_exponential():
    sleeps: list[float] = []
    transport = HttpTransport(
        [URL],
        max_tries=6,
        backoff_base=1.0,
        max_backoff=5.0,
        client=httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(502))),
        sleep=sleeps.append,
    )
    reply = transport.post_json("/completions", {})
    assert not reply.ok and reply.tries == 6 and len(sleeps) == 5
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.0 <= slept <= min(5.0, 2 ** (attempt - 1))


def test_balancing_across_two_urls():
    seen = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        seen[f"{request.url.host}:{request.url.port}"] += 1
        return httpx.Response(200, json=chat_body("ok"))

    backend = make_backend(handler, urls="http://127.0.0.1:8001/v1,http://127.0.0.1:8002/v1")
    backend.transport.concurrency = 1
    backend.generate([gen(str(i)) for i in range(10)])
    assert seen == {"127.0.0.1:8001": 5, "127.0.0.1:8002": 5}
    seen.clear()
    backend.transport.concurrency = 4
    results = backend.generate([gen(str(i)) for i in range(40)])
    assert all(r.error is None for r in results)
    assert seen["127.0.0.1:8001"] >= 10 and seen["127.0.0.1:8002"] >= 10


def test_failed_replica_retried_on_the_other():
    seen = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.port] += 1
        if request.url.port == 8001:
            raise httpx.ConnectError("down", request=request)
        return httpx.Response(200, json=chat_body("ok"))

    backend = make_backend(
        handler, urls="http://127.0.0.1:8001/v1,http://127.0.0.1:8002/v1", max_retries=2
    )
    results = backend.generate([gen(str(i)) for i in range(8)])
    assert all(r.text == "ok" for r in results)
    assert seen[8002] == 8


def test_malformed_json_is_an_item_error():
    def handler(request: httpx.Request) -> httpx.Response:
        if b"garbage" in request.content:
            return httpx.Response(200, text="<html>not json")
        if b"list" in request.content:
            return httpx.Response(200, json=[1, 2])
        if b"nochoice" in request.content:
            return httpx.Response(200, json={"id": "x"})
        return httpx.Response(200, json=chat_body("fine"))

    backend = make_backend(handler)
    results = backend.generate(
        [gen("1", "garbage"), gen("2", "ok"), gen("3", "list"), gen("4", "nochoice")]
    )
    assert results[0].error.startswith("malformed JSON from http") and "<html>" in results[0].error
    assert results[1].text == "fine" and results[1].error is None
    assert "not an object" in results[2].error
    assert "choices[0]" in results[3].error and results[3].finish_reason == "error"


def test_api_key_sent_but_never_leaked(monkeypatch):
    monkeypatch.setenv("EVALHARNESS_TEST_KEY", KEY)
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization", ""))
        # a hostile server that echoes the header into its error body
        return httpx.Response(401, text=f"bad key {request.headers.get('authorization')}")

    backend = make_backend(handler, api_key_env="EVALHARNESS_TEST_KEY")
    [result] = backend.generate([gen("k")])
    [choice] = backend.choice_probs([ChoiceRequest("c", ("A", "B"), prompt="x")])
    assert auth[0] == f"Bearer {KEY}"
    for text in (
        result.error,
        choice.error,
        repr(backend),
        repr(backend.transport),
        str(backend.info),
    ):
        assert KEY not in text
    assert "***" in result.error
    assert backend.info.details["api_key_set"] is True


def test_no_api_key_no_header(monkeypatch):
    monkeypatch.delenv("EVALHARNESS_TEST_KEY", raising=False)
    headers: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(dict(request.headers))
        return httpx.Response(200, json=chat_body("ok"))

    make_backend(handler, api_key_env="EVALHARNESS_TEST_KEY").generate([gen("k")])
    assert "authorization" not in headers[0]


# ---------------------------------------------------------------------------- backend


def test_info_and_bad_spec():
    backend = make_backend(lambda r: httpx.Response(200, json=chat_body("x")))
    assert backend.info.resolved == "openai:m1" and backend.info.has_chat_template is True
    assert backend.info.details["urls"] == [URL]
    with pytest.raises(ModelError):
        OpenAICompatBackend(parse_spec("fake:x"))


def test_generate_routes_prompt_to_completions_and_sends_fields():
    bodies: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append((request.url.path, body))
        if request.url.path.endswith("/completions") and "prompt" in body:
            return httpx.Response(
                200, json={"choices": [{"text": " 4", "finish_reason": "length"}]}
            )
        return httpx.Response(200, json=chat_body("ok"))

    backend = make_backend(handler)
    req = GenerationRequest("p", prompt="2+2=", max_new_tokens=3, seed=7, stop=("\n",))
    [result] = backend.generate([req])
    path, body = bodies[0]
    assert path == "/completions" and body["prompt"] == "2+2="
    assert body["max_tokens"] == 3 and body["seed"] == 7 and body["stop"] == ["\n"]
    assert result.text == " 4" and result.finish_reason == "length"
    assert result.rendered_prompt == "2+2="
    backend.generate([gen("c", max_new_tokens=9)])
    path, body = bodies[1]
    assert path == "/chat/completions" and body["max_tokens"] == 9 and "stop" not in body


def test_generate_bad_requests_are_item_errors():
    backend = make_backend(lambda r: httpx.Response(200, json=chat_body("ok")))
    results = backend.generate(
        [GenerationRequest("none"), gen("zero", max_new_tokens=0), gen("ok")]
    )
    assert "exactly one of messages or prompt" in results[0].error
    assert "max_new_tokens" in results[1].error
    assert results[2].text == "ok"


def test_chat_false_renders_transcript_for_completions():
    prompts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        prompts.append(json.loads(request.content)["prompt"])
        return httpx.Response(200, json={"choices": [{"text": "ok", "finish_reason": "stop"}]})

    backend = make_backend(handler, chat=False)
    msgs = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"})
    backend.generate([GenerationRequest("g", messages=msgs)])
    backend.choice_probs([ChoiceRequest("c", ("1", "2"), messages=msgs, answer_prefix="Score:")])
    assert prompts[0] == "System: Be brief.\n\nUser: Hi\n\nAssistant:"
    assert prompts[1] == prompts[0] + " Score:"


def test_choice_probs_chat_logprobs():
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(
            200, json=chat_logprob_body({"4": math.log(0.5), " 5": math.log(0.3), "The": -2.0})
        )

    backend = make_backend(handler, top_logprobs=5)
    msgs = ({"role": "user", "content": "Rate it."},)
    req = ChoiceRequest("c", ("1", "2", "3", "4", "5"), messages=msgs, answer_prefix="Score:")
    [result] = backend.choice_probs([req])
    body = bodies[0]
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    # the backend sends the messages as the judge wrote them (it asks for the bare choice)
    assert body["messages"] == [{"role": "user", "content": "Rate it."}]
    assert not backend.prefills_answer
    assert result.error is None and result.text is None
    assert result.probs["4"] == pytest.approx(0.5) and result.probs["5"] == pytest.approx(0.3)
    assert result.mass == pytest.approx(0.8)
    assert json.loads(result.rendered_prompt) == list(msgs)


def test_choice_probs_prompt_uses_completions_with_exact_prefix():
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=completion_logprob_body({" B": math.log(0.7)}))

    backend = make_backend(handler, top_logprobs=3)
    [result] = backend.choice_probs(
        [ChoiceRequest("c", ("A", "B"), prompt="Q\n", answer_prefix="Better:")]
    )
    assert bodies[0]["prompt"] == "Q\nBetter:" and bodies[0]["logprobs"] == 3
    assert result.probs == pytest.approx({"A": 0.0, "B": 0.7})


def test_a_response_without_logprobs_is_reported_not_parsed():
    """The backend never reads a verdict from text: it says that logprobs were missing."""
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=chat_body("Score: 4"))

    backend = make_backend(handler)
    msgs = ({"role": "user", "content": "Rate it."},)
    [result] = backend.choice_probs([ChoiceRequest("a", ("4", "5"), messages=msgs)])
    assert result.no_logprobs and result.probs == {} and result.text is None
    assert "no choices[0].logprobs" in result.error and result.mode is None
    assert [b["max_tokens"] for b in bodies] == [1]  # no text request from the backend


def test_completions_without_logprobs_are_reported():
    handler = lambda r: httpx.Response(200, json={"choices": [{"text": " A"}]})  # noqa: E731
    [result] = make_backend(handler).choice_probs(
        [ChoiceRequest("a", ("A", "B"), prompt="Which?", answer_prefix="Answer:")]
    )
    assert result.no_logprobs and result.probs == {}


def test_verify_model_lists_served_ids():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "llama"}, {"id": "qwen"}]})
        return httpx.Response(200, json=chat_body("ok"))

    backend = make_backend(handler, verify_model=True)
    with pytest.raises(BackendError, match="'m1' is not served at .*served: llama, qwen"):
        backend.generate([gen("k")])


def test_verify_model_tolerates_servers_without_listing():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, text="no such route")
        return httpx.Response(200, json=chat_body("ok"))

    [result] = make_backend(handler, verify_model=True).generate([gen("k")])
    assert result.text == "ok"


# ---------------------------------------------------------------------------- extra body


def test_extra_body_merged_into_every_request():
    bodies: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append((request.url.path, body))
        if "prompt" in body:
            top = {" ": math.log(0.5), "4": math.log(0.2)}
            return httpx.Response(200, json=completion_logprob_body(top))
        if body.get("logprobs"):
            return httpx.Response(200, json=chat_logprob_body({"4": math.log(0.9)}))
        return httpx.Response(200, json=chat_body("Score: 4"))

    extra = {"repeat_penalty": 1.0, "min_p": 0.0}
    backend = make_backend(handler, extra_body=extra, concurrency=1)
    msgs = ({"role": "user", "content": "Rate it."},)
    backend.generate([gen("g")])
    backend.choice_probs(
        [
            ChoiceRequest("chat", ("4", "5"), messages=msgs),
            ChoiceRequest("prompt", ("4", "5"), prompt="Score:"),
        ]
    )
    paths = [path for path, _ in bodies]
    # generation, chat read, completions read + its space follow-up
    assert paths == [
        "/chat/completions", "/chat/completions", "/completions", "/completions",
    ]  # fmt: skip
    for _, body in bodies:
        assert body["repeat_penalty"] == 1.0 and body["min_p"] == 0.0
    assert backend.info.details["extra_body"] == extra
    assert extra == {"repeat_penalty": 1.0, "min_p": 0.0}  # input untouched


@pytest.mark.parametrize("field", ["temperature", "max_tokens", "prompt", "logprobs"])
def test_extra_body_cannot_replace_harness_fields(field):
    with pytest.raises(BackendError, match=f"server_extra: '{field}' is set by the harness"):
        make_backend(lambda r: httpx.Response(200, json=chat_body("x")), extra_body={field: 1})


def test_extra_body_must_be_json_data():
    with pytest.raises(BackendError, match="server_extra: values must be JSON data"):
        make_backend(lambda r: httpx.Response(200), extra_body={"x": object()})


def test_extra_body_holding_the_key_is_redacted_in_info(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    backend = make_backend(
        lambda r: httpx.Response(200), api_key_env="OPENAI_API_KEY", extra_body={"user": KEY}
    )
    assert KEY not in json.dumps(backend.info.details)
    assert backend.info.details["extra_body"] == {"user": "***"}


def test_server_extra_config_and_backend_options(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("judge: fake:j\nserver_extra:\n  repeat_penalty: 1.0\n  stop_words: [a]\n")
    config = load_config(good)
    assert config.server_extra == {"repeat_penalty": 1.0, "stop_words": ["a"]}
    frozen = freeze_extra(config.server_extra)
    assert frozen == (("repeat_penalty", "1.0"), ("stop_words", '["a"]'))
    hash(BackendOptions(server_extra=frozen))  # stays usable as a cache key
    backend = load_backend(f"openai:m1@{URL}", BackendOptions(server_extra=frozen))
    try:
        assert isinstance(backend, OpenAICompatBackend)
        assert backend.extra_body == {"repeat_penalty": 1.0, "stop_words": ["a"]}
    finally:
        clear_loaded()
    assert config.to_dict()["server_extra"] == {"repeat_penalty": 1.0, "stop_words": ["a"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nserver_extra: 1.0\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: server_extra must be a mapping"):
        load_config(bad)
    bad.write_text("server_extra: [repeat_penalty]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:1: server_extra must be a mapping"):
        load_config(bad)


# ---------------------------------------------------------------------------- space path


def test_space_tokens_picks_bare_spaces_above_floor():
    table = {
        " ": math.log(0.5),
        "Ġ": math.log(0.1),  # the same text as " ": summed
        "  ": math.log(0.2),
        "\t": math.log(0.15),
        "\n": math.log(0.3),  # a line break is not followed
        " 3": math.log(0.4),  # not whitespace-only
    }
    found = space_tokens(table)
    assert [text for text, _ in found] == [" ", "  "]
    assert found[0][1] == pytest.approx(0.6) and found[1][1] == pytest.approx(0.2)
    assert [t for t, _ in space_tokens(table, limit=5)] == [" ", "  ", "\t"]
    assert space_tokens({"▁": math.log(0.005)}) == []
    assert space_tokens({"▁": math.log(0.05)}, floor=0.01)[0][0] == " "


def test_add_followed_multiplies_and_adds():
    probs = {"3": 0.1, "4": 0.0}
    out = add_followed(probs, 0.5, {"3": 0.4, "4": 0.2})
    assert out == pytest.approx({"3": 0.1 + 0.5 * 0.4, "4": 0.5 * 0.2})
    assert probs == {"3": 0.1, "4": 0.0}


def space_then_digit_handler(first: dict[str, float], after: dict[str, dict[str, float]], log):
    """Completions server: ``first`` after the prompt, ``after[suffix]`` after prompt+suffix."""

    def handler(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["prompt"]
        log.append(prompt)
        for suffix, top in after.items():
            if prompt.endswith("Score:" + suffix):
                return httpx.Response(200, json=completion_logprob_body(top))
        return httpx.Response(200, json=completion_logprob_body(first))

    return handler


def test_prompt_ending_in_colon_reads_choices_after_the_space():
    prompts: list[str] = []
    first = {" ": math.log(0.8), "\n": math.log(0.1), "The": math.log(0.05)}
    after = {" ": {"3": math.log(0.5), "4": math.log(0.3), " 5": math.log(0.05)}}
    backend = make_backend(space_then_digit_handler(first, after, prompts))
    choices = ("1", "2", "3", "4", "5")
    [result] = backend.choice_probs(
        [ChoiceRequest("c", choices, prompt="Rate it.\n", answer_prefix="Score:")]
    )
    assert prompts == ["Rate it.\nScore:", "Rate it.\nScore: "]
    assert result.error is None and result.rendered_prompt == "Rate it.\nScore:"
    assert result.probs == pytest.approx(
        {"1": 0.0, "2": 0.0, "3": 0.8 * 0.5, "4": 0.8 * 0.3, "5": 0.8 * 0.05}
    )
    assert result.mass == pytest.approx(0.8 * 0.85)


def test_space_path_adds_to_first_token_matches():
    prompts: list[str] = []
    first = {"4": math.log(0.3), " ": math.log(0.4), "Ġ": math.log(0.1), "  ": math.log(0.02)}
    after = {
        "  ": {"5": math.log(0.5)},
        " ": {"4": math.log(0.6), "5": math.log(0.2)},
    }
    backend = make_backend(space_then_digit_handler(first, after, prompts), concurrency=1)
    [result] = backend.choice_probs([ChoiceRequest("c", ("4", "5"), prompt="Score:")])
    assert prompts == ["Score:", "Score: ", "Score:  "]  # " " + "Ġ" merged, most likely first
    assert result.probs == pytest.approx({"4": 0.3 + 0.5 * 0.6, "5": 0.5 * 0.2 + 0.02 * 0.5})


def test_space_path_not_taken_below_floor_or_in_chat():
    prompts: list[str] = []
    first = {"3": math.log(0.9), " ": math.log(0.005)}
    backend = make_backend(space_then_digit_handler(first, {" ": {"3": 0.0}}, prompts))
    [result] = backend.choice_probs([ChoiceRequest("c", ("3",), prompt="Score:")])
    assert prompts == ["Score:"] and result.probs == pytest.approx({"3": 0.9})

    bodies: list[dict] = []

    def chat_handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=chat_logprob_body({" ": math.log(0.7), "3": math.log(0.2)}))

    msgs = ({"role": "user", "content": "Rate it."},)
    [chat] = make_backend(chat_handler).choice_probs(
        [ChoiceRequest("c", ("3",), messages=msgs, answer_prefix="Score:")]
    )
    assert len(bodies) == 1 and chat.probs == pytest.approx({"3": 0.2})


def test_space_path_failure_is_an_item_error():
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["prompt"].endswith(" "):
            return httpx.Response(400, text="bad prompt")
        return httpx.Response(200, json=completion_logprob_body({" ": math.log(0.9)}))

    [result] = make_backend(handler).choice_probs([ChoiceRequest("c", ("3",), prompt="Score:")])
    assert result.probs == {}
    assert result.error == f"HTTP 400 from {URL}/completions: bad prompt (after ' ')"


# ---------------------------------------------------------------------------- end of sequence


def eos_completion_body() -> dict:
    logprobs = {"tokens": [], "text_offset": [], "token_logprobs": [], "top_logprobs": []}
    return {"choices": [{"text": "", "logprobs": logprobs, "finish_reason": "stop"}]}


def eos_chat_body() -> dict:
    message = {"role": "assistant", "content": ""}
    logprobs = {"content": [], "refusal": None}
    return {"choices": [{"message": message, "logprobs": logprobs, "finish_reason": "stop"}]}


def test_parse_top_logprobs_empty_list_is_not_missing_logprobs():
    assert parse_top_logprobs(eos_completion_body(), chat=False) == {}
    assert parse_top_logprobs(eos_chat_body(), chat=True) == {}
    assert parse_choice_logprobs(eos_completion_body(), False, ("A", "B")) == {"A": 0.0, "B": 0.0}
    no_content = {"choices": [{"message": {"content": "A"}, "logprobs": {"content": None}}]}
    with pytest.raises(NoLogprobsError, match=r"logprobs.content"):
        parse_top_logprobs(no_content, chat=True)
    no_top = {"choices": [{"text": "A", "logprobs": {"tokens": ["A"]}}]}
    with pytest.raises(NoLogprobsError, match=r"logprobs.top_logprobs"):
        parse_top_logprobs(no_top, chat=False)
    with pytest.raises(ResponseFormatError, match=r"top_logprobs is not a list"):
        parse_top_logprobs({"choices": [{"logprobs": {"top_logprobs": "x"}}]}, chat=False)


@pytest.mark.parametrize("via", ["prompt", "chat"])
def test_end_of_sequence_first_is_one_item_error_not_a_mode_switch(via):
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        text = body.get("prompt") or body["messages"][-1]["content"]
        if "stop here" in text:
            return httpx.Response(
                200, json=eos_chat_body() if via == "chat" else eos_completion_body()
            )
        top = {"A": math.log(0.6), "B": math.log(0.3)}
        if via == "chat":
            return httpx.Response(200, json=chat_logprob_body(top))
        return httpx.Response(200, json=completion_logprob_body(top))

    def request(key: str, text: str) -> ChoiceRequest:
        if via == "chat":
            return ChoiceRequest(key, ("A", "B"), messages=({"role": "user", "content": text},))
        return ChoiceRequest(key, ("A", "B"), prompt=text)

    backend = make_backend(handler, concurrency=1)
    results = backend.choice_probs([request("eos", "stop here"), request("ok", "go on")])
    eos, ok = results
    assert eos.probs == {} and eos.text is None
    assert eos.error == (
        f"no next-token distribution from {URL}/{'chat/' if via == 'chat' else ''}completions: "
        "the server generated no token (end-of-sequence first)"
    )
    assert ok.error is None and ok.probs == pytest.approx({"A": 0.6, "B": 0.3})
    assert [b["max_tokens"] for b in bodies] == [1, 1]  # never a text-mode request
    assert not eos.no_logprobs  # a distribution was asked for and came back empty


def test_end_of_sequence_after_the_space_contributes_nothing():
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["prompt"].endswith(" "):
            return httpx.Response(200, json=eos_completion_body())
        top = {" ": math.log(0.5), "3": math.log(0.2)}
        return httpx.Response(200, json=completion_logprob_body(top))

    [result] = make_backend(handler).choice_probs([ChoiceRequest("c", ("3",), prompt="Score:")])
    assert result.error is None and result.probs == pytest.approx({"3": 0.2})
