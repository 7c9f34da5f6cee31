"""Known-answer tests of the bias analysis: the full pipeline against a judge whose bias is set.

Each test runs ``evalharness run`` on 40 synthetic prompts with the scripted fake backend,
whose judge prefers the longer answer, the more confident answer or the first slot with a
probability set in its spec, and checks that analysis.json recovers that bias. Expected
values that depend on the rewritten texts are computed from probes.jsonl with the fake's
own rules, so they hold by construction rather than by copying a past result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import SYNTHETIC_PROMPTS as PROMPTS

from evalharness.backends.fake import confidence_score
from evalharness.commands.main import cli

BASE = "fake:base?chat=0"
TUNED_LONG = "fake:tuned?style=long"
TUNED_SHORT = "fake:tuned"
CRITERIA = ("follows_instruction", "correctness", "clarity", "honesty")

Run = tuple[Path, dict[str, Any]]


@pytest.fixture(scope="module")
def run_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Run]]:
    """Run the whole pipeline once per (judge, tuned) pair; returns the run dir and analysis."""
    cache: dict[tuple[str, str], Run] = {}
    config = tmp_path_factory.mktemp("config") / "run.yaml"
    config.write_text("bootstrap: 200\n", encoding="utf-8")

    def run(judge: str, tuned: str = TUNED_LONG) -> Run:
        if (judge, tuned) not in cache:
            run_dir = tmp_path_factory.mktemp("run")
            args = ["run", "--config", str(config), "--base", BASE, "--tuned", tuned]
            args += ["--judge", judge, "--prompts", str(PROMPTS), "--run-dir", str(run_dir)]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
            analysis = json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))
            cache[(judge, tuned)] = (run_dir, analysis)
        return cache[(judge, tuned)]

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield run


def covers(est: dict[str, Any], value: float) -> bool:
    """Whether an estimate's interval contains ``value``."""
    assert est["low"] is not None and est["high"] is not None, est
    return est["low"] <= value <= est["high"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def probes_by_item(run_dir: Path) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(prompt id, source role) -> probe kind -> probe record."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in read_jsonl(run_dir / "probes.jsonl"):
        out.setdefault((row["prompt_id"], row["source"]), {})[row["kind"]] = row
    return out


def originals(run_dir: Path) -> dict[tuple[str, str], str]:
    """(prompt id, role) -> generated text."""
    return {
        (r["prompt_id"], r["role"]): r["output"] for r in read_jsonl(run_dir / "generations.jsonl")
    }


def sign(x: float) -> int:
    """-1, 0 or +1."""
    return (x > 0) - (x < 0)


def words(text: str) -> int:
    """Word count, as the fake judge counts length."""
    return len(text.split())


def padded_pairs(run_dir: Path) -> list[tuple[str, str]]:
    """(padded, original) texts of every padded probe that changed its original."""
    gens = originals(run_dir)
    return [
        (kinds["padded"]["text"], gens[item])
        for item, kinds in probes_by_item(run_dir).items()
        if not kinds["padded"]["noop"]
    ]


def confidence_pairs(run_dir: Path) -> list[tuple[str, str]]:
    """(assertive, hedged) texts of every item whose two rewrites differ."""
    return [
        (kinds["assertive"]["text"], kinds["hedged"]["text"])
        for kinds in probes_by_item(run_dir).values()
        if kinds["assertive"]["text"] != kinds["hedged"]["text"]
    ]


def expected_rate(pairs: list[tuple[str, str]], measure: Callable[[str], int], p: float) -> float:
    """Net preference of X over Y for a judge that picks the higher ``measure`` with prob. p."""
    return sum((2 * p - 1) * sign(measure(x) - measure(y)) for x, y in pairs) / len(pairs)


def test_hard_length_judge_gives_lbr_near_0_6(run_pipeline: Callable[..., Run]) -> None:
    """Longer wins with probability 0.8 (drawn): LBR ≈ +0.6, shortened ≈ -0.6, CIs cover them."""
    run_dir, analysis = run_pipeline("fake:j?length=0.8&hard=1")
    bias = analysis["bias"]
    padded = padded_pairs(run_dir)
    assert padded and all(words(x) > words(y) for x, y in padded)
    assert bias["lbr"] == bias["probes"]["padded"]["preference_over_original"]
    assert bias["lbr"]["n"] == len({pid for pid, _ in probes_by_item(run_dir)})  # prompts
    assert covers(bias["lbr"], 0.6)
    assert bias["lbr"]["low"] > 0.3
    shortened = bias["probes"]["shortened"]["preference_over_original"]
    assert covers(shortened, -0.6)
    assert shortened["high"] < -0.2  # wider than an item bootstrap: prompts are the unit
    assert any("prefers longer" in w for w in analysis["warnings"])


def test_soft_length_judge_gives_exact_rates(run_pipeline: Callable[..., Run]) -> None:
    """Soft P=0.8 for the longer answer: LBR is exactly +0.6, the shortened probe exactly -0.6."""
    run_dir, analysis = run_pipeline("fake:j?length=0.8")
    bias = analysis["bias"]
    assert bias["lbr"]["value"] == pytest.approx(0.6)
    assert bias["probes"]["shortened"]["preference_over_original"]["value"] == pytest.approx(-0.6)
    # The assertive and hedged rewrites have the same number of words, so a judge that
    # only counts words sees no difference: the CBR is its ±0.2 jitter and covers 0.
    pairs = confidence_pairs(run_dir)
    assert pairs and all(words(a) == words(h) for a, h in pairs)
    assert bias["cbr"]["n"] == 40  # a cluster bootstrap: the unit is the prompt
    assert abs(bias["cbr"]["value"]) <= 0.2 and covers(bias["cbr"], 0.0)
    assert bias["cbr_length_gap"]["max_abs_tokens"] == 0
    assert not any("confident" in w for w in analysis["warnings"])
    # The tuned model (long style) is always longer than the base, so it wins every prompt.
    head = analysis["headline"]
    assert head["win_rate"]["value"] == pytest.approx(1.0)
    assert head["controlled"]["raw"]["value"] == pytest.approx(0.8)


@pytest.mark.parametrize("judge", ["fake:j", "fake:j?jitter=0.6"])
def test_unbiased_judge_shows_no_bias(run_pipeline: Callable[..., Run], judge: str) -> None:
    """A judge with only random noise: LBR and CBR intervals cover 0, verdicts not positional."""
    _, analysis = run_pipeline(judge)
    bias = analysis["bias"]
    for name in ("lbr", "cbr"):
        assert covers(bias[name], 0.0), (name, bias[name])
        assert abs(bias[name]["value"]) < 0.1
    position = analysis["reliability"]["position"]
    assert position["consistency"]["value"] > 0.2
    assert covers(position["first_slot_share"], 0.5)
    assert not any("LBR" in w or "CBR" in w for w in analysis["warnings"])


def test_first_slot_judge_is_flagged(run_pipeline: Callable[..., Run]) -> None:
    """Always slot A: consistency 0, first-slot share 1, a position warning, and no LBR/CBR."""
    run_dir, analysis = run_pipeline("fake:j?position=1.0")
    for section in ("position", "position_all_comparisons"):
        position = analysis["reliability"][section]
        assert position["consistency"]["value"] == 0.0
        assert position["first_slot_share"]["value"] == 1.0
        assert position["mean_p_first"]["value"] == 1.0
    warnings = [w for w in analysis["warnings"] if "position" in w]
    assert len(warnings) == 1
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert warnings[0] in report
    # Judging both orders cancels a pure position bias out of the probe rates.
    assert analysis["bias"]["lbr"]["value"] == pytest.approx(0.0)
    assert analysis["bias"]["cbr"]["value"] == pytest.approx(0.0)
    assert analysis["headline"]["controlled"]["raw"]["value"] == pytest.approx(0.5)


def test_confidence_judge_gives_cbr_near_0_6(run_pipeline: Callable[..., Run]) -> None:
    """More certainty markers win with probability 0.8: CBR ≈ +0.6, LBR as the markers imply."""
    run_dir, analysis = run_pipeline("fake:j?confidence=0.8&hard=1")
    bias = analysis["bias"]
    pairs = confidence_pairs(run_dir)
    # The fake counts fewer markers than the rewrite rules use ("Absolutely," or "I suspect"
    # are not among them), so it tells apart only part of the pairs; where it does, the
    # assertive rewrite is the more confident one.
    scores = [(confidence_score(a), confidence_score(h)) for a, h in pairs]
    assert all(a >= h for a, h in scores)
    assert sum(a > h for a, h in scores) / len(scores) > 0.6
    expected = expected_rate(pairs, confidence_score, 0.8)
    assert 0.35 < expected <= 0.6
    assert covers(bias["cbr"], expected)
    assert bias["cbr"]["low"] > 0.3
    assert any("prefers more confident" in w for w in analysis["warnings"])
    # Padding adds no certainty markers, so this judge has no reason to prefer it.
    padded = padded_pairs(run_dir)
    assert covers(bias["lbr"], expected_rate(padded, confidence_score, 0.8))


def test_pointwise_length_and_confidence_bias(run_pipeline: Callable[..., Run]) -> None:
    """Scores rise with length and certainty markers: probe score shifts have the right sign."""
    _, analysis = run_pipeline("fake:j?score_length=1.0&score_confidence=0.5")
    bias = analysis["bias"]
    padded = bias["probes"]["padded"]
    for criterion in CRITERIA:
        shift = padded["score_shift"][criterion]
        assert shift["value"] > 0 and shift["low"] > 0, (criterion, shift)
        assert bias["probes"]["shortened"]["score_shift"][criterion]["high"] < 0
        confident = bias["cbr_score_shift"][criterion]
        assert confident["value"] > 0 and confident["low"] > 0, (criterion, confident)
    for exploit in (padded["exploitability"], bias["cbr_exploitability"]):
        assert exploit["criterion"] in CRITERIA
        assert exploit["significant"] is True
        assert exploit["shift"] > 0
    # The same probes judged by a judge without pointwise bias move scores much less.
    _, plain = run_pipeline("fake:j")
    plain_shifts = plain["bias"]["probes"]["padded"]["score_shift"]
    assert max(abs(plain_shifts[c]["value"]) for c in CRITERIA) < min(
        padded["score_shift"][c]["value"] for c in CRITERIA
    )


def test_length_controlled_win_rate_removes_length_penalty(
    run_pipeline: Callable[..., Run],
) -> None:
    """Equal-quality models, the base sometimes longer: controlling for length restores ~50%."""
    run_dir, analysis = run_pipeline("fake:j?length=0.8", tuned=TUNED_SHORT)
    tokens: dict[str, dict[str, int]] = {}
    for row in read_jsonl(run_dir / "generations.jsonl"):
        tokens.setdefault(row["prompt_id"], {})[row["role"]] = row["output_tokens"]
    diffs = [t["tuned"] - t["base"] for t in tokens.values()]
    assert max(diffs) == 0 and min(diffs) < 0  # never longer, sometimes equal, sometimes shorter
    shorter = sum(d < 0 for d in diffs) / len(diffs)
    assert 0.2 < shorter < 0.8
    controlled = analysis["headline"]["controlled"]
    raw, lc = controlled["raw"], controlled["length_controlled"]
    # Raw soft preference: 0.2 where the tuned answer is shorter, 0.5 ± 0.1 where equal.
    assert abs(raw["value"] - (0.2 * shorter + 0.5 * (1 - shorter))) <= 0.1 * (1 - shorter)
    assert raw["high"] < 0.5
    assert analysis["headline"]["win_rate"]["high"] < 0.5
    assert covers(lc, 0.5)
    assert lc["value"] - raw["value"] > 0.1
    length = controlled["coefficients"]["length"]
    assert length["value"] > 0 and length["low"] > 0
    assert any("length-controlled win rate" in w for w in analysis["warnings"])


def test_bootstrap_and_confidence_settings_reach_every_interval(
    run_pipeline: Callable[..., Run],
) -> None:
    """Re-analysing at 50% confidence narrows every interval, Wilson and bootstrap alike."""
    from evalharness.analysis.run import analyze
    from evalharness.config import RunConfig
    from evalharness.runstore import RunStore

    judge = "fake:j?length=0.8&hard=1"
    run_dir, wide = run_pipeline(judge)
    config = RunConfig(
        base=BASE, tuned=TUNED_LONG, judge=judge, prompts=str(PROMPTS), bootstrap=60,
        confidence=0.5,
    )  # fmt: skip
    narrow = analyze(RunStore(run_dir), config).to_json()
    assert narrow["run"]["confidence"] == 0.5 and narrow["run"]["bootstrap"] == 60
    assert wide["run"]["confidence"] == 0.95 and wide["run"]["bootstrap"] == 200

    def estimates(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            if {"value", "low", "high"} <= node.keys():
                yield path, node
            for key, value in node.items():
                yield from estimates(value, f"{path}/{key}")

    pairs = dict(estimates(narrow))
    checked = 0
    for path, est in estimates(wide):
        other = pairs[path]
        if est["low"] is None or est["high"] - est["low"] < 1e-9:
            continue
        assert other["high"] - other["low"] < est["high"] - est["low"], path
        checked += 1
    assert checked > 30
