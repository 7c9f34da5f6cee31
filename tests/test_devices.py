"""Devices and precision: resolution, tensors on the model's device, bf16 vs fp32, auto batch."""

import ast
import json
from pathlib import Path

import pytest
import torch
from helpers import run_cli

from evalharness.backends import BackendOptions, load_backend
from evalharness.backends.base import ChoiceRequest, GenerationRequest
from evalharness.backends.devices import (
    for_role,
    parse_role_values,
    precision_tag,
    resolve_device,
    resolve_dtype,
)
from evalharness.errors import ConfigError, ModelError
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.runstore import RunStore

BACKENDS = Path(__file__).resolve().parents[1] / "evalharness" / "backends"
BF16_TOLERANCE = 0.02
"""Max |P(bf16) - P(fp32)| allowed on the tiny model's choice probabilities, renormalized over
the choices (the raw ones are ~0.005 each on this random model). Measured: 0.0058 (raw 2e-4)."""


def test_role_values_parse_and_fall_back_to_the_default():
    assert parse_role_values("cuda:0,judge=cuda:1", "device") == {"": "cuda:0", "judge": "cuda:1"}
    assert for_role("cuda:0,judge=cuda:1", "judge", "device") == "cuda:1"
    assert for_role("cuda:0,judge=cuda:1", "base", "device") == "cuda:0"
    assert for_role("judge=float32", "tuned", "dtype") == "auto"
    for bad, what in (("gpu", "device"), ("cuda:x", "device"), ("fp8", "dtype")):
        with pytest.raises(ConfigError, match=f"unknown {what}"):
            parse_role_values(bad, what)
    with pytest.raises(ConfigError, match="unknown role 'critic'"):
        parse_role_values("critic=cpu", "device")


def test_auto_resolves_to_what_the_machine_has(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    assert resolve_dtype("auto", "mps") == "float16"
    with pytest.raises(ModelError, match="sees no CUDA GPU"):
        resolve_device("cuda:0")
    with pytest.raises(ModelError, match="no Apple MPS"):
        resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda:1") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda") == "float16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ModelError, match="only 2 CUDA device"):
        resolve_device("cuda:2")
    assert precision_tag("hf", "cuda:1", "float32") == "cuda/float32"
    assert precision_tag("openai", "cuda:1", "float32") is None


CONSTRUCTORS = {
    "tensor", "as_tensor", "full", "zeros", "ones", "empty", "arange", "eye", "linspace",
    "rand", "randn", "randint", "randperm", "full_like", "zeros_like", "ones_like", "empty_like",
}  # fmt: skip


def test_every_tensor_constructor_in_the_backends_names_a_device():
    missing = []
    for path in sorted(BACKENDS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CONSTRUCTORS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "torch"
                and not any(k.arg == "device" for k in node.keywords)
            ):
                missing.append(f"{path.name}:{node.lineno} torch.{node.func.attr}")
    assert not missing, f"tensors created without device=: {missing}"
    assert "hf.py" in {p.name for p in BACKENDS.glob("*.py")}


def test_the_guard_finds_a_constructor_without_device():
    tree = ast.parse("import torch\nx = torch.zeros((1, 2), dtype=torch.long)\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.func.attr == "zeros"]
    assert calls and not any(k.arg == "device" for k in calls[0].keywords)


def judge_requests() -> list[ChoiceRequest]:
    system = {"role": "system", "content": "You judge answers. Score from 1 to 5. " * 4}
    out = []
    for i, answer in enumerate(("Yes.", "It is noon by the river clock.", "A or B, 3 or 5")):
        for criterion in ("clear", "helpful", "honest"):
            user = f"Question: tell me the time\nAnswer: {answer}\nIs it {criterion}?"
            out.append(
                ChoiceRequest(
                    key=f"{i}/{criterion}",
                    choices=("1", "2", "3", "4", "5"),
                    messages=(system, {"role": "user", "content": user}),
                    answer_prefix="Score:",
                )
            )
    return out


def test_bfloat16_agrees_with_float32_within_tolerance(tiny_chat_dir):
    spec = f"hf:{tiny_chat_dir}"
    fp32 = load_backend(spec, BackendOptions(device="cpu", dtype="float32"))
    bf16 = load_backend(spec, BackendOptions(device="cpu", dtype="bfloat16"))
    assert bf16.model.dtype == torch.bfloat16 and fp32.model.dtype == torch.float32
    assert (bf16.info.details["device"], bf16.info.details["dtype"]) == ("cpu", "bfloat16")
    requests = judge_requests()
    a = fp32.choice_probs(requests)
    b = bf16.choice_probs(requests)
    deltas = [
        abs(x.probs[c] / x.mass - y.probs[c] / y.mass)
        for x, y in zip(a, b, strict=True)
        for c in x.probs
    ]
    assert max(deltas) < BF16_TOLERANCE
    assert max(deltas) > 0  # the precision really changed
    # the cached-prefix path gives the same bf16 numbers as full recomputation
    naive = load_backend(spec, BackendOptions(device="cpu", dtype="bfloat16", prefix_cache=False))
    c = naive.choice_probs(requests)
    assert max(
        abs(x.probs[k] / x.mass - y.probs[k] / y.mass)
        for x, y in zip(b, c, strict=True)
        for k in x.probs
    ) < BF16_TOLERANCE


def test_auto_batch_halves_on_out_of_memory_and_records_the_size(tiny_chat_dir, monkeypatch):
    backend = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(batch_size="auto", device="cpu"))
    assert backend.batch_size == 8 and backend.info.details["batch_size"] == "auto"
    requests = [
        GenerationRequest(key=str(i), messages=({"role": "user", "content": f"Hi {i}"},))
        for i in range(7)
    ]
    expected = [r.text for r in backend.generate(requests)]
    real = backend._generate_batch
    sizes = []

    def limited(batch, req):
        sizes.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(batch, req)

    monkeypatch.setattr(backend, "_generate_batch", limited)
    assert [r.text for r in backend.generate(requests)] == expected
    assert sizes[:3] == [7, 4, 2] and max(sizes[3:]) == 2
    assert backend.batch_size == 2 and backend.info.details["batch_size_used"] == 2
    fixed = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(batch_size=4, device="cpu"))
    monkeypatch.setattr(fixed, "_generate_batch", limited)
    with pytest.raises(ModelError, match="out of memory on cpu at batch size 4"):
        fixed.generate(requests)


