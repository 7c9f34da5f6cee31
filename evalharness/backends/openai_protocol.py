"""The OpenAI-compatible wire protocol as pure functions: request bodies in, parsed answers out.

Nothing here opens a connection: :mod:`evalharness.backends.openai_compat` sends what these
functions build and hands them what the server answered, so every rule below is tested
without a network. Choice probabilities are read from the first generated token's
``top_logprobs``; with a plain prompt a bare space token among the likely next tokens is
followed (:func:`space_tokens`, :func:`add_followed`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalharness.backends.base import Message
from evalharness.errors import BackendError

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
