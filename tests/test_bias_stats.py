import json
import math
import warnings

import numpy as np
import pytest

from evalharness.analysis.bias import (
    PositionStats,
    exploitability,
    longer_baseline,
    position_stats,
    preference_rate,
    score_shift,
)
from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import Estimate
from evalharness.errors import HarnessError

pytestmark = pytest.mark.filterwarnings("error")


# ----------------------------------------------------------------------------- preference rate


def test_preference_rate_hard_verdicts_for_longer_answer():
    # X (padded) wins with probability 0.8 in either order: d = 2 * 0.8 - 1 = 0.6.
    rng = np.random.default_rng(0)
    n = 400
    x_first = (rng.random(n) < 0.8).astype(float)
    x_second = (rng.random(n) < 0.8).astype(float)
    est = preference_rate(x_first, x_second, settings=StatsSettings(n_resamples=500))
    assert est.low < 0.6 < est.high
    assert est.value == pytest.approx(0.6, abs=0.06)
    assert est.excludes(0.0)


def test_preference_rate_soft_probabilities():
    constant = preference_rate([0.8] * 50, [0.8] * 50)
    assert constant.value == pytest.approx(0.6)
    assert "all values equal" in constant.note
    rng = np.random.default_rng(1)
    p1 = np.clip(rng.normal(0.8, 0.05, 200), 0, 1)
    p2 = np.clip(rng.normal(0.8, 0.05, 200), 0, 1)
    soft = preference_rate(p1, p2, settings=StatsSettings(n_resamples=500))
    assert soft.low < 0.6 < soft.high


def test_preference_rate_unbiased_judge_covers_zero():
    rng = np.random.default_rng(2)
    p1 = rng.beta(2.0, 2.0, 300)  # symmetric around 0.5
    p2 = rng.beta(2.0, 2.0, 300)
    est = preference_rate(p1, p2, settings=StatsSettings(n_resamples=500))
    assert est.low < 0.0 < est.high
    assert not est.excludes(0.0)


def test_preference_rate_position_bias_cancels():
    # A judge that always favours slot A at 0.9 has no preference for X once both orders count.
    est = preference_rate([0.9] * 20, [0.1] * 20)
    assert est.value == pytest.approx(0.0)


def test_preference_rate_validates_input():
    with pytest.raises(HarnessError, match=r"p_x_first has 2, p_x_second has 1"):
        preference_rate([0.5, 0.5], [0.5])
    with pytest.raises(HarnessError, match=r"p_x_second\[0\] = 1.5"):
        preference_rate([0.5], [1.5])


# ----------------------------------------------------------------------------- position


def test_position_stats_always_slot_a():
    rng = np.random.default_rng(3)
    p1 = rng.uniform(0.6, 1.0, 100)
    p2 = rng.uniform(0.6, 1.0, 100)
    stats = position_stats(p1, p2, settings=StatsSettings(n_resamples=300))
    assert isinstance(stats, PositionStats)
    assert stats.consistency.value == 0.0
    assert stats.first_slot_share.value == 1.0
    assert stats.mean_p_first.value == pytest.approx(np.mean(np.r_[p1, p2]))
    assert stats.mean_p_first.low > 0.75
    json.dumps(stats.to_dict(), allow_nan=False)


def test_position_stats_consistent_unbiased_judge():
    rng = np.random.default_rng(4)
    n = 200
    x_better = rng.random(n) < 0.5
    strength = rng.uniform(0.6, 0.95, n)
    p_x = np.where(x_better, strength, 1.0 - strength)  # P(X wins), same in both orders
    stats = position_stats(p_x, 1.0 - p_x, settings=StatsSettings(n_resamples=300))
    assert stats.consistency.value == 1.0
    assert stats.first_slot_share.value == pytest.approx(0.5)
    assert stats.mean_p_first.value == pytest.approx(0.5)


def test_position_stats_ties_and_mixed():
    # item 1 consistent, item 2 slot-A bias, item 3 an exact tie, item 4 consistent
    p1 = [0.9, 0.7, 0.5, 0.2]
    p2 = [0.1, 0.8, 0.3, 0.6]
    stats = position_stats(p1, p2, settings=StatsSettings(n_resamples=300))
    assert stats.consistency.value == pytest.approx(0.5)
    # slot-A verdicts: 1,0 | 1,1 | 0.5,0 | 0,1 -> 4.5 of 8
    assert stats.first_slot_share.value == pytest.approx(4.5 / 8)
    assert stats.mean_p_first.value == pytest.approx(np.mean(p1 + p2))
    assert stats.consistency.n == 4


