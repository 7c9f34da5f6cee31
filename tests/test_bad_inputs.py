"""A sweep of bad inputs: each gets one line on stderr, exit code 2, and leaves nothing behind.

The table below is the data: a case names the files it writes, the command line (``{x}``
is the path of file ``x``, ``{run}`` the run directory, ``{old}`` an existing finished run)
and a piece of the expected message. A new run directory must not exist afterwards; an
existing run must have every file byte for byte as before.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalharness.commands.main import cli

GOOD_PROMPTS = '{"id": "a", "prompt": "Hi?"}\n{"id": "b", "prompt": "Name a river."}\n'
MODELS = ["--base", "fake:b", "--tuned", "fake:t", "--judge", "fake:j"]
NEW_RUN = ["run", *MODELS, "--prompts", "{prompts}", "--run-dir", "{run}", "--no-bias"]
ONE_CHOICE = """id: one
version: 1
system: "Pick."
user: "{instruction} A: {response_a} B: {response_b}"
answer_prefix: "Verdict:"
choices: ["A"]
"""

# fmt: off
CASES: list[dict] = [
    # config files: one validator for flags and files, with ranges and line numbers
    {"name": "config not UTF-8", "files": {"c.yaml": b"seed: \xff\xfe\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "config is not UTF-8 text"},
    {"name": "duplicate config key", "files": {"c.yaml": "seed: 1\nbootstrap: 9\nseed: 2\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "c.yaml:3: duplicate key 'seed'"},
    {"name": "negative temperature", "files": {"c.yaml": "temperature: -1\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": ":1: temperature must be at least 0"},
    {"name": "negative max_new_tokens", "files": {"c.yaml": "max_new_tokens: -5\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "max_new_tokens must be at least 1"},
    {"name": "zero batch size", "files": {"c.yaml": "batch_size: 0\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": ":1: batch_size must be a positive"},
    {"name": "top_p over 1", "files": {"c.yaml": "top_p: 5\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"],
     "expect": "top_p must be greater than 0 and at most 1"},
    {"name": "tie band too wide", "files": {"c.yaml": "tie_band: 0.7\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "tie_band must be at least 0"},
    {"name": "failure share over 1", "files": {"c.yaml": "max_failure_share: 5\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "max_failure_share must be"},
    {"name": "gate given in percent", "files": {"c.yaml": "gates:\n  min_win_rate: 50\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"],
     "expect": "gates.min_win_rate must be between 0 and 1"},
    {"name": "misspelt config key", "files": {"c.yaml": "temprature: 0\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "did you mean 'temperature'"},
    {"name": "config not a mapping", "files": {"c.yaml": "- 1\n- 2\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "must be a mapping"},
    {"name": "flag out of range", "args": [*NEW_RUN, "--top-p", "0"],
     "expect": "--top-p", "code": 2},
    # prompts
    {"name": "sample larger than the set", "args": [*NEW_RUN, "--sample", "100"],
     "expect": "sample 100 is larger than the prompt set"},
    {"name": "lone surrogate in a prompt",
     "files": {"prompts": '{"id": "a", "prompt": "x \\ud800 y"}\n'},
     "args": NEW_RUN, "expect": "prompts:1: text holds a lone surrogate"},
    {"name": "prompt row not an object", "files": {"prompts": '{"id": "a", "prompt": "x"}\n[1]\n'},
     "args": NEW_RUN, "expect": "prompts:2: expected a JSON object"},
    {"name": "prompt file not UTF-8", "files": {"prompts": b'{"id": "a", "prompt": "\xff"}\n'},
     "args": NEW_RUN, "expect": "cannot read prompt set"},
    # models, rubric, templates, probes: all checked before the first model loads
    {"name": "unknown judge", "args": [*NEW_RUN, "--judge", "gpt-nine"],
     "expect": "judge model: unknown model 'gpt-nine'"},
    {"name": "corrupt safetensors",
     "files": {"ckpt/config.json": "{}", "ckpt/model.safetensors": b"\x10\x00garbage"},
     "args": [*NEW_RUN, "--tuned", "hf:{ckpt}"], "expect": "not a readable safetensors file"},
    {"name": "missing checkpoint directory", "args": [*NEW_RUN, "--base", "hf:./no/such/dir"],
     "expect": "checkpoint directory not found"},
    {"name": "bad rubric", "files": {"r.yaml": "id: r\nversion: 1\ncriteria: 7\n"},
     "args": [*NEW_RUN, "--rubric", "{r.yaml}"], "expect": "r.yaml"},
    {"name": "pairwise template with one choice", "files": {"one.yaml": ONE_CHOICE},
     "args": [*NEW_RUN, "--config", "{c.yaml}"],
     "extra_files": {"c.yaml": "pairwise_template: {one.yaml}\n"},
     "expect": "needs exactly 2 choices"},
    {"name": "judge-validate with a one-choice template", "files": {"one.yaml": ONE_CHOICE},
     "extra_files": {"c.yaml": "pairwise_template: {one.yaml}\n"},
     "args": ["judge-validate", "--judge", "fake:j", "--sample", "2", "--config", "{c.yaml}",
              "--run-dir", "{run}"], "expect": "needs exactly 2 choices"},
    {"name": "missing template", "files": {"c.yaml": "pointwise_template: nope\n"},
     "args": [*NEW_RUN, "--config", "{c.yaml}"], "expect": "nope"},
    {"name": "unknown probe kind", "files": {"c.yaml": "probes: [padded, louder]\n"},
     "args": ["run", *MODELS, "--prompts", "{prompts}", "--run-dir", "{run}", "--config",
              "{c.yaml}"], "expect": "unknown probe kinds ['louder']"},
    {"name": "probe rules directory missing",
     "args": ["bias", "{old}", "--probe-rules", "/no/such/rules"], "expect": "does not exist"},
    # run directories
    {"name": "run directory under a file", "files": {"afile": "x"},
     "args": ["run", *MODELS, "--prompts", "{prompts}", "--run-dir", "{afile}/run",
              "--no-bias"], "expect": "cannot create or lock the run directory"},
    {"name": "stage on a directory that is no run", "args": ["analyze", "{run}"],
     "expect": "is not a run directory"},
    # existing runs: a stage may not change what belongs to the run, and bad records stop it
    {"name": "judge with another base model", "files": {"c.yaml": "base: fake:x\n"},
     "args": ["judge", "{old}", "--config", "{c.yaml}"],
     "expect": "base is 'fake:b' in this run, not 'fake:x'"},
    {"name": "analyze with another prompt set", "files": {"c.yaml": "sample: 1\n"},
     "args": ["analyze", "{old}", "--config", "{c.yaml}"],
     "expect": "sample is None in this run"},
    {"name": "record line valid JSON but no object",
     "append": {"generations.jsonl": b"[1, 2]\n"}, "args": ["analyze", "{old}"],
     "expect": "generations.jsonl:5: not a valid GenerationRecord (a list, not a JSON object)"},
    {"name": "record line not UTF-8", "append": {"pointwise.jsonl": b'{"a": "\xff"}\n'},
     "args": ["judge", "{old}"], "expect": "not a valid PointwiseRecord (not UTF-8 text"},
    {"name": "manifest not JSON", "replace": {"manifest.json": b"{oops"},
     "args": ["analyze", "{old}"], "expect": "manifest is not valid JSON"},
    {"name": "judge-validate into an evaluation run",
     "args": ["judge-validate", "--judge", "fake:j", "--sample", "2", "--run-dir", "{old}"],
     "expect": "holds an evaluation run; pass another --run-dir or --overwrite"},
    {"name": "compare with a gate in percent", "files": {"g.yaml": "gates:\n  min_win_rate: 50\n"},
     "args": ["compare", "{old}", "{old}", "--config", "{g.yaml}"],
     "expect": "must be between 0 and 1 (a share: 0.5 means 50%), got 50"},
]
# fmt: on


def fill(text: str, paths: dict[str, Path]) -> str:
    """Replace ``{name}`` with the path of ``name`` (names may hold dots and slashes)."""
    return re.sub(r"\{([\w./-]+)\}", lambda m: str(paths[m.group(1)]), text)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    (root / "prompts.jsonl").write_text(GOOD_PROMPTS, encoding="utf-8")
    (root / "fast.yaml").write_text("bootstrap: 50\n", encoding="utf-8")
    args = ["run", *MODELS, "--prompts", str(root / "prompts.jsonl"), "--run-dir",
            str(root / "run"), "--config", str(root / "fast.yaml"), "--no-bias"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "run"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.startswith(".lock")
    }


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case: dict, tmp_path: Path, finished_run: Path) -> None:
    paths = {"run": tmp_path / "run", "prompts": tmp_path / "prompts"}
    paths["prompts"].write_text(GOOD_PROMPTS, encoding="utf-8")
    for group in ("files", "extra_files"):
        for name, data in case.get(group, {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                text = fill(data, paths) if group == "extra_files" else data
                path.write_text(text, encoding="utf-8")
            else:
                path.write_bytes(data)
            paths[name] = path
            paths.setdefault(name.split("/")[0], tmp_path / name.split("/")[0])
    old = tmp_path / "old"
    shutil.copytree(finished_run, old)
    for name, data in case.get("append", {}).items():
        with (old / name).open("ab") as handle:
            handle.write(data)
    for name, data in case.get("replace", {}).items():
        (old / name).write_bytes(data)
    paths["old"] = old
    before = snapshot(old)
    argv = [fill(a, paths) for a in case["args"]]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == case.get("code", 2), result.output
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.output
    if case["args"][0] != "compare":
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
    assert case["expect"] in lines[-1], lines[-1]
    assert not paths["run"].exists(), "bad input must not leave a run directory"
    assert snapshot(old) == before, "bad input must not change an existing run"


def test_the_table_covers_every_item_family() -> None:
    names = " ".join(c["name"] for c in CASES)
    for word in ("config", "prompt", "judge", "template", "record", "gate", "directory"):
        assert word in names
    assert json.dumps([c["name"] for c in CASES])  # the table is plain data
