"""The result cache wired into the stages: a backend wrapper that answers from the cache.

:class:`CachedBackend` wraps a model (or stands in for one not yet loaded): each request is
looked up by its content key first, only the misses reach the model, and every result
without an error is stored. Generation requests of an answering model are ``generation``
entries (model fingerprint, the prompt's messages, the generation settings); every request
of a judge is a ``judgment`` entry (judge fingerprint, rubric and template versions, the
exact rendered request). A model whose identity (:class:`BackendInfo`) is cached too is
loaded only on its first miss, so a run whose answers are all cached loads no model.

Fingerprints (:func:`model_fingerprint`) include the harness version: local weights by
content, server models by base URL, model id and revision (``?revision=`` in the spec, if
given), scripted models by their full spec and a hash of the fake backend's source.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from evalharness.backends import BackendOptions, load_backend
from evalharness.backends.base import (
    Backend,
    BackendInfo,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
    Progress,
)
from evalharness.backends.devices import precision_tag
from evalharness.cache import (
    GENERATION,
    ResultCache,
    entry_key,
    fake_fingerprint,
    generation_key,
    judgment_key,
    server_fingerprint,
    weights_fingerprint,
)
from evalharness.config import RunConfig
from evalharness.errors import ModelError
from evalharness.progress import console
from evalharness.specs import parse_spec

SHAPING_FILES = (
    "*.safetensors", "*.bin", "*.gguf", "config.json", "generation_config.json", "tokenizer*",
    "special_tokens_map.json", "vocab*", "merges.txt", "*.jinja", "chat_template*",
)  # fmt: skip
"""The files of a local checkpoint whose content shapes its outputs."""


@dataclass
class CacheCounts:
    """Hits and misses of one run, per kind (``generation``, ``judgment``)."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, hits: int, misses: int) -> None:
        """Count ``hits`` and ``misses`` of ``kind``."""
        self.hits[kind] = self.hits.get(kind, 0) + hits
        self.misses[kind] = self.misses.get(kind, 0) + misses

    def to_dict(self) -> dict[str, dict[str, int]]:
        """``{kind: {"hits", "misses"}}``."""
        kinds = sorted(self.hits.keys() | self.misses.keys())
        return {k: {"hits": self.hits.get(k, 0), "misses": self.misses.get(k, 0)} for k in kinds}


def open_cache(config: RunConfig) -> ResultCache | None:
    """The run's result cache (``cache_dir``, else the default folder); None when off."""
    if not config.cache:
        return None
    return ResultCache(Path(config.cache_dir) if config.cache_dir else None)


def _source_hash(module: Any) -> str:
    return hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:16]


def model_fingerprint(spec_text: str, options: BackendOptions) -> dict[str, Any] | None:
    """What identifies a model's outputs, with the harness version; None when nothing
    stable does (a hub id without local files)."""
    from evalharness import __version__

    spec = parse_spec(spec_text)
    fingerprint: dict[str, Any]
    if spec.kind == "fake":
        from evalharness.backends import fake

        fingerprint = {**fake_fingerprint(spec.raw), "source": _source_hash(fake)}
    elif spec.kind == "openai":
        base = spec.urls[0] if spec.urls else ""
        fingerprint = {
            **server_fingerprint(base, spec.target, spec.param("revision")),
            "params": sorted(spec.params),
            "extra": list(options.server_extra),
        }
    else:
        from evalharness.modelstore import checkpoint_dir

        try:
            source, resolved, local = checkpoint_dir(spec, options.allow_hub)
        except ModelError:
            return None
        if not local:
            return None
        if resolved.startswith("sha256:"):  # a GGUF file: its content hash
            fingerprint = {"type": "weights", "sha256": resolved.removeprefix("sha256:")}
        else:
            files = sorted({p for g in SHAPING_FILES for p in Path(source).glob(g)})
            if not files:
                return None
            fingerprint = weights_fingerprint(files)
        fingerprint["precision"] = precision_tag(spec.kind, options.device, options.dtype)
        fingerprint["quantize"] = options.quantize or "none"
    return {**fingerprint, "harness": __version__}


def _from_dict(cls: type[Any], value: Any) -> Any:
    names = {f.name for f in fields(cls)}
    if not isinstance(value, dict) or not set(value) <= names:
        raise ValueError("not a result")
    return cls(**value)


