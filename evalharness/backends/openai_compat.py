"""A backend for any OpenAI-compatible server (vLLM, TGI, llama.cpp server).

Requests are built and responses parsed by the pure functions of
:mod:`evalharness.backends.openai_protocol`; :class:`OpenAICompatBackend` only wires them to
the transport in :mod:`evalharness.backends.http_client`.

Choice probabilities are read from the first generated token's ``top_logprobs``. With chat
messages the ``answer_prefix`` cannot be placed inside the assistant turn portably
(``prefills_answer`` is False): the judge has asked for the bare choice in the messages,
which are sent as they are, and the first token of the reply is read. With a plain
``prompt`` the text ``prompt + answer_prefix`` is sent to ``/completions`` exactly; when a
bare space token is among the likely next tokens (``"Score:"`` → ``" "`` → ``"3"``), the
choices are also read after it and that path is added: P(c) += P(" ") · P(c | " ").
A response without logprobs is reported as such (``ChoiceResult.no_logprobs``); the judge
then reads that verdict as text. ``extra_body`` fields (``repeat_penalty`` for llama.cpp)
are merged into every request.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
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
from evalharness.backends.openai_protocol import (
    NoLogprobsError,
    ResponseFormatError,
    add_followed,
    build_chat_request,
    build_completion_request,
    check_extra_body,
    match_choices,
    parse_choice_logprobs,
    parse_generation,
    parse_top_logprobs,
    space_tokens,
    transcript,
)
from evalharness.errors import BackendError, ModelError
from evalharness.specs import ModelSpec

log = logging.getLogger(__name__)


class OpenAICompatBackend(Backend):
    """A model served behind an OpenAI-compatible HTTP API, on one or several replicas.

    ``chat=True`` sends chat messages to ``/chat/completions`` (the server applies its chat
    template); ``chat=False`` renders them as a plain transcript for ``/completions``.
    A response that carries no logprobs structure at all is reported with
    ``no_logprobs=True`` (the judge reads that verdict as text; the next request asks for
    logprobs again). ``max_retries`` is the most attempts per request.
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
        self.prefills_answer = not chat
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
        """Read each request's choice probabilities (``no_logprobs`` where there were none)."""
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
        """The messages (chat, as the judge wrote them) or exact prompt (completions) sent for
        a choice request."""
        if req.messages is not None and self.chat:
            return req.messages, None
        base = transcript(req.messages) if req.messages is not None else (req.prompt or "")
        if req.messages is not None and req.answer_prefix:
            return None, f"{base} {req.answer_prefix}"
        return None, base + req.answer_prefix

    def _choice_failed(
        self, rendered: str, error: str, start: float, no_logprobs: bool = False
    ) -> ChoiceResult:
        seconds = time.perf_counter() - start
        error = self.transport.redact(error)
        return ChoiceResult({}, rendered, error=error, seconds=seconds, no_logprobs=no_logprobs)

    def _choice_one(self, req: ChoiceRequest) -> ChoiceResult:
        start = time.perf_counter()
        if (req.messages is None) == (req.prompt is None):
            error = f"request {req.key!r} must set exactly one of messages or prompt"
            return self._choice_failed("", error, start)
        if not req.choices:
            return self._choice_failed("", f"request {req.key!r} has no choices", start)
        messages, prompt = self._choice_input(req)
        rendered = super().render(messages, prompt)
        path, body, is_chat = self._request(
            messages, prompt, max_tokens=1, logprobs=self.top_logprobs
        )
        reply = self.transport.post_json(path, body)
        if reply.error is not None:
            return self._choice_failed(rendered, reply.error, start)
        try:
            table = parse_top_logprobs(reply.body, is_chat)
        except NoLogprobsError as exc:
            return self._choice_failed(rendered, f"{exc} (from {reply.url})", start, True)
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
