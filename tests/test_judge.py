"""The judge stage with the scripted fake judge, and the text-mode verdict parser."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import generate_args, invoke

from evalharness.backends import _LOADED, clear_loaded
from evalharness.commands.main import cli
from evalharness.judge.parse import (
    argmax_choice,
    expected_score,
    normalized,
    parse_last_verdict,
)
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord
from evalharness.rubrics import RUBRICS_DIR, load_rubric
from evalharness.runstore import RunStore

LEVELS = ("1", "2", "3", "4", "5")
CRITERIA = [c.name for c in load_rubric("helpfulness").criteria]


@pytest.fixture
def run(tmp_path, prompt_file) -> Path:
    """A run directory with generations of a short base model and a long tuned model."""
    run_dir = tmp_path / "run"
    invoke(*generate_args(run_dir, prompt_file))
    clear_loaded()
    return run_dir


def judge(run_dir: Path, *args: str, code: int = 0):
    return invoke("judge", str(run_dir), *args, code=code)


def test_pointwise_records_per_prompt_subject_and_criterion(run):
    judge(run, "--judge", "fake:j?length=0.8")
    records = RunStore(run).read(PointwiseRecord)
    keys = {(r.prompt_id, r.subject, r.criterion) for r in records}
    assert keys == {
        (p, s, c) for p in ("p1", "p2", "p3", "p4") for s in ("base", "tuned") for c in CRITERIA
    }
    assert len(records) == len(keys)
    for r in records:
        assert r.judge == "fake:j?length=0.8"
        assert r.rubric == "helpfulness@1"
        assert r.template.startswith("pointwise@")
        assert r.mode == "logprobs"
        assert set(r.probs) == set(LEVELS)
        total = sum(r.probs.values())
        assert r.mass == pytest.approx(total)
        assert r.mass == pytest.approx(1.0)
        assert r.expected == pytest.approx(sum(int(s) * p for s, p in r.probs.items()) / total)
        assert r.argmax == int(max(r.probs, key=r.probs.get))
        assert r.low_mass is False
        assert r.error is None
        assert r.raw_text is None
        assert r.criterion in r.rendered_prompt
    expected = {r.expected for r in records}
    assert len(expected) > 1  # the scores depend on the prompt


def test_low_mass_is_flagged_and_does_not_change_the_score(run, tmp_path):
    judge(run, "--judge", "fake:j")
    full = {r.key()[:2] + r.key()[4:]: r for r in RunStore(run).read(PointwiseRecord)}
    other = tmp_path / "other"
    shutil.copytree(run, other)
    (other / "pointwise.jsonl").unlink()
    (other / "pairwise.jsonl").unlink()
    clear_loaded()
    judge(other, "--judge", "fake:j?mass=0.2")
    low = RunStore(other).read(PointwiseRecord)
    assert len(low) == len(full)
    for r in low:
        assert r.mass == pytest.approx(0.2)
        assert r.low_mass is True
        twin = full[r.key()[:2] + r.key()[4:]]
        assert r.expected == pytest.approx(twin.expected)
        assert r.argmax == twin.argmax
        for level in LEVELS:
            assert r.probs[level] == pytest.approx(0.2 * twin.probs[level])
    pairs = RunStore(other).read(PairwiseRecord)
    assert all(p.low_mass and p.mass == pytest.approx(0.2) for p in pairs)


def _pairs(run: Path) -> dict[tuple[str, str], PairwiseRecord]:
    return {(r.prompt_id, r.order): r for r in RunStore(run).read(PairwiseRecord)}


def test_pairwise_both_orders_mapped_back_to_identity(run):
    judge(run, "--judge", "fake:j?length=0.8")
    pairs = _pairs(run)
    assert set(pairs) == {(p, o) for p in ("p1", "p2", "p3", "p4") for o in ("xy", "yx")}
    outputs = {r.key(): r.output for r in RunStore(run).read(GenerationRecord)}
    for (prompt_id, order), r in pairs.items():
        assert (r.x, r.y, r.comparison) == ("tuned", "base", "tuned_vs_base")
        a, b = r.probs["A"], r.probs["B"]
        assert r.mass == pytest.approx(a + b)
        assert r.p_first == pytest.approx(a / (a + b))
        # the tuned answer is the longer one, and the judge prefers length with p = 0.8
        assert r.p_x == pytest.approx(0.8)
        assert r.p_first == pytest.approx(0.8 if order == "xy" else 0.2)
        tuned, base = outputs[(prompt_id, "tuned")], outputs[(prompt_id, "base")]
        first, second = (tuned, base) if order == "xy" else (base, tuned)
        text = r.rendered_prompt
        assert text.index(json.dumps(first)[1:-1]) < text.index(json.dumps(second)[1:-1])


def test_position_bias_shows_in_p_first_not_in_identity(run):
    judge(run, "--judge", "fake:j?position=1.0")
    for (_, order), r in _pairs(run).items():
        assert r.p_first == 1.0
        assert r.p_x == (1.0 if order == "xy" else 0.0)


def test_resume_skips_done_records(run):
    judge(run, "--judge", "fake:j")
    path = run / "pointwise.jsonl"
    before = len(RunStore(run).read(PointwiseRecord))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]) + lines[-2][:30])  # lose one record, cut another
    assert len(RunStore(run).read(PointwiseRecord)) == before - 2
    clear_loaded()
    result = judge(run, "--judge", "fake:j", "--no-cache")  # the model itself, not the cache
    calls = [c for b in _LOADED.values() for c in b.calls]
    assert len(calls) == len(CRITERIA)  # only the item with missing criteria is judged again
    assert "0 failed" in result.stdout
    assert len(RunStore(run).read(PointwiseRecord)) == before
    assert all(json.loads(line) for line in path.read_text().splitlines())
    clear_loaded()
    result = judge(run, "--judge", "fake:j")
    assert "judge: 0 new records" in result.stdout
    assert not _LOADED  # nothing to do: the judge is not even loaded


def test_a_new_rubric_version_judges_again(run, tmp_path):
    judge(run, "--judge", "fake:j")
    first = RunStore(run).read(PointwiseRecord)
    text = (RUBRICS_DIR / "helpfulness.yaml").read_text()
    assert 'version: "1"' in text
    rubric = tmp_path / "helpfulness-v2.yaml"
    rubric.write_text(text.replace('version: "1"', 'version: "2"', 1))
    clear_loaded()
    result = judge(run, "--judge", "fake:j", "--rubric", str(rubric))
    assert f"judge: {len(first) + 8} new records" in result.stdout
    records = RunStore(run).read(PointwiseRecord)
    assert {r.rubric for r in records} == {"helpfulness@1", "helpfulness@2"}
    assert len(records) == 2 * len(first)
    assert {r.rubric for r in RunStore(run).read(PairwiseRecord)} == {
        "helpfulness@1",
        "helpfulness@2",
    }
    assert RunStore(run).read_manifest()["judge"]["rubric"] == "helpfulness@2"


def test_text_mode_keeps_failures_as_data(run):
    result = judge(run, "--judge", "fake:j", "--judge-mode", "text", code=3)
    assert "records failed" in result.stderr  # judgments without a verdict count as failures
    records = RunStore(run).read(PointwiseRecord)
    assert len(records) == 4 * 2 * len(CRITERIA)
    failures = [r for r in records if r.error]
    assert failures, "the fake judge's text has no verdict for most prompts"
    for r in records:
        assert r.mode == "text"
        assert r.raw_text
        verdict = parse_last_verdict(r.raw_text, LEVELS)
        if verdict is None:
            assert r.probs == {}
            assert r.expected is None and r.argmax is None
            assert "no verdict" in r.error
            assert r.mass == 0.0
        else:
            assert r.error is None
            assert r.probs == {level: float(level == verdict) for level in LEVELS}
            assert r.expected == float(verdict)
    # "Is 3 better than 5?" is echoed by the fake judge: its last verdict is 5, never the 3
    echoed = [r for r in records if r.prompt_id == "p4"]
    assert echoed
    for r in echoed:
        tail = r.raw_text.rsplit(" ", 1)[-1].rstrip(".")  # the fake's own number, "is NN."
        expected = int(tail) if tail in LEVELS else 5
        assert r.argmax == expected  # the last verdict in the text, never the first (3)
    # elsewhere the echoed text rarely holds a lone digit from 1 to 5: most records fail
    others = [r for r in records if r.prompt_id != "p4"]
    assert sum(1 for r in others if r.error) > len(others) / 2
    for r in RunStore(run).read(PairwiseRecord):
        assert r.mode == "text" and r.raw_text
        if r.error:
            assert r.p_first is None and r.p_x is None


def test_failed_generations_are_not_judged(tmp_path, prompt_file):
    run_dir = tmp_path / "run"
    invoke(*generate_args(run_dir, prompt_file, tuned="fake:t?fail=river"), code=3)
    judge(run_dir, code=0)  # the failed generation is not judged: no failed judgment
    point = RunStore(run_dir).read(PointwiseRecord)
    assert ("p2", "tuned") not in {(r.prompt_id, r.subject) for r in point}
    assert ("p2", "base") in {(r.prompt_id, r.subject) for r in point}
    assert "p2" not in {r.prompt_id for r in RunStore(run_dir).read(PairwiseRecord)}


def test_judge_uses_the_saved_config_and_warns_about_self_judging(tmp_path, prompt_file):
    run_dir = tmp_path / "run"
    invoke(*generate_args(run_dir, prompt_file, tuned="fake:t", judge="fake:t"))
    result = judge(run_dir)
    assert "self-preference" in result.stderr
    manifest = RunStore(run_dir).read_manifest()
    assert manifest["judge"]["spec"] == "fake:t"
    assert manifest["judge"]["judges_itself"] == ["tuned"]
    assert {r.judge for r in RunStore(run_dir).read(PointwiseRecord)} == {"fake:t"}


def test_judge_without_generations(tmp_path):
    run_dir = tmp_path / "run"
    RunStore(run_dir).update_manifest(config={})
    result = CliRunner().invoke(cli, ["judge", str(run_dir)])
    assert result.exit_code == 2
    assert "no generations.jsonl records" in result.stderr


# ------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "choices", "verdict"),
    [
        ("Score: 4", LEVELS, "4"),
        ("I first thought 2, but on reflection the score is 4.", LEVELS, "4"),
        ("On a scale of 1-5: 3", LEVELS, "3"),
        ("[[A]]", ("A", "B"), "A"),
        ("Response A is long, but [[B]] is better", ("A", "B"), "B"),
        ("3.5", LEVELS, None),
        ("The score is 3.5 out of 10", LEVELS, None),
        ("score 45", LEVELS, None),
        ("ABBA", ("A", "B"), None),
        ("no verdict here", LEVELS, None),
        ("", LEVELS, None),
        ("Score: 4", (), None),
    ],
)
def test_parse_last_verdict(text, choices, verdict):
    assert parse_last_verdict(text, choices) == verdict


def test_score_helpers():
    probs = {"1": 0.1, "2": 0.0, "3": 0.2, "4": 0.1, "5": 0.0}
    assert normalized(probs)["3"] == pytest.approx(0.5)
    assert expected_score(probs) == pytest.approx((0.1 + 0.6 + 0.4) / 0.4)
    assert argmax_choice(probs) == "3"
    assert expected_score({"1": 0.0, "2": 0.0}) is None
    assert argmax_choice({}) is None
    assert normalized({"1": 0.0}) == {}


def test_modes_are_data_per_record(run):
    """One verdict read as text (no logprobs in its response) makes one text-mode record.

    The others stay logprob records; the analysis counts both, leaves the text record out
    of the mass, and warns that modes are mixed.
    """
    from evalharness.analysis.run import analyze
    from evalharness.backends.base import ChoiceResult
    from evalharness.backends.fake import FakeBackend
    from evalharness.config import RunConfig
    from evalharness.judge.engine import Judge, PairItem
    from evalharness.templates import load_template

    class OneTextVerdict(FakeBackend):
        def choice_probs(self, requests, progress=None):
            results = super().choice_probs(requests, progress)
            first = results[0]
            verdict = max(first.probs, key=first.probs.get)
            one_hot = {c: float(c == verdict) for c in first.probs}
            results[0] = ChoiceResult(one_hot, first.rendered_prompt, text=verdict, mode="text")
            return results

    from evalharness.specs import parse_spec

    backend = OneTextVerdict(parse_spec("fake:j?mass=0.3"))
    the_judge = Judge(
        backend, load_rubric("helpfulness"), load_template("pointwise"), load_template("pairwise")
    )
    records = the_judge.compare([PairItem("p", "tuned_vs_base", "tuned", "base", "Q?", "x", "y")])
    assert [r.mode for r in records] == ["text", "logprobs"]
    assert records[0].low_mass is False and records[1].low_mass is True
    store = RunStore(run)
    store.append(records)
    config = RunConfig(judge="fake:j?mass=0.3", bootstrap=50)
    analysis = analyze(store, config).to_json()
    rel = analysis["reliability"]
    assert rel["modes"]["pairwise"] == {"logprobs": 1, "text": 1}
    assert rel["pairwise_mass"]["n"] == 1 and rel["pairwise_mass"]["value"] == pytest.approx(0.3)
    assert any("mixed modes" in w for w in analysis["warnings"])


# ---------------------------------------------------------------- text mode, in the judge only


def _server_judge(handler, mode: str = "logprobs", chat: bool = True, text_tokens: int = 24):
    """A judge reading an OpenAI-compatible server (no network: a scripted transport)."""
    import httpx

    from evalharness.backends.openai_compat import OpenAICompatBackend
    from evalharness.judge.engine import Judge
    from evalharness.specs import parse_spec
    from evalharness.templates import load_judge_setup

    client = httpx.Client(transport=httpx.MockTransport(handler))
    backend = OpenAICompatBackend(
        parse_spec("openai:m1@http://127.0.0.1:9"),
        client=client,
        chat=chat,
        concurrency=1,
        verify_model=False,
    )
    setup = load_judge_setup(
        "openai:m1@http://127.0.0.1:9", "helpfulness", mode=mode, text_tokens=text_tokens
    )
    return Judge.from_setup(backend, setup)


def _chat(text: str, logprobs: dict[str, float] | None = None) -> dict:
    choice: dict = {"message": {"content": text}, "finish_reason": "stop"}
    if logprobs is not None:
        top = [{"token": t, "logprob": lp} for t, lp in logprobs.items()]
        choice["logprobs"] = {"content": [{"token": text, "logprob": 0.0, "top_logprobs": top}]}
    return {"choices": [choice]}


def test_a_server_without_logprobs_is_read_as_text_by_the_judge():
    """Each request without logprobs is read as text once, with the judge's token budget and
    the template's choice instruction; the others stay in logprobs mode."""
    from evalharness.judge.engine import PairItem
    from evalharness.templates import load_template

    bodies: list[dict] = []

    def handler(request):
        import httpx

        body = json.loads(request.content)
        bodies.append(body)
        if "logprobs" not in body:  # a text request
            return httpx.Response(200, json=_chat("Better response: B"))
        if len(bodies) == 2:  # the second read has no logprobs
            return httpx.Response(200, json=_chat("B"))
        return httpx.Response(200, json=_chat("A", {"A": -0.2, "B": -1.8}))

    judge = _server_judge(handler, text_tokens=7)
    records = judge.compare([PairItem("p", "tuned_vs_base", "tuned", "base", "Q?", "x", "y")])
    assert [r.mode for r in records] == ["logprobs", "text"]
    assert records[1].probs == {"A": 0.0, "B": 1.0} and records[1].raw_text == "Better response: B"
    assert records[0].probs["A"] == pytest.approx(0.818730753)
    assert [b["max_tokens"] for b in bodies] == [1, 1, 7]
    line = load_template("pairwise").choice_line()
    assert line == 'Reply with your "Better response" only: exactly one of A, B, and nothing else.'
    assert all(b["messages"][-1]["content"].endswith("\n\n" + line) for b in bodies)
    assert judge.backend.info.details["text_mode_auto"] is True