class CachedBackend(Backend):
    """A backend answering from the result cache, loading the model on its first miss.

    ``role`` is ``generation`` (a model answering prompts) or ``judgment`` (a judge, whose
    ``generate`` calls are its text-mode verdicts). ``versions`` are the rubric and template
    versions a judge's keys hold.
    """

    def __init__(
        self,
        loader: Callable[[], Backend],
        cache: ResultCache,
        fingerprint: dict[str, Any],
        role: str,
        counts: CacheCounts,
        versions: tuple[str, str] = ("", ""),
        meta: dict[str, Any] | None = None,
    ) -> None:
        self._loader = loader
        self._inner: Backend | None = None
        self.cache = cache
        self.fingerprint = fingerprint
        self.role = role
        self.counts = counts
        self.versions = versions
        self.meta = meta or {}
        info_key = entry_key(GENERATION, fingerprint, {"backend_info": True})
        found = cache.lookup(GENERATION, info_key)
        self._report(found)
        try:
            info = BackendInfo(**found.value["info"])
            prefills = bool(found.value["prefills_answer"])
        except (KeyError, TypeError):
            inner = self._load()
            info, prefills = inner.info, inner.prefills_answer
            value = {"info": asdict(info), "prefills_answer": prefills}
            with contextlib.suppress(OSError, ValueError):
                cache.put(GENERATION, info_key, value, {"spec": info.spec})
        self.info = info
        self.prefills_answer = prefills

    @property
    def loaded(self) -> Backend | None:
        """The model, if it has been loaded."""
        return self._inner

    def _load(self) -> Backend:
        if self._inner is None:
            self._inner = self._loader()
        return self._inner

    def __getattr__(self, name: str) -> Any:
        # attributes of the model itself (its stats, a fake's call history): only once loaded
        if name.startswith("_") or self.__dict__.get("_inner") is None:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def _report(self, found: Any) -> None:
        if found.status == "corrupt":
            console.print(f"[yellow]cache: {found.detail}", highlight=False, soft_wrap=True)

    def _key(self, request: GenerationRequest | ChoiceRequest) -> str:
        data = asdict(request)
        data.pop("key")
        if self.role == GENERATION:
            assert isinstance(request, GenerationRequest)
            messages = [dict(m) for m in request.messages or ()] or [
                {"role": "completion", "content": request.prompt or ""}
            ]
            settings = {k: v for k, v in data.items() if k not in ("messages", "prompt")}
            return generation_key(self.fingerprint, messages, settings)
        data["call"] = type(request).__name__
        return judgment_key(self.fingerprint, self.versions[0], self.versions[1], data)

    def _answer(
        self,
        requests: Sequence[Any],
        cls: type[Any],
        compute: Callable[[Backend, list[Any], Progress | None], list[Any]],
        progress: Progress | None,
    ) -> list[Any]:
        keys = [self._key(r) for r in requests]
        results: list[Any] = [None] * len(requests)
        for i, key in enumerate(keys):
            found = self.cache.lookup(self.role, key)
            self._report(found)
            if found.hit:
                try:
                    results[i] = _from_dict(cls, found.value)
                except (TypeError, ValueError):
                    console.print(f"[yellow]cache: {key}: malformed value; treated as a miss")
        missing = [i for i, r in enumerate(results) if r is None]
        self.counts.add(self.role, len(requests) - len(missing), len(missing))
        if progress and len(requests) > len(missing):
            progress(len(requests) - len(missing))
        if missing:
            fresh = compute(self._load(), [requests[i] for i in missing], progress)
            for i, result in zip(missing, fresh, strict=True):
                results[i] = result
                if result.error is None:
                    try:
                        self.cache.put(self.role, keys[i], asdict(result), self.meta)
                    except (OSError, ValueError) as exc:
                        console.print(f"[yellow]cache: could not store an entry ({exc})")
        return results

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Cached generations; the misses generated by the model."""
        return self._answer(requests, GenerationResult, lambda b, r, p: b.generate(r, p), progress)

    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        """Cached choice probabilities; the misses read from the model."""
        return self._answer(requests, ChoiceResult, lambda b, r, p: b.choice_probs(r, p), progress)

    def render(self, messages: Any, prompt: str | None) -> str:
        """The model's rendering (loads it)."""
        return self._load().render(messages, prompt)

    def count_tokens(self, text: str) -> int:
        """The model's token count (loads it)."""
        return self._load().count_tokens(text)


def cached_backend(
    spec: str,
    options: BackendOptions,
    cache: ResultCache | None,
    role: str,
    counts: CacheCounts,
    versions: tuple[str, str] = ("", ""),
    meta: dict[str, Any] | None = None,
) -> Backend:
    """The model behind the cache (loaded lazily), or the model itself when the cache is
    off or nothing identifies the model stably."""
    fingerprint = model_fingerprint(spec, options) if cache is not None else None
    if cache is None or fingerprint is None:
        return load_backend(spec, options)
    return CachedBackend(
        lambda: load_backend(spec, options), cache, fingerprint, role, counts, versions, meta
    )


def unwrap(backend: Backend) -> Backend | None:
    """The loaded model behind ``backend`` (None when a cached stand-in never loaded it)."""
    return backend.loaded if isinstance(backend, CachedBackend) else backend


def record_counts(store: Any, counts: CacheCounts) -> None:
    """Add the stage's hits and misses to the manifest's ``cache`` counts."""
    if not counts.hits and not counts.misses:
        return
    old = store.read_manifest().get("cache", {})
    merged = {k: dict(v) for k, v in old.items() if isinstance(v, dict)}
    for kind, numbers in counts.to_dict().items():
        mine = merged.setdefault(kind, {"hits": 0, "misses": 0})
        for name, value in numbers.items():
            mine[name] = int(mine.get(name, 0)) + value
    store.update_manifest(cache=merged)
