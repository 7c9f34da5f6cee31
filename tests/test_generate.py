"""The generation stage, driven through the command line."""

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from click.testing import CliRunner
from helpers import REPO, generate_args, pointwise_record, run_cli

from evalharness.backends import _LOADED, clear_loaded
from evalharness.commands.main import cli
from evalharness.records import GenerationRecord
from evalharness.runstore import RunStore

FRAME = "Question: {prompt}\nAnswer:"


def generate(
    run_dir: Path,
    prompts: Path,
    *extra: str,
    base: str = "fake:b?chat=0",
    tuned: str = "fake:t?style=long",
):
    return run_cli(*generate_args(run_dir, prompts, *extra, base=base, tuned=tuned))


def prompts_of(path: Path) -> dict[str, str]:
    return {row["id"]: row["prompt"] for row in map(json.loads, path.read_text().splitlines())}


def test_one_complete_record_per_prompt_and_role(tmp_path, prompt_file):
    result = generate(tmp_path / "run", prompt_file)
    assert result.exit_code == 0, result.output
    assert "generate: 8 new records, 0 already done, 0 failed" in result.stdout
    records = RunStore(tmp_path / "run").read(GenerationRecord)
    assert sorted(r.key() for r in records) == sorted(
        (pid, role) for pid in prompts_of(prompt_file) for role in ("base", "tuned")
    )
    # device/dtype: local models only; history: later turns only; reference: where one exists
    optional = {"category", "error", "device", "dtype", "history", "reference"}
    for record in records:
        for field in fields(record):
            value = getattr(record, field.name)
            if field.name not in optional:
                assert value is not None and value != "", (field.name, record)
        assert record.prompt == prompts_of(prompt_file)[record.prompt_id]
        assert record.output_tokens == len(record.output.split())
        assert record.finish_reason == "stop"
        assert record.params["max_new_tokens"] == 96
        assert record.params["seed"] == 0
        assert record.error is None
    by_key = {r.key(): r for r in records}
    assert by_key[("p1", "base")].category == "honesty"
    assert by_key[("p3", "tuned")].category is None
    assert by_key[("p1", "base")].model == "fake:b?chat=0"
    assert by_key[("p1", "tuned")].resolved == "fake:t"


def test_base_model_gets_the_completion_frame_and_chat_model_the_messages(tmp_path, prompt_file):
    result = generate(tmp_path / "run", prompt_file, "--max-new-tokens", "5")
    assert result.exit_code == 0, result.output
    for record in RunStore(tmp_path / "run").read(GenerationRecord):
        if record.role == "base":
            assert record.rendered_prompt == FRAME.replace("{prompt}", record.prompt)
            assert record.params["stop"] == ["\nQuestion:", "\n\n\n"]
        else:
            messages = json.loads(record.rendered_prompt)
            assert messages == [{"role": "user", "content": record.prompt}]
            assert record.params["stop"] == []
        assert record.output_tokens <= 5
    tuned = [r for r in RunStore(tmp_path / "run").read(GenerationRecord) if r.role == "tuned"]
    assert {r.finish_reason for r in tuned} == {"length"}  # style=long is longer than 5 words


def test_system_prompt_and_sampling_settings_reach_the_request(tmp_path, prompt_file):
    config = tmp_path / "run.yaml"
    config.write_text("system_prompt: Be brief.\ntemperature: 0.7\nseed: 5\n")
    result = generate(tmp_path / "run", prompt_file, "--config", str(config))
    assert result.exit_code == 0, result.output
    for record in RunStore(tmp_path / "run").read(GenerationRecord):
        assert record.params["temperature"] == 0.7
        assert record.params["seed"] == 5
        if record.role == "tuned":
            assert json.loads(record.rendered_prompt)[0] == {
                "role": "system",
                "content": "Be brief.",
            }


def test_sample_selects_prompts_with_the_seed(tmp_path, prompt_file):
    def ids(seed: str) -> set[str]:
        run = tmp_path / f"run{seed}"
        assert generate(run, prompt_file, "--sample", "2", "--seed", seed).exit_code == 0
        records = RunStore(run).read(GenerationRecord)
        assert len(records) == 4
        return {r.prompt_id for r in records}

    assert len(ids("1")) == 2
    assert ids("1") == ids("1")


def test_tiny_chat_and_base_models_through_the_cli(
    tmp_path, prompt_file, tiny_chat_dir, tiny_base_dir
):
    run = tmp_path / "run"
    result = generate(
        run,
        prompt_file,
        "--max-new-tokens",
        "4",
        "--batch-size",
        "3",
        base=f"hf:{tiny_base_dir}",
        tuned=f"hf:{tiny_chat_dir}",
    )
    assert result.exit_code == 0, result.output
    records = RunStore(run).read(GenerationRecord)
    assert len(records) == 8
    for record in records:
        if record.role == "base":
            assert record.rendered_prompt == FRAME.replace("{prompt}", record.prompt)
            assert record.resolved == f"dir:{tiny_base_dir.resolve()}"
        else:
            assert "<|im_start|>system\n" in record.rendered_prompt
            assert record.rendered_prompt.endswith(
                f"<|im_start|>user\n{record.prompt}<|im_end|>\n<|im_start|>assistant\n"
            )
            assert "Question:" not in record.rendered_prompt
        assert 1 <= record.output_tokens <= 4
        assert record.prompt_tokens > len(record.prompt.split())
        assert record.finish_reason in ("stop", "length")
    models = RunStore(run).read_manifest()["models"]
    assert models["tuned"]["architecture"] == "LlamaForCausalLM"
    assert models["base"]["resolved"] == f"dir:{tiny_base_dir.resolve()}"


