"""Backends: one class per way of running a model, chosen by the spec's kind."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalharness.backends.base import Backend
from evalharness.specs import ModelSpec, parse_spec


@dataclass(frozen=True)
class BackendOptions:
    """Options for loading any backend; each backend reads the ones it knows."""

    batch_size: int | str = 8  # or "auto" (local models: back off on out-of-memory)
    prefix_cache: bool = True
    trust_remote_code: bool = False
    threads: int | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 4
    max_retries: int = 4
    timeout: float = 60.0
    chat: bool | None = None
    quantize: str | None = None
    server_extra: tuple[tuple[str, str], ...] = ()  # (field, JSON value): see freeze_extra
    device: str = "auto"  # local models: auto | cpu | cuda | cuda:N | mps (backends.devices)
    dtype: str = "auto"  # local models: auto | float32 | bfloat16 | float16


def freeze_extra(extra: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Extra request fields as hashable ``(field, JSON-encoded value)`` pairs, sorted."""
    return tuple(sorted((str(k), json.dumps(v, sort_keys=True)) for k, v in (extra or {}).items()))


_LOADED: dict[tuple[str, BackendOptions], Backend] = {}


def load_backend(spec: ModelSpec | str, options: BackendOptions | None = None) -> Backend:
    """Load (or reuse, within this process) the backend for a spec."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    options = options or BackendOptions()
    key = (spec.raw, options)
    if key in _LOADED:
        return _LOADED[key]
    backend: Backend
    if spec.kind == "fake":
        from evalharness.backends.fake import FakeBackend

        backend = FakeBackend(spec)
    elif spec.kind == "openai":
        from evalharness.backends.openai_compat import OpenAICompatBackend

        backend = OpenAICompatBackend(
            spec,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            max_retries=options.max_retries,
            timeout=options.timeout,
            chat=spec.param("chat", "1") == "1" if options.chat is None else options.chat,
            extra_body={k: json.loads(v) for k, v in options.server_extra},
        )
    else:
        from evalharness.backends.hf_load import load_hf_backend

        backend = load_hf_backend(
            spec,
            batch_size=options.batch_size,
            prefix_cache=options.prefix_cache,
            trust_remote_code=options.trust_remote_code,
            threads=options.threads,
            quantize=options.quantize,
            device=options.device,
            dtype=options.dtype,
        )
    _LOADED[key] = backend
    return backend


def clear_loaded() -> None:
    """Forget loaded backends (tests)."""
    for backend in _LOADED.values():
        backend.close()
    _LOADED.clear()


def release_backend(spec: ModelSpec | str, options: BackendOptions | None = None) -> None:
    """Drop a loaded backend so its memory can be freed (the next load reloads it)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    backend = _LOADED.pop((spec.raw, options or BackendOptions()), None)
    if backend is not None:
        backend.close()
