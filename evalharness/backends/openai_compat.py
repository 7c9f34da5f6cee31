"""A backend for any OpenAI-compatible server (vLLM, TGI, llama.cpp server).

Requests are built and responses parsed by pure functions (``build_chat_request``,
``build_completion_request``, ``parse_generation``, ``parse_choice_logprobs``
and ``parse_last_verdict``, shared with the local judge in ``evalharness.judge.parse``);
:class:`OpenAICompatBackend` only wires them to the transport in
:mod:`evalharness.backends.http_client`.

Choice probabilities are read from the first generated token's ``top_logprobs``. With chat
messages the ``answer_prefix`` cannot be placed inside the assistant turn portably, so the
last user message gets one more line asking for the bare choice (see
:func:`with_choice_instruction`), and the first token of the reply is read. With a plain
``prompt`` the text ``prompt + answer_prefix`` is sent to ``/completions`` exactly; when a
bare space token is among the likely next tokens (``"Score:"`` → ``" "`` → ``"3"``), the
choices are also read after it and that path is added: P(c) += P(" ") · P(c | " ").
Servers that return no logprobs at all are asked for a short text instead, whose last
verdict is parsed (text mode). ``extra_body`` fields (``repeat_penalty`` for llama.cpp) are
merged into every request.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from evalharness.backends.base import (
    Backend,
    BackendInfo,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
    Message,
    Progress,
)
from evalharness.backends.http_client import HttpTransport
from evalharness.errors import BackendError, ModelError
from evalharness.judge.parse import parse_last_verdict
from evalharness.specs import ModelSpec

log = logging.getLogger(__name__)

TEXT_MODE_MAX_TOKENS = 16
"""Tokens generated in text mode: room for "Score: 4" and a few words around it."""

TOKEN_MARKERS = "Ġ▁"
"""Leading-space markers of byte-level BPE (GPT-2 style) and SentencePiece vocabularies."""

SPACE_CHARS = " \t" + TOKEN_MARKERS
"""What a token may be made of to count as a bare space worth following."""

MARKER_TO_SPACE = str.maketrans(dict.fromkeys(TOKEN_MARKERS, " "))

FOLLOW_FLOOR = 0.01
"""Least probability of a space token for the choices after it to be read (one request)."""

FOLLOW_MAX = 2
"""Most space tokens followed per choice read (the most likely ones)."""

HARNESS_FIELDS = frozenset(
    {"model", "messages", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop",
     "logprobs", "top_logprobs", "n", "stream", "echo"}
)  # fmt: skip
"""Request fields the backend sets itself; ``extra_body`` may not replace them."""

FINISH_REASONS = {
    "stop": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
}


class ResponseFormatError(ValueError):
    """A server answer that lacks a field the harness needs; the message names the field."""


class NoLogprobsError(ResponseFormatError):
    """A server answer without logprobs (the server does not support them)."""


@dataclass(frozen=True)
class ParsedGeneration:
    """The parts of a completion response the harness keeps."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str
    note: str | None = None


# ---------------------------------------------------------------------------- requests


