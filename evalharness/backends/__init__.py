"""Backends: one class per way of running a model, found in a registry by the spec's kind.

:data:`REGISTRY` maps a spec kind to a :class:`BackendKind`: how to read that backend's own
typed, frozen options (:class:`HFOptions`, :class:`OpenAIOptions`, :class:`FakeOptions`) out
of the general :class:`BackendOptions` a run builds, and how to load it with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from evalharness.backends.base import Backend
from evalharness.errors import ModelError, did_you_mean
from evalharness.specs import ModelSpec, parse_spec


@dataclass(frozen=True)
class BackendOptions:
    """Options for loading any backend; each backend's kind reads the ones it knows."""

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
    allow_hub: bool | None = None  # hub downloads; None: the EVALHARNESS_ALLOW_HUB switch


@dataclass(frozen=True)
class HFOptions:
    """What a local transformers model (builtin, gguf, hf) is loaded with."""

    batch_size: int | str = 8
    prefix_cache: bool = True
    trust_remote_code: bool = False
    threads: int | None = None
    quantize: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    allow_hub: bool | None = None

    @classmethod
    def of(cls, spec: ModelSpec, options: BackendOptions) -> HFOptions:
        """The HF options among a run's backend options (the fields of the same names)."""
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class OpenAIOptions:
    """What an OpenAI-compatible server backend is built with."""

    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 4
    max_retries: int = 4
    timeout: float = 60.0
    chat: bool = True
    extra_body: tuple[tuple[str, str], ...] = ()  # (field, JSON value)

    @classmethod
    def of(cls, spec: ModelSpec, options: BackendOptions) -> OpenAIOptions:
        """The server options among a run's backend options (``chat`` from the spec's
        ``?chat=`` unless set)."""
        chat = spec.param("chat", "1") == "1" if options.chat is None else options.chat
        same = {f.name: getattr(options, f.name) for f in fields(cls) if hasattr(options, f.name)}
        return cls(**{**same, "chat": chat, "extra_body": options.server_extra})


@dataclass(frozen=True)
class FakeOptions:
    """The scripted backend takes its whole behaviour from the spec: no options."""

    @classmethod
    def of(cls, spec: ModelSpec, options: BackendOptions) -> FakeOptions:
        """No options to read."""
        return cls()


def _load_fake(spec: ModelSpec, options: Any) -> Backend:
    from evalharness.backends.fake import FakeBackend

    return FakeBackend(spec)


def _load_openai(spec: ModelSpec, options: OpenAIOptions) -> Backend:
    from evalharness.backends.openai_compat import OpenAICompatBackend

    settings = {f.name: getattr(options, f.name) for f in fields(options)}
    settings["extra_body"] = {k: json.loads(v) for k, v in options.extra_body}
    return OpenAICompatBackend(spec, **settings)


def _load_hf(spec: ModelSpec, options: HFOptions) -> Backend:
    from evalharness.backends.hf_load import load_hf_backend

    return load_hf_backend(spec, **{f.name: getattr(options, f.name) for f in fields(options)})


@dataclass(frozen=True)
class BackendKind:
    """One registered kind: its typed options and its loader."""

    options: Callable[[ModelSpec, BackendOptions], Any]
    load: Callable[[ModelSpec, Any], Backend]


REGISTRY: dict[str, BackendKind] = {
    "fake": BackendKind(FakeOptions.of, _load_fake),
    "openai": BackendKind(OpenAIOptions.of, _load_openai),
    "builtin": BackendKind(HFOptions.of, _load_hf),
    "gguf": BackendKind(HFOptions.of, _load_hf),
    "hf": BackendKind(HFOptions.of, _load_hf),
}
"""Spec kind -> how to load it."""


def backend_kind(kind: str) -> BackendKind:
    """The registered kind; ModelError with a "did you mean" and the list for an unknown one."""
    if kind not in REGISTRY:
        raise ModelError(f"no backend for model kind {kind!r}{did_you_mean(kind, list(REGISTRY))}")
    return REGISTRY[kind]


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
    kind = backend_kind(spec.kind)
    backend = kind.load(spec, kind.options(spec, options))
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
