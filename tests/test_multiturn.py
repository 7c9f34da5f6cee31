"""Multi-turn conversations: models answer turn by turn, the judge sees the conversation."""

import json

from helpers import run_cli, write_jsonl

from evalharness.backends import _LOADED
from evalharness.conversation import expand
from evalharness.prompt_sources import load_prompt_set
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.runstore import RunStore

ROWS = [
    {"id": "chat", "turns": ["Name a river in Egypt.", "Now spell its name backwards."],
     "references": ["The Nile.", "eliN"], "category": "facts"},
    {"id": "single", "prompt": "Tell me the time.", "reference": "I cannot know it."},
    {"id": "msgs", "messages": [{"role": "system", "content": "Answer in French."},
                                {"role": "user", "content": "Say hello."},
                                {"role": "assistant", "content": "(ignored)"},
                                {"role": "user", "content": "Say goodbye."}]},
]  # fmt: skip


def prompt_file(tmp_path):
    return write_jsonl(tmp_path / "conv.jsonl", ROWS)


def models(run_dir, prompts, *extra, base="fake:b?chat=0", tuned="fake:t?style=long"):
    return ("--base", base, "--tuned", tuned, "--judge", "fake:j", "--prompts", str(prompts),
            "--run-dir", str(run_dir), *extra)  # fmt: skip


def by_id(store):
    return {(r.prompt_id, r.role): r for r in store.read(GenerationRecord)}


def test_models_answer_turn_by_turn_on_their_own_earlier_answers(tmp_path):
    run = tmp_path / "run"
    result = run_cli("generate", *models(run, prompt_file(tmp_path)))
    assert result.exit_code == 0, result.output
    gens = by_id(RunStore(run))
    ids = ["chat", "chat/turn-2", "msgs", "msgs/turn-2", "single"]
    assert sorted({pid for pid, _ in gens}) == ids
    for role in ("base", "tuned"):
        first, second = gens[("chat", role)], gens[("chat/turn-2", role)]
        assert (first.turn, second.turn) == (1, 2)
        assert second.prompt == "Now spell its name backwards."
        assert second.history == [
            {"role": "user", "content": "Name a river in Egypt."},
            {"role": "assistant", "content": first.output},  # this model's own answer
        ]
        assert (first.reference, second.reference) == ("The Nile.", "eliN")
        assert first.output in second.rendered_prompt
        assert gens[("single", role)].history is None
    # the base model has no chat template: the conversation is written in the completion frame
    base_second = gens[("chat/turn-2", "base")].rendered_prompt
    assert base_second.startswith("Question: Name a river in Egypt.\nAnswer: The answer")
    assert base_second.endswith("Question: Now spell its name backwards.\nAnswer:")
    # the tuned chat model gets the conversation as messages, with the set's system message
    tuned_msgs = json.loads(gens[("msgs/turn-2", "tuned")].rendered_prompt)
    assert [m["role"] for m in tuned_msgs] == ["system", "user", "assistant", "user"]
    assert tuned_msgs[0]["content"] == "Answer in French."
    assert "(ignored)" not in json.dumps(tuned_msgs)
    again = run_cli("generate", *models(run, prompt_file(tmp_path)))
    assert "0 new records, 10 already done" in again.output


def test_the_judge_sees_the_conversation(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run", "--no-bias", *models(run, prompt_file(tmp_path))).exit_code == 0
    store = RunStore(run)
    gens = by_id(store)
    point = {(r.prompt_id, r.subject): r for r in store.read(PointwiseRecord)}
    turn2 = point[("chat/turn-2", "tuned")].rendered_prompt
    assert "Name a river in Egypt." in turn2 and gens[("chat", "tuned")].output in turn2
    assert gens[("chat", "base")].output not in turn2  # pointwise: this model's conversation
    pair = next(
        r for r in store.read(PairwiseRecord) if r.prompt_id == "chat/turn-2" and r.order == "xy"
    )
    for role in ("tuned", "base"):  # pairwise: both models' earlier answers
        assert gens[("chat", role)].output in pair.rendered_prompt
        assert gens[("chat/turn-2", role)].output in pair.rendered_prompt
    assert "eliN" not in pair.rendered_prompt  # references only when asked for
    analysis = json.loads((run / "analysis.json").read_text())
    assert analysis["headline"]["n"] == 5  # every turn is judged


def test_reference_guided_judging_and_no_mixing(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run", "--no-bias", "--reference-guided", *models(run, prompt_file(tmp_path)))
    assert result.exit_code == 0, result.output
    store = RunStore(run)
    point = {(r.prompt_id, r.subject, r.criterion): r for r in store.read(PointwiseRecord)}
    some = next(iter({c for _, _, c in point}))
    assert "eliN" in point[("chat/turn-2", "tuned", some)].rendered_prompt
    assert "I cannot know it." in point[("single", "base", some)].rendered_prompt
    assert "Reference answer" not in point[("msgs", "base", some)].rendered_prompt
    assert store.read_manifest()["judge"]["reference_guided"] is True
    mixed = run_cli("judge", str(run), "--no-reference-guided")
    assert mixed.exit_code == 2 and "made with reference answers" in mixed.output


def test_a_failed_turn_stops_its_conversation(tmp_path, monkeypatch):
    monkeypatch.setattr("evalharness.stages.generate.release_backend", lambda *a, **k: None)
    run = tmp_path / "run"
    result = run_cli("generate", *models(run, prompt_file(tmp_path), tuned="fake:t?fail=Egypt"))
    assert result.exit_code == 3, result.output  # failed generations: exit code 3
    assert "records failed" in result.stderr
    gens = by_id(RunStore(run))
    assert gens[("chat", "tuned")].error == "scripted"
    assert gens[("chat/turn-2", "tuned")].error == "turn 1 has no answer to build on"
    assert gens[("chat/turn-2", "base")].error is None
    fake = next(b for (spec, _), b in _LOADED.items() if spec == "fake:t?fail=Egypt")
    assert ("generate", "chat/turn-2") not in fake.calls


def test_mt_bench_runs_both_turns(tmp_path):
    items = load_prompt_set("mt_bench")
    assert len(items) == 80 and all(item.turn_count == 2 for item in items)
    assert len(expand(items)) == 160
    with_refs = [i for i in items if i.references]
    assert len(with_refs) == 39 and {i.category for i in with_refs} >= {"math", "coding"}
    run = tmp_path / "run"
    result = run_cli("run", "--no-bias", "--sample", "2", *models(run, "mt_bench"))
    assert result.exit_code == 0, result.output
    gens = RunStore(run).read(GenerationRecord)
    assert sorted({r.turn for r in gens}) == [1, 2] and len(gens) == 8