def _sampling_body(
    model: str,
    max_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    stop: Sequence[str],
) -> dict[str, Any]:
    """The fields every generation request carries."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
    }
    if seed is not None:
        body["seed"] = seed
    if stop:
        body["stop"] = list(stop)
    return body


def build_chat_request(
    model: str,
    messages: Sequence[Message],
    *,
    max_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    """The JSON body of a ``POST /chat/completions`` request."""
    body = _sampling_body(model, max_tokens, temperature, top_p, seed, stop)
    body["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
    if top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = top_logprobs
    return body


def build_completion_request(
    model: str,
    prompt: str,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] = (),
    logprobs: int | None = None,
) -> dict[str, Any]:
    """The JSON body of a ``POST /completions`` request (one prompt, never a list)."""
    body = _sampling_body(model, max_tokens, temperature, top_p, seed, stop)
    body["prompt"] = prompt
    if logprobs:
        body["logprobs"] = logprobs
    return body


def choice_instruction(choices: Sequence[str], answer_prefix: str) -> str:
    """The line appended to the last user message when reading choice probabilities."""
    label = answer_prefix.strip().rstrip(":").strip()
    what = f'your "{label}"' if label else "your answer"
    return f"Reply with {what} only: exactly one of {', '.join(choices)}, and nothing else."


def with_choice_instruction(
    messages: Sequence[Message], choices: Sequence[str], answer_prefix: str
) -> tuple[Message, ...]:
    """``messages`` with :func:`choice_instruction` appended to the last user message.

    When the conversation does not end with a user message, the instruction becomes a new
    user message.
    """
    out = [dict(m) for m in messages]
    line = choice_instruction(choices, answer_prefix)
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = f"{out[-1]['content'].rstrip()}\n\n{line}"
    else:
        out.append({"role": "user", "content": line})
    return tuple(out)


def transcript(messages: Sequence[Message]) -> str:
    """A plain-text rendering of a chat, ending with an open assistant turn."""
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join([*parts, "Assistant:"])


# ---------------------------------------------------------------------------- responses


def _first_choice(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ResponseFormatError(f"malformed response: expected a JSON object, got {body!r:.80}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ResponseFormatError(
            f"malformed response: no choices[0] (keys: {', '.join(sorted(body)) or 'none'})"
        )
    first = choices[0]
    if not isinstance(first, dict):
        raise ResponseFormatError("malformed response: choices[0] is not an object")
    return first


def _usage(body: dict[str, Any]) -> tuple[int, int, str | None]:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return 0, 0, "response has no usage; token counts set to 0"
    prompt, output = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(output, int):
        return prompt, output, None
    note = "response usage lacks prompt_tokens/completion_tokens; missing counts set to 0"
    return (
        prompt if isinstance(prompt, int) else 0,
        output if isinstance(output, int) else 0,
        note,
    )


def map_finish_reason(reason: Any) -> str:
    """``"stop"`` or ``"length"`` for the servers' many spellings; anything else kept."""
    if reason is None:
        return "unknown"
    return FINISH_REASONS.get(str(reason), str(reason))


def parse_generation(body: Any, chat: bool) -> ParsedGeneration:
    """Text, token counts and finish reason of a chat or completions response.

    Raises :class:`ResponseFormatError` naming the missing field.
    """
    first = _first_choice(body)
    if chat:
        message = first.get("message")
        if not isinstance(message, dict) or "content" not in message:
            raise ResponseFormatError("malformed response: no choices[0].message.content")
        text = message["content"]
        text = "" if text is None else text
        where = "choices[0].message.content"
    else:
        text = first.get("text")
        where = "choices[0].text"
    if not isinstance(text, str):
        raise ResponseFormatError(f"malformed response: {where} is not a string")
    prompt_tokens, output_tokens, note = _usage(body)
    return ParsedGeneration(
        text, prompt_tokens, output_tokens, map_finish_reason(first.get("finish_reason")), note
    )


def normalize_token(token: str) -> str:
    """A token without its leading whitespace and BPE/SentencePiece space markers."""
    return token.lstrip().lstrip(TOKEN_MARKERS).lstrip()


