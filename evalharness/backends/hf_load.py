"""Loading a local model with transformers: checkpoint, device placement, precision."""

from __future__ import annotations

import time
from typing import Any

import torch

from evalharness.backends.base import BackendInfo
from evalharness.backends.devices import input_device, resolve_device, resolve_dtype, torch_dtype
from evalharness.backends.hf import HFBackend
from evalharness.errors import ModelError
from evalharness.modelstore import checkpoint_dir
from evalharness.specs import ModelSpec


def load_hf_backend(
    spec: ModelSpec,
    *,
    batch_size: int | str = 8,
    prefix_cache: bool = True,
    trust_remote_code: bool = False,
    threads: int | None = None,
    quantize: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    allow_hub: bool | None = None,
) -> HFBackend:
    """Load a builtin, gguf or hf spec with transformers on ``device`` in ``dtype``.

    ``device`` and ``dtype`` are resolved as :mod:`evalharness.backends.devices` says (CPU
    and float32 without a GPU). ``cuda`` or ``auto`` on a GPU machine places the model with
    ``device_map="auto"`` (split across the visible GPUs when it does not fit on one);
    ``cuda:N`` puts it on that GPU. ``quantize="int8"``: opt-in dynamic int8 quantization of
    the Linear layers (CPU only; faster, with a measured accuracy cost). ``batch_size="auto"``
    backs off from a large batch on out-of-memory errors (see :class:`HFBackend`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the harness shows its own progress
    if threads:
        torch.set_num_threads(threads)
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    if quantize == "int8" and resolved_device != "cpu":
        raise ModelError(f"quantize=int8 runs on the CPU only, not on {resolved_device!r}")
    if quantize not in (None, "none", "int8"):
        raise ModelError(f"unknown quantization {quantize!r} (valid: none, int8)")
    placement: dict[str, Any] = {}
    if resolved_device == "cuda":
        placement["device_map"] = "auto"
    elif resolved_device != "cpu":
        placement["device_map"] = {"": resolved_device}
    source, resolved, local = checkpoint_dir(spec, allow_hub)
    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, local_files_only=local, trust_remote_code=trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=torch_dtype(resolved_dtype),
            local_files_only=local,
            trust_remote_code=trust_remote_code,
            **placement,
        )
    except OSError as exc:
        raise ModelError(f"could not load {spec.raw!r} from {source}: {exc}") from exc
    except ValueError as exc:
        raise ModelError(f"could not load {spec.raw!r}: {exc}") from exc
    if quantize == "int8":
        model = quantize_int8(model)
    load_seconds = time.perf_counter() - started
    tokenizer.padding_side = "left"
    info = BackendInfo(
        spec=spec.raw,
        resolved=resolved,
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        details={
            "source": source,
            "load_seconds": round(load_seconds, 2),
            "parameters": sum(p.numel() for p in model.parameters()),
            "architecture": type(model).__name__,
            "quantize": quantize or "none",
            "device": str(input_device(model)),
            "dtype": resolved_dtype,
            "device_map": _device_map_summary(model),
        },
    )
    return HFBackend(model, tokenizer, info, batch_size=batch_size, prefix_cache=prefix_cache)


def _device_map_summary(model: Any) -> str | None:
    """The devices a model split by ``device_map="auto"`` lives on, e.g. ``"cuda:0,cuda:1"``."""
    device_map = getattr(model, "hf_device_map", None)
    if not device_map:
        return None
    return ",".join(sorted({str(d) for d in device_map.values()}))


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantization of every Linear layer (weights int8, activations per batch)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization warns that it is deprecated
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
