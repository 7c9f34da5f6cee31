"""Known-answer tests of the leaderboard built from a run's records (scripted judge).

The records are those a many-model run writes: one GenerationRecord per model and prompt
(role = the model's name), PairwiseRecords with comparison ``<x>_vs_<y>`` in both orders,
PointwiseRecords with subject = the model's name (tests/battle_sim.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from battle_sim import JUDGE, SimConfig, SimRun, simulate_run

from evalharness.analysis.codec import decode, encode
from evalharness.analysis.leaderboard import (
    battle_comparison,
    battles_from_records,
    build_leaderboard,
    checkpoint_order,
)
from evalharness.analysis.model_leaderboard import Leaderboard
from evalharness.analysis.ratings import SCALE, rate_battles
from evalharness.analysis.run import paired_orders
from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import win_rate
from evalharness.records import PairwiseRecord, probe_comparison
from evalharness.text.rules import load_rules

RULES = load_rules(None)


def board(run: SimRun, config: SimConfig, models: list[str]) -> Leaderboard:
    return build_leaderboard(
        config,
        models,
        run.pairwise,
        run.by_prompt(),
        run.scores(),
        ["overall"],
        paired_orders(run.pairwise),
        RULES,
    )


def test_scripted_strengths_recover_order_and_gaps() -> None:
    strengths = {"a": 0.0, "b": 0.4, "c": 0.8, "d": 1.2}
    run = simulate_run(np.random.default_rng(100), strengths, 250)
    result = board(run, SimConfig(bootstrap=500), list(strengths))
    rows = {r.model: r for r in result.models}
    assert [r.model for r in result.models] == ["a", "b", "c", "d"]
    assert result.reference == "a" and rows["a"].rating.value == 1000.0
    assert [rows[m].rank for m in "dcba"] == [1, 2, 3, 4]
    for model, s in strengths.items():
        truth = 1000.0 + SCALE * s
        assert rows[model].rating.low <= truth <= rows[model].rating.high, (model, truth)
    # the mean criterion score follows the scripted quality
    assert rows["d"].criteria["overall"].value > rows["a"].criteria["overall"].value + 1.0
    # win matrix: P(d beats a) from the ratings, and its complement
    assert result.win_matrix[3][0] == pytest.approx(1 - result.win_matrix[0][3])
    assert result.win_matrix[3][0] > 0.7
    assert rows["d"].rank_low == 1 and rows["a"].rank_high == 4
    assert result.readings == []  # the scripted judge has no style preference


def test_length_only_judge_orders_raw_ratings_by_length_and_control_removes_it() -> None:
    strengths = {"short": 0.0, "mid": 0.0, "long": 0.0}
    lengths = {"short": 30.0, "mid": 60.0, "long": 120.0}
    run = simulate_run(np.random.default_rng(2), strengths, 200, lengths=lengths, length_effect=3.0)
    result = board(run, SimConfig(bootstrap=500), list(strengths))
    rows = {r.model: r for r in result.models}
    assert rows["short"].rating.value < rows["mid"].rating.value < rows["long"].rating.value
    assert rows["long"].rating.low > 1000.0  # raw: clearly above the reference
    for model in ("mid", "long"):
        assert rows[model].controlled_rating.low <= 1000.0 <= rows[model].controlled_rating.high
    length = next(t for t in result.style if t.name == "length")
    assert length.points.low > 0.0
    assert any("rewards longer answers" in s for s in result.readings)
    assert rows["long"].mean_tokens is not None and rows["short"].mean_tokens is not None
    assert rows["long"].mean_tokens > 3 * rows["short"].mean_tokens


def test_confidence_only_judge_works_the_same_way() -> None:
    strengths = {"hedged": 0.0, "plain": 0.0, "bold": 0.0}
    assertive = {"hedged": -2, "plain": 0, "bold": 2}
    run = simulate_run(
        np.random.default_rng(3), strengths, 200, assertive=assertive, confidence_effect=1.0
    )
    result = board(run, SimConfig(bootstrap=500), list(strengths))
    rows = {r.model: r for r in result.models}
    assert rows["hedged"].rating.value < rows["plain"].rating.value < rows["bold"].rating.value
    assert rows["bold"].rating.low > 1000.0
    for model in ("plain", "bold"):
        assert rows[model].controlled_rating.low <= 1000.0 <= rows[model].controlled_rating.high
    assert next(t for t in result.style if t.name == "confidence").points.low > 0.0
    assert any("more assertive wording" in s for s in result.readings)
    density = {m: rows[m].confidence_density for m in rows}
    assert density["hedged"] is not None and density["bold"] is not None
    assert density["hedged"] < 0.0 < density["bold"]


def test_two_models_give_todays_headline_win_rate() -> None:
    """base and tuned: the rating's win probability against the reference (base) is the
    headline win rate (order-averaged preference, tie band, a tie counting one half)."""
    run = simulate_run(np.random.default_rng(4), {"base": 0.0, "tuned": 0.5}, 120)
    tuned_first = [
        PairwiseRecord(
            **{
                **r.to_dict(),
                "comparison": "tuned_vs_base",
                "x": "tuned",
                "y": "base",
                "p_x": 1.0 - float(r.p_x or 0.0),
            }
        )  # fmt: skip
        for r in run.pairwise
    ]
    run = SimRun(run.generations, tuned_first, run.pointwise)
    assert battle_comparison("tuned", "base") == "tuned_vs_base"
    pairs = paired_orders(tuned_first)["tuned_vs_base"]
    today = win_rate([(a + b) / 2 for a, b in pairs.values()], 0.1, StatsSettings(0, 500, 0.95))
    result = board(run, SimConfig(bootstrap=500, reference="base"), ["base", "tuned"])
    tuned = next(r for r in result.models if r.model == "tuned")
    assert 0.55 < today.value < 0.75  # not a degenerate all-wins run
    assert tuned.win_vs_reference.value == pytest.approx(today.value, abs=1e-5)
    assert tuned.win_vs_reference.low == pytest.approx(today.low, abs=0.01)
    assert tuned.win_vs_reference.high == pytest.approx(today.high, abs=0.01)


def test_soft_target_uses_each_order() -> None:
    run = simulate_run(np.random.default_rng(5), {"a": 0.0, "b": 0.3, "c": 0.6}, 30, soft=True)
    outcome = battles_from_records(run.pairwise, run.by_prompt(), RULES, "outcome")
    soft = battles_from_records(run.pairwise, run.by_prompt(), RULES, "soft")
    assert len(soft) == 2 * len(outcome) == 2 * 3 * 30
    assert {b.p_a for b in outcome} <= {0.0, 0.5, 1.0}
    ratings = rate_battles(soft, settings=StatsSettings(0, 200, 0.95))
    assert ratings.raw_of("c").rating.estimate > ratings.raw_of("a").rating.estimate


def test_controlled_difference_matches_ratings_and_roundtrips() -> None:
    run = simulate_run(np.random.default_rng(6), {"a": 0.0, "b": 0.5, "c": 1.0}, 80)
    result = board(run, SimConfig(bootstrap=300), ["a", "b", "c"])
    c, a = result.models[2], result.models[0]
    diff = result.controlled_difference[2][0]
    assert diff.value == pytest.approx(c.controlled_rating.value - a.controlled_rating.value)
    assert diff.low < diff.value < diff.high
    assert result.controlled_difference[1][1].value == 0.0
    again = decode(Leaderboard, encode(result), "leaderboard")
    assert encode(again) == encode(result)


def test_probes_give_lbr_and_cbr_per_model() -> None:
    run = simulate_run(np.random.default_rng(7), {"a": 0.0, "b": 0.0, "c": 0.0}, 40)
    probes = []
    for pid in sorted(run.by_prompt()):
        for model, p_padded in (("a", 0.9), ("b", 0.5), ("c", 0.5)):
            for order in ("xy", "yx"):
                probes.append(
                    PairwiseRecord(
                        prompt_id=pid,
                        comparison=probe_comparison("padded", model),
                        x=f"{model}/padded",
                        y=model,
                        order=order,
                        judge=JUDGE,
                        rubric="r",
                        template="t",
                        rendered_prompt="",
                        probs={},
                        mass=1.0,
                        p_first=None,
                        p_x=p_padded,
                        low_mass=False,
                        mode="text",
                    )  # fmt: skip
                )
    pairs = paired_orders([*run.pairwise, *probes])
    result = build_leaderboard(
        SimConfig(bootstrap=200), ["a", "b", "c"], [*run.pairwise, *probes], run.by_prompt(),
        run.scores(), ["overall"], pairs, RULES,
    )  # fmt: skip
    rows = {r.model: r for r in result.models}
    assert rows["a"].lbr is not None and rows["b"].lbr is not None
    assert rows["a"].lbr.value == pytest.approx(0.8)
    assert rows["b"].lbr.value == pytest.approx(0.0)
    assert rows["a"].cbr is not None and rows["a"].cbr.n == 0  # no confidence probes


def test_checkpoint_order() -> None:
    assert checkpoint_order(["sft-2000", "sft-1000", "sft-500"]) == [
        "sft-500", "sft-1000", "sft-2000",
    ]  # fmt: skip
    assert checkpoint_order(["sft-2000", "dpo-500"]) is None  # steps of different runs
    assert checkpoint_order(["base", "sft-1000"]) is None
    assert checkpoint_order(["x", "y", "z"], ["z", "x", "q"]) == ["z", "x"]
    assert checkpoint_order(["a-1", "b-1"]) is None  # two models at one step


def test_no_battle_rows_is_a_one_line_error() -> None:
    from evalharness.errors import HarnessError

    run = simulate_run(np.random.default_rng(8), {"a": 0.0, "b": 0.0, "c": 0.0}, 3)
    with pytest.raises(HarnessError, match="no decided battle"):
        build_leaderboard(SimConfig(), ["a", "b", "c"], [], run.by_prompt(), {}, [], {}, RULES)


def test_a_model_that_wins_every_battle_is_flagged() -> None:
    """A deterministic judge (the better model always wins) separates the data: the gap is
    not estimable and the leaderboard says so; a noisy judge raises no such warning."""
    strengths = {"a": 0.0, "b": 0.5, "c": 1.0}
    run = simulate_run(np.random.default_rng(9), strengths, 40, soft=True)
    hard = [
        PairwiseRecord(**{**r.to_dict(), "p_x": 1.0 if (r.p_x or 0.0) > 0.5 else 0.0})
        for r in run.pairwise
    ]
    result = board(
        SimRun(run.generations, hard, run.pointwise), SimConfig(bootstrap=100), list(strengths)
    )
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith("c won every decided battle against b, a")
    noisy = board(
        simulate_run(np.random.default_rng(9), strengths, 40),
        SimConfig(bootstrap=100),
        list(strengths),
    )
    assert noisy.warnings == []


def test_which_runs_get_a_leaderboard() -> None:
    from evalharness.analysis.run import wants_leaderboard

    assert not wants_leaderboard(["base", "tuned"])  # analysis.json as it always was
    assert wants_leaderboard(["a", "b"])  # no base-vs-tuned headline to fall back on
    assert wants_leaderboard(["base", "tuned", "dpo"])