def parse_top_logprobs(body: Any, chat: bool) -> dict[str, float]:
    """Token → logprob at the first generated position (the generated token included).

    Empty when the server generated no token at all (it stopped at once: llama.cpp answers
    an end-of-sequence first token with an empty list). Raises :class:`NoLogprobsError` only
    when the response lacks the logprobs structure itself (the server does not give them),
    and :class:`ResponseFormatError` when it is malformed.
    """
    first = _first_choice(body)
    logprobs = first.get("logprobs")
    if logprobs is None:
        raise NoLogprobsError("response has no choices[0].logprobs (server returned none)")
    if not isinstance(logprobs, dict):
        raise ResponseFormatError("malformed response: choices[0].logprobs is not an object")
    table: dict[str, float] = {}
    if chat:
        content = logprobs.get("content")
        if content is None:
            raise NoLogprobsError("response has no choices[0].logprobs.content")
        if not isinstance(content, list):
            raise ResponseFormatError(
                "malformed response: choices[0].logprobs.content is not a list"
            )
        if not content:
            return table
        entry = content[0]
        if not isinstance(entry, dict):
            raise ResponseFormatError(
                "malformed response: choices[0].logprobs.content[0] is not an object"
            )
        top = entry.get("top_logprobs") or []
        if not isinstance(top, list):
            raise ResponseFormatError(
                "malformed response: choices[0].logprobs.content[0].top_logprobs is not a list"
            )
        for item in [*top, entry]:
            if isinstance(item, dict) and isinstance(item.get("token"), str):
                value = item.get("logprob")
                if isinstance(value, int | float):
                    table.setdefault(item["token"], float(value))
    else:
        top = logprobs.get("top_logprobs")
        if top is None:
            raise NoLogprobsError("response has no choices[0].logprobs.top_logprobs")
        if not isinstance(top, list):
            raise ResponseFormatError(
                "malformed response: choices[0].logprobs.top_logprobs is not a list"
            )
        if not top:
            return table
        position = top[0] or {}
        if not isinstance(position, dict):
            raise ResponseFormatError(
                "malformed response: choices[0].logprobs.top_logprobs[0] is not an object"
            )
        for token, value in position.items():
            if isinstance(value, int | float):
                table.setdefault(str(token), float(value))
        tokens, token_logprobs = logprobs.get("tokens"), logprobs.get("token_logprobs")
        if isinstance(tokens, list) and isinstance(token_logprobs, list) and tokens:
            value = token_logprobs[0] if token_logprobs else None
            if isinstance(tokens[0], str) and isinstance(value, int | float):
                table.setdefault(tokens[0], float(value))
    return table


def match_choices(table: dict[str, float], choices: Sequence[str]) -> dict[str, float]:
    """P(choice) from a token → logprob table, summed over the tokens that spell it.

    Tokens match a choice after :func:`normalize_token` (``"3"``, ``" 3"``, ``"▁3"`` → ``"3"``).
    Every choice is a key (0.0 where absent).
    """
    probs = dict.fromkeys(choices, 0.0)
    for token, logprob in table.items():
        key = normalize_token(token)
        if key in probs and logprob > -math.inf:
            probs[key] += math.exp(logprob)
    return probs


def parse_choice_logprobs(body: Any, chat: bool, choices: Sequence[str]) -> dict[str, float]:
    """P(choice) at the first generated token of a response (see :func:`match_choices`).

    All 0.0 when the server generated no token. Raises :class:`NoLogprobsError` when the
    response carries no logprobs and :class:`ResponseFormatError` when it is malformed.
    """
    return match_choices(parse_top_logprobs(body, chat), choices)


def space_tokens(
    table: dict[str, float], floor: float = FOLLOW_FLOOR, limit: int = FOLLOW_MAX
) -> list[tuple[str, float]]:
    """The space-only tokens of a table worth following: (text to append, probability).

    A token made only of spaces, tabs and the ``Ġ`` / ``▁`` space markers counts (markers
    become spaces in the text); line breaks do not. Spellings of the same text are summed;
    those below ``floor`` are dropped; at most ``limit``, the most likely first.
    """
    found: dict[str, float] = {}
    for token, logprob in table.items():
        if not token or token.strip(SPACE_CHARS):
            continue
        text = token.translate(MARKER_TO_SPACE)
        found[text] = found.get(text, 0.0) + math.exp(logprob)
    ranked = sorted(found.items(), key=lambda kv: kv[1], reverse=True)
    return [(text, p) for text, p in ranked if p >= floor][:limit]


