import json

import pytest
from helpers import generation_record, pairwise_record

from evalharness.errors import ConfigError
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.runstore import RunStore, write_json_atomic


def gen(prompt_id: str, role: str = "base", output: str = "out") -> GenerationRecord:
    return generation_record(prompt_id, role=role, output=output)


def test_append_and_read_round_trip(tmp_path):
    store = RunStore(tmp_path / "run")
    records = [gen("a"), gen("a", "tuned"), gen("b")]
    assert store.append(records) == 3
    assert store.read(GenerationRecord) == records
    assert store.keys(GenerationRecord) == {("a", "base"), ("a", "tuned"), ("b", "base")}
    assert store.read(PointwiseRecord) == []


def test_records_go_to_their_own_files(tmp_path):
    store = RunStore(tmp_path)
    pair = pairwise_record("a")
    store.append([gen("a"), pair])
    assert (tmp_path / "generations.jsonl").read_text().count("\n") == 1
    assert store.read(PairwiseRecord) == [pair]


def test_first_record_of_a_key_wins(tmp_path):
    store = RunStore(tmp_path)
    store.append([gen("a", output="first")])
    store.append([gen("a", output="second")])
    assert [r.output for r in store.read(GenerationRecord)] == ["first"]


def test_interrupted_line_is_ignored_then_repaired(tmp_path):
    store = RunStore(tmp_path)
    store.append([gen("a"), gen("b")])
    path = tmp_path / GenerationRecord.FILE
    with path.open("a") as handle:
        handle.write('{"prompt_id": "c", "role": "ba')  # killed mid-write
    assert [r.prompt_id for r in store.read(GenerationRecord)] == ["a", "b"]
    store.append([gen("c")])
    lines = path.read_text().splitlines()
    assert [json.loads(line)["prompt_id"] for line in lines] == ["a", "b", "c"]
    assert path.read_text().endswith("\n")


def test_a_corrupt_complete_line_names_file_and_line(tmp_path):
    store = RunStore(tmp_path)
    store.append([gen("a")])
    with (tmp_path / GenerationRecord.FILE).open("a") as handle:
        handle.write("not json\n")
    with pytest.raises(ConfigError, match=r"generations\.jsonl:2: not a valid GenerationRecord"):
        store.read(GenerationRecord)


def test_unknown_fields_from_newer_versions_are_ignored(tmp_path):
    data = gen("a").to_dict() | {"new_field": 1, "schema_version": 2}
    (tmp_path / GenerationRecord.FILE).write_text(json.dumps(data) + "\n")
    [record] = RunStore(tmp_path).read(GenerationRecord)
    assert record.prompt_id == "a"
    assert record.schema_version == 2


def test_manifest_update_merges_sections(tmp_path):
    store = RunStore(tmp_path / "run")
    assert not store.exists()
    assert store.read_manifest() == {}
    store.update_manifest(config={"a": 1})
    store.update_manifest(models={"base": "x"})
    assert store.exists()
    assert store.read_manifest() == {"config": {"a": 1}, "models": {"base": "x"}}
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["manifest.json"]


def test_bad_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a JSON object"):
        RunStore(tmp_path).read_manifest()
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(ConfigError, match="manifest is not valid JSON"):
        RunStore(tmp_path).read_manifest()


def test_write_json_atomic_leaves_no_temporary_file_on_failure(tmp_path):
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular"):
        write_json_atomic(tmp_path / "x.json", loop)
    assert list(tmp_path.iterdir()) == []


def test_claim_removes_a_new_directory_that_got_no_records(tmp_path):
    store = RunStore(tmp_path / "run")
    with pytest.raises(RuntimeError), store.claim():
        store.update_manifest(config={})
        raise RuntimeError("model failed to load")
    assert not (tmp_path / "run").exists()


