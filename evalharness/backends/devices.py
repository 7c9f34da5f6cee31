"""Devices and precision for local models: what the user asked for, and what it resolves to.

``device`` is ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; ``dtype`` is ``auto``,
``float32``, ``bfloat16`` or ``float16``. Either may be one value for every model or a
default plus per-role values: ``"cuda:0,judge=cuda:1"``, ``"auto,judge=float32"``.

``auto`` device: CUDA when torch sees a GPU (placed with ``device_map="auto"``, so a model
larger than one GPU is split across GPUs), else MPS, else CPU. ``auto`` dtype: bfloat16 on
a CUDA device that supports it (float16 otherwise), float16 on MPS, float32 on CPU.
"""

from __future__ import annotations

from typing import Any

from evalharness.device_values import check_value, parse_role_values
from evalharness.errors import ModelError

LOCAL_KINDS = ("builtin", "hf", "gguf")
"""Spec kinds run in this process (the others have no device or dtype of ours)."""


def for_role(text: str, role: str, what: str) -> str:
    """The device or dtype asked for one role (its own value, else the default)."""
    values = parse_role_values(text, what)
    return values.get(role, values[""])


def resolve_device(requested: str) -> str:
    """``auto`` to the best device present; a CUDA or MPS device that is absent is an error."""
    import torch

    check_value(requested, "device")
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(
                f"device {requested!r} asked for, but torch {torch.__version__} sees no CUDA GPU"
            )
        index = int(requested.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ModelError(
                f"device {requested!r} asked for, but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible"
            )
    if requested == "mps" and not mps:
        raise ModelError("device 'mps' asked for, but torch sees no Apple MPS device")
    return requested


def resolve_dtype(requested: str, device: str) -> str:
    """``auto`` to bfloat16 on CUDA with bf16 support (else float16), float16 on MPS, else
    float32; an explicit dtype is kept."""
    check_value(requested, "dtype")
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device == "mps" else "float32"


def torch_dtype(name: str) -> Any:
    """The torch dtype object for a resolved dtype name."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def precision_tag(kind: str, device: str, dtype: str) -> str | None:
    """``"<device type>/<dtype>"`` for a local model, resolved; None for servers and fakes.

    It decides whether outputs must be recomputed: the device type and dtype change the
    numbers, the GPU index does not.
    """
    if kind not in LOCAL_KINDS:
        return None
    resolved = resolve_device(device)
    return f"{resolved.partition(':')[0]}/{resolve_dtype(dtype, resolved)}"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an accelerator out-of-memory error."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Release cached blocks after an out-of-memory error so a smaller batch can fit."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


def input_device(model: Any) -> Any:
    """Where input tensors must go: the device of the input embeddings (with a device map,
    the first GPU the model is placed on)."""
    embeddings = model.get_input_embeddings()
    if embeddings is not None:
        return next(embeddings.parameters()).device
    return next(model.parameters()).device