# ----------------------------------------------------------------------------- score shift


def test_score_shift_sign_and_pairing():
    rng = np.random.default_rng(5)
    orig = rng.uniform(1, 5, 150)
    variant = orig + 0.3 + rng.normal(0, 0.2, 150)
    est = score_shift(orig, variant, settings=StatsSettings(n_resamples=500))
    assert est.value == pytest.approx(0.3, abs=0.05)
    assert est.excludes(0.0)
    assert score_shift(
        variant, orig, settings=StatsSettings(n_resamples=500)
    ).value == pytest.approx(-est.value)


# ----------------------------------------------------------------------------- exploitability


def test_exploitability_picks_largest_absolute_shift():
    shifts = {
        "helpfulness": Estimate(0.10, -0.05, 0.25, 50),
        "correctness": Estimate(-0.40, -0.60, -0.20, 50),
        "style": Estimate(0.30, 0.10, 0.50, 50),
    }
    res = exploitability(shifts)
    assert res["criterion"] == "correctness"
    assert res["shift"] == pytest.approx(-0.40)
    assert res["ranking"] == ["correctness", "style", "helpfulness"]
    assert res["significant"] is True
    json.dumps(res)


def test_exploitability_not_significant_and_empty():
    res = exploitability(
        {"a": Estimate(0.2, -0.1, 0.5, 10), "b": Estimate(math.nan, math.nan, math.nan, 0)}
    )
    assert res["criterion"] == "a"
    assert res["significant"] is False
    assert res["ranking"] == ["a", "b"]
    empty = exploitability({})
    assert empty["criterion"] is None and empty["shift"] is None
    assert empty["ranking"] == [] and empty["significant"] is False


def test_exploitability_reports_ties_and_uses_the_familywise_decision():
    shifts = {
        "b": Estimate(0.3, 0.1, 0.5, 40),
        "a": Estimate(-0.3, -0.5, -0.1, 40),
        "c": Estimate(0.1, -0.1, 0.3, 40),
    }
    res = exploitability(shifts, {"a": (False, 0.2), "b": (False, 0.08), "c": (False, 1.0)})
    assert res["tied"] == ["a", "b"] and res["criterion"] == "a = b"
    assert res["significant"] is False  # the intervals exclude 0, Holm does not reject
    res = exploitability(shifts, {"a": (False, 0.2), "b": (True, 0.01), "c": (False, 1.0)})
    assert res["significant"] is True and res["significant_criteria"] == ["b"]


# ----------------------------------------------------------------------------- longer baseline


def test_longer_baseline_small_table():
    labels = [1, 2, 1, 2, 1]
    len_1 = [300, 100, 50, 200, 120]
    len_2 = [100, 400, 60, 200, 90]
    # longer: 1 (right), 2 (right), 2 (wrong), tie (0.5), 1 (right) -> 3.5 / 5
    est = longer_baseline(labels, len_1, len_2)
    assert est.value == pytest.approx(0.7)
    assert est.n == 5
    with pytest.raises(HarnessError, match=r"labels\[1\] = 3; expected 1 or 2"):
        longer_baseline([1, 3], [1, 2], [2, 1])


# ----------------------------------------------------------------------------- degenerate


@pytest.mark.parametrize("n", [0, 1])
def test_degenerate_sizes_give_nan_bounds_without_warnings(n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = [0.7] * n
        stats = position_stats(p, p)
        results = [preference_rate(p, p), score_shift(p, p)]
        results += [v for v in vars(stats).values() if isinstance(v, Estimate)]
        baseline = longer_baseline([1] * n, [5] * n, [3] * n)
    for est in results:
        assert est.n in (n, 2 * n) or (n == 1 and est.n == 0)
        if est.n == 0 or (est.n == 1 and "one unit" in est.note):
            assert math.isnan(est.low) and math.isnan(est.high)
        assert est.note
        json.dumps(est.to_dict(), allow_nan=False)
    json.dumps(stats.to_dict(), allow_nan=False)
    # A proportion still has an interval at 1 of 1.
    assert baseline.n == n and (n == 0) == math.isnan(baseline.low)