def test_claim_keeps_records_and_existing_directories(tmp_path):
    store = RunStore(tmp_path / "run")
    with pytest.raises(RuntimeError), store.claim():
        store.update_manifest(config={})
        store.append([gen("a")])
        raise RuntimeError("second model failed")
    assert store.read(GenerationRecord) == [gen("a")]
    other = RunStore(tmp_path / "existing")
    other.update_manifest(config={})
    with pytest.raises(RuntimeError), other.claim():
        raise RuntimeError("fails")
    assert other.exists()


def test_a_refused_claim_leaves_the_holders_new_directory_alone(tmp_path):
    import os

    run_dir = tmp_path / "new"
    holder, other = RunStore(run_dir), RunStore(run_dir)
    with holder.claim("run"):
        holder.update_manifest(config={})
        refused = pytest.raises(ConfigError, match=rf"is in use by pid {os.getpid()} on .*\(run\)")
        with refused, other.claim("run"):
            pass
        assert (run_dir / "manifest.json").exists()
    assert (run_dir / "manifest.json").exists()
    assert not (run_dir / ".lock.json").exists()


def test_a_claim_that_fails_before_any_record_leaves_nothing(tmp_path):
    run_dir = tmp_path / "new"
    with pytest.raises(ConfigError), RunStore(run_dir).claim("run"):
        RunStore(run_dir).update_manifest(config={})
        raise ConfigError("bad input found late")
    assert not run_dir.exists()


def test_record_keys_and_comparison_names_are_built_and_parsed_by_the_record_types():
    from evalharness.records import (
        PairwiseRecord,
        ProbeRecord,
        is_probe_comparison,
        parse_probe_comparison,
        probe_comparison,
    )

    assert probe_comparison("padded", "tuned") == "probe:padded:tuned"
    assert probe_comparison("padded") == "probe:padded"  # judge-validate: no source role
    assert parse_probe_comparison("probe:assertive_vs_hedged:base") == (
        "assertive_vs_hedged",
        "base",
    )
    assert parse_probe_comparison("probe:padded") == ("padded", None)
    assert parse_probe_comparison("tuned_vs_base") is None
    assert not is_probe_comparison("validate")
    probe = ProbeRecord("p1", "tuned", "hedged", "rules", "text", 3, 4, False)
    assert (probe.subject, probe.comparison) == ("tuned/hedged", "probe:hedged:tuned")
    assert probe.key() == ProbeRecord.key_of(prompt_id="p1", source="tuned", kind="hedged")
    key = PairwiseRecord.key_of(
        order="yx", prompt_id="p", comparison="c", judge="j", rubric="r@1", template="t@1"
    )
    assert key == ("p", "c", "j", "r@1", "t@1", "yx")  # KEY_FIELDS order, whatever the call's
    with pytest.raises(TypeError, match="takes exactly prompt_id, source, kind"):
        ProbeRecord.key_of(prompt_id="p", source="tuned")


def test_judge_setup_owns_only_its_judgments_and_builds_their_keys():
    from evalharness.backends.fake import FakeBackend
    from evalharness.config import RunConfig
    from evalharness.judge.engine import Judge, PairItem, PointwiseItem
    from evalharness.specs import parse_spec
    from evalharness.templates import resolve_judge_setup

    config = RunConfig(base="fake:b", tuned="fake:j", judge="fake:j")
    setup = resolve_judge_setup(config)
    assert setup.judges_itself == ("tuned",) and setup.text_tokens == 24
    judge = Judge.from_setup(FakeBackend(parse_spec("fake:j")), setup)
    points = judge.score([PointwiseItem("p", "tuned", "Q?", "A.")])
    pairs = judge.compare([PairItem("p", "tuned_vs_base", "tuned", "base", "Q?", "x", "y")])
    assert {r.key() for r in points} == setup.pointwise_keys("p", "tuned")
    assert {r.key() for r in pairs} == setup.pairwise_keys("p", "tuned_vs_base")
    assert all(setup.owns(r) for r in [*points, *pairs])
    other = resolve_judge_setup(RunConfig(judge="fake:j", pairwise_template="pointwise"))
    assert not any(other.owns(r) for r in pairs) and all(other.owns(r) for r in points)
