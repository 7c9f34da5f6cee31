"""Content-addressed keys of the result cache, and the fingerprints of models and judges.

A key is the sha256 of the canonical JSON (sorted keys, no spaces, UTF-8, no NaN) of
``{"format", "kind", "fingerprint", "inputs"}``: anything that could change the result is in
the key, so a changed input is a different entry, never a stale hit.

* generation entries: the model's fingerprint, the prompt's messages, the generation settings;
* judgment entries: the judge's fingerprint, the rubric and template versions, and the exact
  rendered inputs the judge saw.

Fingerprints are JSON objects, readable in the stored entries:

* local weights: ``{"type": "weights", "sha256": ...}`` over the content of every file that
  shapes the output (weights, config, tokenizer, chat template), each file hashed once and
  remembered by (path, size, mtime) (:func:`evalharness.modelstore.file_sha256`);
* a server model: base URL, model id and the revision the server reports, if any;
* a scripted (``fake:``) model: its spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalharness.modelstore import file_sha256

KEY_FORMAT = 1
GENERATION = "generation"
JUDGMENT = "judgment"

Fingerprint = dict[str, Any]


def canonical_json(value: Any) -> str:
    """Canonical JSON text of ``value``; raises ``ValueError`` for NaN or non-JSON values."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except TypeError as exc:
        raise ValueError(f"cache keys and values must be JSON: {exc}") from exc


def entry_key(kind: str, fingerprint: Mapping[str, Any] | str, inputs: Any) -> str:
    """The sha256 key of an entry of ``kind`` for ``fingerprint`` and ``inputs``."""
    payload = {"format": KEY_FORMAT, "kind": kind, "fingerprint": fingerprint, "inputs": inputs}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def generation_key(
    model: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
) -> str:
    """Key of one generation: model fingerprint, chat messages, generation settings."""
    return entry_key(GENERATION, model, {"messages": list(messages), "settings": dict(settings)})


def judgment_key(
    judge: Mapping[str, Any],
    rubric_version: str,
    template_version: str,
    rendered: Any,
) -> str:
    """Key of one judgment: judge fingerprint, rubric and template versions, rendered inputs."""
    inputs = {"rubric": rubric_version, "template": template_version, "rendered": rendered}
    return entry_key(JUDGMENT, judge, inputs)


def weights_fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """Fingerprint of local model files by content (file names kept: their roles differ).

    Pass every file that shapes the output: weights, config, tokenizer, chat template.
    """
    if not paths:
        raise ValueError("weights_fingerprint needs at least one file")
    files = sorted((Path(p).name, file_sha256(Path(p))) for p in paths)
    digest = hashlib.sha256(canonical_json(files).encode("utf-8")).hexdigest()
    return {"type": "weights", "sha256": digest}


def server_fingerprint(base_url: str, model: str, revision: str | None = None) -> Fingerprint:
    """Fingerprint of a model behind an OpenAI-compatible server."""
    return {"type": "server", "base_url": base_url.rstrip("/"), "model": model,
            "revision": revision}  # fmt: skip


def fake_fingerprint(spec: str | Mapping[str, Any]) -> Fingerprint:
    """Fingerprint of a scripted (``fake:``) model: its full spec."""
    return {"type": "fake", "spec": spec if isinstance(spec, str) else dict(spec)}