def test_cpu_bfloat16_end_to_end_records_precision_and_refuses_mixing(
    tmp_path, prompt_file, tiny_chat_dir, tiny_base_dir
):
    run_dir = tmp_path / "run"
    common = [
        "--base", f"hf:{tiny_base_dir}", "--tuned", f"hf:{tiny_chat_dir}",
        "--judge", f"hf:{tiny_chat_dir}", "--prompts", str(prompt_file),
        "--max-new-tokens", "6", "--run-dir", str(run_dir), "--device", "cpu",
    ]  # fmt: skip
    result = run_cli("run", *common, "--dtype", "bfloat16", "--no-bias")
    assert result.exit_code == 0, result.output
    store = RunStore(run_dir)
    gens = store.read(GenerationRecord)
    assert gens and {(g.device, g.dtype) for g in gens} == {("cpu", "bfloat16")}
    judged = [*store.read(PointwiseRecord), *store.read(PairwiseRecord)]
    assert judged and {(r.device, r.dtype) for r in judged} == {("cpu", "bfloat16")}
    manifest = store.read_manifest()
    assert manifest["models"]["tuned"]["dtype"] == "bfloat16"
    assert manifest["judge"]["precision"] == "cpu/bfloat16"
    assert json.loads((run_dir / "analysis.json").read_text())["headline"]["n"] == 4
    # fp32 generations are other numbers: the run directory refuses them without --overwrite
    again = run_cli("generate", *common, "--dtype", "float32")
    assert again.exit_code == 2
    assert "another configuration" in again.output
    # a judge in another precision may not add to the bf16 judgments
    rejudge = run_cli("judge", str(run_dir), "--dtype", "bfloat16,judge=float32")
    assert rejudge.exit_code == 2
    assert "in cpu/bfloat16, not cpu/float32" in rejudge.output
    probes = run_cli("bias", str(run_dir), "--dtype", "bfloat16,judge=float32")
    assert probes.exit_code == 2 and "in cpu/bfloat16, not cpu/float32" in probes.output
    assert not (run_dir / "probes.jsonl").exists()  # refused before any probe was made


def test_config_file_takes_device_dtype_and_auto_batch(tmp_path):
    from evalharness.config import load_config

    good = tmp_path / "good.yaml"
    good.write_text("device: cuda:0,judge=cpu\ndtype: bfloat16\nbatch_size: auto\n")
    config = load_config(good)
    assert (config.device, config.dtype) == ("cuda:0,judge=cpu", "bfloat16")
    assert config.batch_size == "auto"
    for text, message in (
        ("seed: 1\ndevice: gpu\n", r"bad.yaml:2: unknown device 'gpu'"),
        ("dtype: fp8\n", r"bad.yaml:1: unknown dtype 'fp8'"),
        ("batch_size: big\n", r"bad.yaml:1: batch_size must be a positive integer or auto"),
        ("batch_size: 0\n", r"bad.yaml:1: batch_size must be a positive integer or auto"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(bad)
    result = run_cli("generate", "--batch-size", "0", "--base", "fake:b")
    assert result.exit_code == 2 and "not a positive integer or auto" in result.output
    result = run_cli("generate", "--device", "judge=tpu", "--base", "fake:b")
    assert result.exit_code == 2 and "unknown device 'tpu'" in result.output


@pytest.mark.parametrize(
    ("device", "placement"),
    [("cuda", "auto"), ("cuda:1", {"": "cuda:1"}), ("mps", {"": "mps"}), ("cpu", None)],
)
def test_placement_asked_of_transformers(tiny_chat_dir, monkeypatch, device, placement):
    """device_map="auto" for `cuda` (split across GPUs), one device for cuda:N and mps."""
    import transformers

    from evalharness.backends import hf_load

    seen = {}
    real = transformers.AutoModelForCausalLM.from_pretrained

    def capture(source, **kwargs):
        seen.update(kwargs)
        kwargs.pop("device_map", None)
        return real(source, **{**kwargs, "dtype": torch.float32})

    monkeypatch.setattr(hf_load, "resolve_device", lambda requested: device)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", capture)
    backend = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(device=device, dtype="float16"))
    assert seen.get("device_map") == placement
    assert seen["dtype"] == torch.float16 and backend.info.details["dtype"] == "float16"
    if device != "cpu":
        with pytest.raises(ModelError, match="int8 runs on the CPU only"):
            load_backend(
                f"hf:{tiny_chat_dir}", BackendOptions(device=device, quantize="int8")
            )