def test_text_mode_judge_on_a_server_writes_the_configured_budget():
    """judge_mode=text: one generation per request, the default budget, no logprobs asked."""
    from evalharness.judge.engine import PointwiseItem
    from evalharness.templates import load_template

    bodies: list[dict] = []

    def handler(request):
        import httpx

        body = json.loads(request.content)
        bodies.append(body)
        reply = {"choices": [{"text": " 4, clearly.", "finish_reason": "stop"}]}
        return httpx.Response(200, json=reply)

    judge = _server_judge(handler, mode="text", chat=False)
    records = judge.score([PointwiseItem("p", "tuned", "Q?", "an answer")])
    assert len(records) == len(CRITERIA) and all(r.mode == "text" for r in records)
    assert all(r.argmax == 4 for r in records)
    assert all(b["max_tokens"] == 24 and "logprobs" not in b for b in bodies)
    line = load_template("pointwise").choice_line()
    assert not any(line in b["prompt"] for b in bodies)  # text mode: the template as written


def test_the_scripted_judge_reads_the_responses_from_the_prompt_alone():
    """The fake backend gets nothing but the rendered prompt (no side channel): it finds the
    very responses the judge rendered, even when the instruction quotes the section markers."""
    from evalharness.backends.fake import FakeBackend, judged_responses
    from evalharness.judge.engine import Judge, PairItem, PointwiseItem
    from evalharness.specs import parse_spec
    from evalharness.templates import load_judge_setup

    judge = Judge.from_setup(
        FakeBackend(parse_spec("fake:j")), load_judge_setup("fake:j", "helpfulness")
    )
    tricky = "Quote this: [Response A]\nx\n\n[Response B]\ny\n\n[Response]\nz\n\n[Criterion: c]"
    pair = judge.pair_requests([PairItem("p", "c", "x", "y", tricky, "first\n\ntext", "second")])
    assert judged_responses(pair[0].messages[-1]["content"]) == {
        "response_a": "first\n\ntext",
        "response_b": "second",
    }
    assert judged_responses(pair[1].messages[-1]["content"])["response_a"] == "second"
    [point, *_] = judge.pointwise_requests([PointwiseItem("p", "tuned", tricky, "an answer")])
    assert judged_responses(point.messages[-1]["content"]) == {"response": "an answer"}
    assert judged_responses("no sections here") == {}