def test_rerun_skips_everything(tmp_path, prompt_file, monkeypatch):
    # keep the backends in the registry after use, so their call logs can be read
    monkeypatch.setattr("evalharness.stages.generate.release_backend", lambda *a, **k: None)
    run = tmp_path / "run"
    assert generate(run, prompt_file).exit_code == 0
    calls = sum(len(b.calls) for b in _LOADED.values())
    assert calls == 8
    before = (run / "generations.jsonl").read_bytes()
    clear_loaded()
    result = generate(run, prompt_file)
    assert result.exit_code == 0
    assert "0 new records, 8 already done" in result.stdout
    assert sum(len(getattr(b, "calls", [])) for b in _LOADED.values()) == 0
    assert (run / "generations.jsonl").read_bytes() == before


def test_interrupted_file_is_resumed_and_repaired(tmp_path, prompt_file):
    run = tmp_path / "run"
    assert generate(run, prompt_file).exit_code == 0
    path = run / "generations.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lost = json.loads(lines[-1])
    path.write_text("".join(lines[:-1]) + lines[-1][:40])  # killed in the middle of a line
    assert len(RunStore(run).read(GenerationRecord)) == 7
    clear_loaded()
    result = generate(run, prompt_file)
    assert result.exit_code == 0, result.output
    assert "1 new records, 7 already done" in result.stdout
    text = path.read_text()
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 8
    assert (rows[-1]["prompt_id"], rows[-1]["role"]) == (lost["prompt_id"], lost["role"])
    assert rows[-1]["output"] == lost["output"]


def test_another_config_is_refused_then_overwritten(tmp_path, prompt_file):
    run = tmp_path / "run"
    assert generate(run, prompt_file).exit_code == 0
    store = RunStore(run)
    store.append([pointwise_record("p1")])
    before = (run / "generations.jsonl").read_bytes()
    refused = generate(run, prompt_file, tuned="fake:other")
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: ")
    assert "--overwrite" in refused.stderr
    assert "Traceback" not in refused.output
    assert (run / "generations.jsonl").read_bytes() == before
    assert store.read_manifest()["config"]["tuned"] == "fake:t?style=long"

    replaced = generate(run, prompt_file, "--overwrite", tuned="fake:other")
    assert replaced.exit_code == 0, replaced.output
    assert "8 new records, 0 already done" in replaced.stdout
    records = store.read(GenerationRecord)
    assert {r.model for r in records if r.role == "tuned"} == {"fake:other"}
    assert len(records) == 8
    assert not (run / "pointwise.jsonl").exists()
    assert store.read_manifest()["config"]["tuned"] == "fake:other"


def test_manifest_records_what_is_needed_to_reproduce(tmp_path, prompt_file):
    run = tmp_path / "run"
    assert generate(run, prompt_file, "--seed", "3").exit_code == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["base"] == "fake:b?chat=0"
    assert manifest["config"]["seed"] == 3
    assert manifest["config"]["prompts"] == str(prompt_file)
    assert manifest["seeds"] == {"generation": 3, "bootstrap": 3}
    assert manifest["generation"]["prompts"] == 4
    assert len(manifest["generation"]["fingerprint"]) == 16
    env = manifest["environment"]
    for package in ("torch", "transformers", "click"):
        assert env["packages"][package]
    commit = env["git_commit"]
    assert commit is None or len(commit.removesuffix("+dirty")) == 40
    assert env["machine"]["python"] == sys.version.split()[0]
    assert env["machine"]["cpus"] == os.cpu_count()
    assert manifest["models"]["base"] == {"spec": "fake:b?chat=0", "resolved": "fake:b"}
    assert manifest["models"]["tuned"]["spec"] == "fake:t?style=long"


def test_failed_items_are_recorded_not_dropped(tmp_path, prompt_file):
    run = tmp_path / "run"
    result = generate(run, prompt_file, tuned="fake:t?fail=river")
    assert result.exit_code == 3  # any failure is over the default max_failure_share 0
    assert "1 failed" in result.stdout
    assert "error: 1 of 8 records failed" in result.stderr
    failed = [r for r in RunStore(run).read(GenerationRecord) if r.error]
    assert [(r.prompt_id, r.role, r.finish_reason) for r in failed] == [("p2", "tuned", "error")]


def test_real_subprocess(tmp_path, prompt_file):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "evalharness", *generate_args(run, prompt_file, tuned="fake:t")]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "8 new records" in done.stdout
    assert len(RunStore(run).read(GenerationRecord)) == 8
    again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert again.returncode == 0
    assert "0 new records, 8 already done" in again.stdout


def test_default_run_dir_is_derived_from_the_config(tmp_path, prompt_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [
        "generate",
        "--base",
        "fake:b",
        "--tuned",
        "fake:t",
        "--judge",
        "fake:j",
        "--prompts",
        str(prompt_file),
    ]
    for extra in ([], [], ["--seed", "9"]):
        assert CliRunner().invoke(cli, args + extra).exit_code == 0
    runs = sorted((tmp_path / "results").iterdir())
    assert len(runs) == 2  # the same config resumes its run; another seed gets its own
    for run in runs:
        assert run.name.startswith("prompts-")
        assert len(RunStore(run).read(GenerationRecord)) == 8