def add_followed(
    probs: dict[str, float], p_space: float, after: dict[str, float]
) -> dict[str, float]:
    """``probs`` plus the path through a space token: P(c) += P(space) · P(c | space)."""
    return {c: p + p_space * after.get(c, 0.0) for c, p in probs.items()}


def check_extra_body(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extra`` as a JSON-ready dict; BackendError for a field the backend sets itself."""
    out = dict(extra or {})
    for key in out:
        if not isinstance(key, str):
            raise BackendError(f"server_extra: field names must be strings, got {key!r}")
        if key in HARNESS_FIELDS:
            raise BackendError(
                f"server_extra: {key!r} is set by the harness itself and cannot be overridden"
            )
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"server_extra: values must be JSON data ({exc})") from exc
    return out


# ---------------------------------------------------------------------------- backend


class OpenAICompatBackend(Backend):
    """A model served behind an OpenAI-compatible HTTP API, on one or several replicas.

    ``chat=True`` sends chat messages to ``/chat/completions`` (the server applies its chat
    template); ``chat=False`` renders them as a plain transcript for ``/completions``.
    ``text_mode=None`` reads logprobs, and reads one verdict as text when its response
    carries no logprobs structure at all (that result has ``mode="text"``; the next request
    asks for logprobs again); ``True`` always uses text
    mode; ``False`` never does. ``max_retries`` is the most attempts per request.
    ``extra_body`` holds server-specific request fields merged into every request (for
    llama.cpp, ``{"repeat_penalty": 1.0}``); it may not set a field the backend sets itself.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 4,
        max_retries: int = 4,
        timeout: float = 60.0,
        chat: bool = True,
        top_logprobs: int = 20,
        text_mode: bool | None = None,
        backoff_base: float = 0.5,
        client: httpx.Client | None = None,
        max_backoff: float = 20.0,
        verify_model: bool = True,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if spec.kind != "openai" or not spec.urls:
            raise ModelError(f"{spec.raw!r} is not an openai:MODEL@URL spec")
        if top_logprobs < 1:
            raise BackendError(f"top_logprobs must be at least 1, got {top_logprobs}")
        self.extra_body = check_extra_body(extra_body)
        api_key = os.environ.get(api_key_env) if api_key_env else None
        self.model = spec.target
        self.chat = chat
        self.top_logprobs = top_logprobs
        self.text_mode = text_mode
        self._verify = verify_model
        self._verified = False
        self._verify_lock = threading.Lock()
        self._noted: set[str] = set()
        self.transport = HttpTransport(
            spec.urls,
            api_key=api_key,
            concurrency=concurrency,
            max_tries=max_retries,
            timeout=timeout,
            backoff_base=backoff_base,
            max_backoff=max_backoff,
            client=client,
        )
        self.info = BackendInfo(
            spec=spec.raw,
            resolved=f"openai:{self.model}",
            has_chat_template=chat,
            details={
                "urls": list(spec.urls),
                "chat": chat,
                "concurrency": concurrency,
                "max_retries": max_retries,
                "timeout": timeout,
                "top_logprobs": top_logprobs,
                "text_mode": text_mode,
                "api_key_env": api_key_env,
                "api_key_set": bool(api_key),
                "extra_body": json.loads(self.transport.redact(json.dumps(self.extra_body))),
            },
        )

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(model={self.model!r}, urls={list(self.transport.pool.urls)})"

    # -- public interface

    def render(self, messages: Sequence[Message] | None, prompt: str | None) -> str:
        """Chat messages as JSON (the server renders its template), or the completion text."""
        if messages is not None and not self.chat:
            return transcript(messages)
        return super().render(messages, prompt)

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Generate text for each request, ``concurrency`` at a time, in order."""
        self._check_model()
        return self.transport.map(self._generate_one, list(requests), progress)

    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        """Read each request's choice probabilities (or a parsed verdict in text mode)."""
        self._check_model()
        return self.transport.map(self._choice_one, list(requests), progress)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.transport.close()

    # -- model check

    def _check_model(self) -> None:
        """Raise BackendError once if the server lists its models and ours is not among them."""
        if not self._verify or self._verified:
            return
        with self._verify_lock:
            if self._verified:
                return
            status, body = self.transport.get_json("/models")
            self._verified = True
            data = body.get("data") if isinstance(body, dict) else None
            if status != 200 or not isinstance(data, list):
                return  # no listing to check against; requests will tell
            ids = [str(m.get("id")) for m in data if isinstance(m, dict) and "id" in m]
            if ids and self.model not in ids:
                raise BackendError(
                    f"model {self.model!r} is not served at {self.transport.pool.urls[0]}; "
                    f"served: {', '.join(ids)}"
                )

    # -- one item

    def _request(
        self,
        messages: Sequence[Message] | None,
        prompt: str | None,
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = 0,
        stop: Sequence[str] = (),
        logprobs: int | None = None,
    ) -> tuple[str, dict[str, Any], bool]:
        """(path, body, is_chat) for messages or a prompt."""
        if messages is not None and self.chat:
            body = build_chat_request(
                self.model,
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                stop=stop,
                top_logprobs=logprobs,
            )
            body.update(self.extra_body)
            return "/chat/completions", body, True
        text = self.render(messages, prompt)
        body = build_completion_request(
            self.model,
            text,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            logprobs=logprobs,
        )
        body.update(self.extra_body)
        return "/completions", body, False

    def _note(self, note: str | None) -> None:
        if note and note not in self._noted:
            self._noted.add(note)
            log.warning("%s: %s", self.model, note)

    def _generate_one(self, req: GenerationRequest) -> GenerationResult:
        start = time.perf_counter()
        rendered = self.render(req.messages, req.prompt)

        def failed(error: str) -> GenerationResult:
            return GenerationResult(
                "",
                0,
                0,
                "error",
                time.perf_counter() - start,
                rendered,
                self.transport.redact(error),
            )

        if (req.messages is None) == (req.prompt is None):
            return failed(f"request {req.key!r} must set exactly one of messages or prompt")
        if req.max_new_tokens < 1:
            return failed(f"request {req.key!r}: max_new_tokens must be at least 1")
        path, body, is_chat = self._request(
            req.messages,
            req.prompt,
            max_tokens=req.max_new_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            stop=req.stop,
        )
        reply = self.transport.post_json(path, body)
        if reply.error is not None:
            return failed(reply.error)
        try:
            parsed = parse_generation(reply.body, is_chat)
        except ResponseFormatError as exc:
            return failed(f"{exc} (from {reply.url})")
        self._note(parsed.note)
        return GenerationResult(
            text=parsed.text,
            prompt_tokens=parsed.prompt_tokens,
            output_tokens=parsed.output_tokens,
            finish_reason=parsed.finish_reason,
            seconds=time.perf_counter() - start,
            rendered_prompt=rendered,
        )

    def _choice_input(self, req: ChoiceRequest) -> tuple[tuple[Message, ...] | None, str | None]:
        """The messages (chat) or exact prompt (completions) sent for a choice request."""
        if req.messages is not None and self.chat:
            return with_choice_instruction(req.messages, req.choices, req.answer_prefix), None
        base = transcript(req.messages) if req.messages is not None else (req.prompt or "")
        if req.messages is not None and req.answer_prefix:
            return None, f"{base} {req.answer_prefix}"
        return None, base + req.answer_prefix

    def _choice_failed(
        self, rendered: str, error: str, start: float, text: str | None = None
    ) -> ChoiceResult:
        seconds = time.perf_counter() - start
        error = self.transport.redact(error)
        return ChoiceResult({}, rendered, text=text, error=error, seconds=seconds)

    def _choice_one(self, req: ChoiceRequest) -> ChoiceResult:
        start = time.perf_counter()
        if (req.messages is None) == (req.prompt is None):
            error = f"request {req.key!r} must set exactly one of messages or prompt"
            return self._choice_failed("", error, start)
        if not req.choices:
            return self._choice_failed("", f"request {req.key!r} has no choices", start)
        messages, prompt = self._choice_input(req)
        rendered = super().render(messages, prompt)
        if self.text_mode:
            return self._choice_text(req, messages, prompt, rendered, start)
        path, body, is_chat = self._request(
            messages, prompt, max_tokens=1, logprobs=self.top_logprobs
        )
        reply = self.transport.post_json(path, body)
        if reply.error is not None:
            return self._choice_failed(rendered, reply.error, start)
        try:
            table = parse_top_logprobs(reply.body, is_chat)
        except NoLogprobsError as exc:
            if self.text_mode is False:
                error = f"{exc} (from {reply.url}); text_mode is off"
                return self._choice_failed(rendered, error, start)
            # Only this response lacks logprobs: this record is read in text mode (and says
            # so in its ``mode``); the next request asks for logprobs again.
            if "text_mode_auto" not in self.info.details:
                self.info.details["text_mode_auto"] = True
                log.warning("%s returned no logprobs: reading that verdict as text", self.model)
            return self._choice_text(req, messages, prompt, rendered, start)
        except ResponseFormatError as exc:
            return self._choice_failed(rendered, f"{exc} (from {reply.url})", start)
        if not table:
            error = (
                f"no next-token distribution from {reply.url}: the server generated no token "
                "(end-of-sequence first)"
            )
            return self._choice_failed(rendered, error, start)
        probs = match_choices(table, req.choices)
        # A chat reply opens a fresh assistant turn, asked for the bare choice: its first
        # token is the answer. Only a raw prompt ("... Score:") continues mid-line.
        if not is_chat:
            for space, p_space in space_tokens(table):
                after = self._choices_after(f"{prompt or ''}{space}", req.choices)
                if isinstance(after, str):
                    return self._choice_failed(rendered, f"{after} (after {space!r})", start)
                probs = add_followed(probs, p_space, after)
        return ChoiceResult(probs, rendered, seconds=time.perf_counter() - start)

    def _choices_after(self, text: str, choices: Sequence[str]) -> dict[str, float] | str:
        """P(choice) as the next token after the completion prompt ``text``, or an error.

        A server that generates no token there gives all 0.0.
        """
        path, body, _ = self._request(None, text, max_tokens=1, logprobs=self.top_logprobs)
        reply = self.transport.post_json(path, body)
        if reply.error is not None:
            return reply.error
        try:
            return parse_choice_logprobs(reply.body, False, choices)
        except ResponseFormatError as exc:
            return f"{exc} (from {reply.url})"

    def _choice_text(
        self,
        req: ChoiceRequest,
        messages: tuple[Message, ...] | None,
        prompt: str | None,
        rendered: str,
        start: float,
    ) -> ChoiceResult:
        """Text mode: generate a few tokens and take the last verdict in them."""
        path, body, is_chat = self._request(messages, prompt, max_tokens=TEXT_MODE_MAX_TOKENS)
        reply = self.transport.post_json(path, body)
        if reply.error is not None:
            return self._choice_failed(rendered, reply.error, start)
        try:
            text = parse_generation(reply.body, is_chat).text
        except ResponseFormatError as exc:
            return self._choice_failed(rendered, f"{exc} (from {reply.url})", start)
        verdict = parse_last_verdict(text, req.choices)
        if verdict is None:
            error = f"no verdict among {','.join(req.choices)} in: {text[:80]!r}"
            return self._choice_failed(rendered, error, start, text=text)
        probs = {c: float(c == verdict) for c in req.choices}
        seconds = time.perf_counter() - start
        return ChoiceResult(probs, rendered, text=text, seconds=seconds, mode="text")
