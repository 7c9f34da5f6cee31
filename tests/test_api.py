"""The Python API: the doctested examples of docs/api.md, and what they do not show."""

import doctest
import importlib
from pathlib import Path

import pytest

import evalharness
from evalharness.backends import load_backend
from evalharness.errors import ConfigError
from evalharness.pairs import load_pairs, resolve_pairs
from evalharness.stages.common import backend_options

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_docs_api_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(DOC),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted >= 15
    assert result.failed == 0


def test_api_is_exported_lazily():
    import subprocess
    import sys

    code = "import evalharness, sys; print('evalharness.api' in sys.modules); evalharness.run"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert evalharness.judge_pairs is evalharness.api.judge_pairs
    importlib.import_module("evalharness.stages.validate")  # the module does not hide the function
    assert evalharness.validate_judge is evalharness.api.validate
    with pytest.raises(AttributeError):
        evalharness.nothing_here  # noqa: B018


def test_bad_input_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a run directory"):
        evalharness.Run.open(tmp_path)
    with pytest.raises(ConfigError, match="unknown config key 'judeg'; did you mean 'judge'"):
        evalharness.run(judeg="fake:j", run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match=r"pair 0 must be \(instruction, response_a"):
        evalharness.judge_pairs("fake:j", [("only", "two")])
    with pytest.raises(ConfigError, match="unknown device"):
        evalharness.make_config(device="gpu")


def test_run_resumes_and_open_reads_the_same_numbers(tmp_path):
    spec = dict(base="fake:b?chat=0", tuned="fake:t?style=long", judge="fake:j", sample=3)
    first = evalharness.run(spec, run_dir=tmp_path / "run", bias=False)
    second = evalharness.run(spec, run_dir=tmp_path / "run", bias=False)
    assert first.win_rate == second.win_rate
    assert len(second.pairwise()) == 6  # resumed: no record written twice
    assert first.length_bias is None  # no probes run


def test_labeled_pairs_and_a_list_validate(tmp_path):
    pairs = load_pairs(resolve_pairs("tiny"))
    verdicts = evalharness.judge_pairs("fake:j?length=0.9&jitter=0", pairs)
    assert len(verdicts) == len(pairs)
    for pair, verdict in zip(pairs, verdicts, strict=True):
        longer_first = len(pair.output_1.split()) > len(pair.output_2.split())
        if len(pair.output_1.split()) != len(pair.output_2.split()):
            assert verdict.outcome == ("a" if longer_first else "b")
    rows = [
        {"input": p.instruction, "output_1": p.output_1, "output_2": p.output_2, "label": p.label}
        for p in pairs
    ]
    from_list = evalharness.validate_judge("fake:j", rows, probes=False, out_dir=tmp_path / "v")
    from_name = evalharness.validate_judge("fake:j", "tiny", probes=False, out_dir=tmp_path / "w")
    assert from_list["judged"] == from_name["judged"] == len(pairs)
    assert from_list["accuracy"]["value"] == from_name["accuracy"]["value"]


def test_repeated_calls_reuse_the_loaded_judge_and_its_prefix(tiny_chat_dir):
    spec = f"hf:{tiny_chat_dir}"
    items = [("Tell me the time", "It is noon."), ("Name a river", "The river in the city.")]
    first = evalharness.score(spec, items, device="cpu", dtype="float32")
    backend = evalharness.load_judge(spec, device="cpu", dtype="float32").backend
    assert backend is load_backend(spec, backend_options(evalharness.make_config(judge=spec,
                                   device="cpu", dtype="float32")))  # the run's own backend
    before = dict(backend.stats)
    again = evalharness.score(spec, items, device="cpu", dtype="float32")
    assert [s.expected for s in again] == [s.expected for s in first]
    spent = backend.stats["tokens_computed"] - before["tokens_computed"]
    full = sum(backend.count_tokens(r.rendered_prompt) for s in again for r in s.records)
    assert 0 < spent < full / 3  # the rubric prefix is kept, each response read once
    assert {r.dtype for s in again for r in s.records} == {"float32"}
