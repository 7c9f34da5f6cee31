import json
import math
import warnings

import numpy as np
import pytest

from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import (
    ControlledWinRate,
    Estimate,
    accuracy,
    cohen_kappa,
    controlled_win_rate,
    mean_ci,
    outcome,
    paired_mean_diff_ci,
    win_rate,
)
from evalharness.errors import HarnessError

pytestmark = pytest.mark.filterwarnings("error")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def judge_both_orders(rng, p):
    """Soft preference from hard verdicts sampled in each of the two orders."""
    return ((rng.random(len(p)) < p).astype(float) + (rng.random(len(p)) < p)) / 2.0


# ----------------------------------------------------------------------------- Estimate


def test_estimate_to_dict_is_json_safe_and_excludes():
    est = Estimate(0.3, 0.1, 0.5, 10)
    assert est.excludes(0.0) and est.excludes(0.6)
    assert not est.excludes(0.3) and not est.excludes(0.1)
    nan = Estimate(0.3, math.nan, math.nan, 1, "one unit")
    assert not nan.excludes(100.0)
    d = nan.to_dict()
    assert d == {"value": 0.3, "low": None, "high": None, "n": 1, "note": "one unit"}
    json.dumps(d, allow_nan=False)


# ----------------------------------------------------------------------------- mean / diff


def test_mean_ci_covers_true_mean_and_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, 200)
    est = mean_ci(x, settings=StatsSettings(seed=3, n_resamples=500))
    assert est.value == pytest.approx(x.mean())
    assert est.low < 2.0 < est.high
    assert est.low < est.value < est.high
    assert est.n == 200
    assert mean_ci(x, settings=StatsSettings(seed=3, n_resamples=500)) == est
    assert mean_ci(x, settings=StatsSettings(seed=4, n_resamples=500)) != est


def test_paired_diff_uses_pairs():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 10, 100)  # large between-prompt spread
    a = base + 0.5 + rng.normal(0, 0.1, 100)
    est = paired_mean_diff_ci(a, base, settings=StatsSettings(n_resamples=500))
    assert est.value == pytest.approx(0.5, abs=0.05)
    # Pairing removes the between-prompt spread: a tight interval that excludes 0.
    assert est.excludes(0.0)
    assert est.high - est.low < 0.1


def test_paired_diff_length_mismatch_names_inputs():
    with pytest.raises(HarnessError, match="a has 3, b has 2"):
        paired_mean_diff_ci([1, 2, 3], [1, 2])


def test_non_finite_input_is_rejected_with_index():
    with pytest.raises(HarnessError, match=r"values\[2\]"):
        mean_ci([1.0, 2.0, float("nan")])
    with pytest.raises(HarnessError, match=r"p_tuned\[1\].*not a probability"):
        win_rate([0.2, 1.2])
    with pytest.raises(HarnessError, match="confidence"):
        mean_ci([1.0, 2.0], settings=StatsSettings(confidence=1.5))
    with pytest.raises(HarnessError, match="n_resamples"):
        mean_ci([1.0, 2.0], settings=StatsSettings(n_resamples=0))


@pytest.mark.parametrize(
    ("values", "n", "value", "note"),
    [
        ([], 0, math.nan, "no data"),
        ([0.7], 1, 0.7, "one unit"),
    ],
)
def test_no_data_gives_nan_bounds_and_a_note(values, n, value, note):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for est in (
            mean_ci(values),
            paired_mean_diff_ci(values, [0.0] * len(values)),
        ):
            assert est.n == n
            assert math.isnan(est.low) and math.isnan(est.high)
            assert note in est.note
        est = mean_ci(values)
        assert (math.isnan(est.value) and math.isnan(value)) or est.value == value


def test_all_equal_values_give_a_degenerate_interval_that_excludes_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mean_ci([0.25] * 12)
        diff = paired_mean_diff_ci([0.25] * 12, [0.0] * 12)
    for e in (est, diff):
        assert (e.value, e.low, e.high, e.n) == (0.25, 0.25, 0.25, 12)
        assert "degenerate" in e.note
        assert e.excludes(0.0) and not e.excludes(0.25)
    zero = mean_ci([0.0] * 5)
    assert (zero.low, zero.high) == (0.0, 0.0) and not zero.excludes(0.0)


def test_cluster_bootstrap_counts_prompts_and_is_wider_for_correlated_items():
    rng = np.random.default_rng(8)
    prompt_effect = rng.normal(0, 1, 40)
    values = np.repeat(prompt_effect, 2) + rng.normal(0, 0.1, 80)  # two items per prompt
    clusters = np.repeat(np.arange(40), 2).tolist()
    items = mean_ci(values, settings=StatsSettings(n_resamples=500))
    prompts = mean_ci(values, settings=StatsSettings(n_resamples=500), clusters=clusters)
    assert items.n == 80 and prompts.n == 40
    assert prompts.value == pytest.approx(items.value)
    assert prompts.high - prompts.low > 1.25 * (items.high - items.low)


# ----------------------------------------------------------------------------- win rate


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.56, "win"),
        (0.55, "tie"),
        (0.5, "tie"),
        (0.45, "tie"),
        (0.44, "loss"),
        (1.0, "win"),
        (0.0, "loss"),
    ],
)
def test_outcome_tie_band_edges(p, expected):
    assert outcome(p, tie_band=0.1) == expected


def test_outcome_zero_band_and_bad_input():
    assert outcome(0.5, tie_band=0.0) == "tie"
    assert outcome(0.5001, tie_band=0.0) == "win"
    with pytest.raises(HarnessError, match="tie_band"):
        outcome(0.5, tie_band=1.0)
    with pytest.raises(HarnessError, match="p_tuned"):
        outcome(1.5)


def test_win_rate_all_wins_and_ties():
    wins = win_rate([0.9, 0.8, 1.0, 0.7])
    assert wins.value == 1.0 and wins.n == 4
    assert "all values equal" in wins.note
    assert win_rate([0.5, 0.52, 0.48]).value == 0.5
    mixed = win_rate([1.0, 0.0, 0.5, 0.5], settings=StatsSettings(n_resamples=300))
    assert mixed.value == 0.5
    assert mixed.low < 0.5 < mixed.high


def test_win_rate_ci_narrows_with_n():
    def simulate(n, seed):
        rng = np.random.default_rng(seed)
        return judge_both_orders(rng, np.full(n, 0.65))

    small = win_rate(simulate(20, 0), settings=StatsSettings(n_resamples=500))
    large = win_rate(simulate(400, 1), settings=StatsSettings(n_resamples=500))
    width_small = small.high - small.low
    width_large = large.high - large.low
    assert width_large < width_small / 2.5  # ~ sqrt(400/20) = 4.5 in theory
    assert large.low < 0.65 < large.high


# ----------------------------------------------------------------------------- agreement


def test_cohen_kappa_matches_hand_computation():
    # agreement 4/6; chance agreement (3/6*3/6 + 3/6*3/6) = 1/2; kappa = (2/3-1/2)/(1/2) = 1/3
    labels = [1, 1, 2, 2, 1, 2]
    preds = [1, 2, 2, 2, 1, 1]
    assert cohen_kappa(labels, preds) == pytest.approx(1 / 3)
    assert cohen_kappa(labels, labels) == pytest.approx(1.0)
    # Systematic disagreement is worse than chance.
    assert cohen_kappa([1, 2, 1, 2], [2, 1, 2, 1]) == pytest.approx(-1.0)


def test_cohen_kappa_undefined_is_nan_without_warnings():
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))
    with pytest.raises(HarnessError, match="labels has 2, predictions has 1"):
        cohen_kappa([1, 2], [1])


def test_accuracy_with_ci():
    labels = [1, 2] * 50
    preds = [1, 2] * 40 + [2, 1] * 10
    est = accuracy(labels, preds, settings=StatsSettings(n_resamples=500))
    assert est.value == pytest.approx(0.8)
    assert est.low < 0.8 < est.high
    assert est.low > 0.65 and est.high < 0.92
    # A proportion gets a Wilson interval even at 3 of 3; a tie (1.5) is half a vote.
    perfect = accuracy([1, 2, 1], [1, 2, 1])
    assert perfect.value == 1.0 and 0.4 < perfect.low < 0.5 and perfect.high == 1.0
    assert accuracy([1, 2], [1.5, 1.5]).value == pytest.approx(0.5)


# ----------------------------------------------------------------------------- controlled


def length_world(rng, n, b_len=2.0, b0=0.0):
    len_base = rng.integers(80, 400, n).astype(float)
    d_len = rng.normal(80.0, 100.0, n)  # tuned is usually longer
    sd = np.std(d_len, ddof=1)
    return len_base + d_len, len_base, b0 + b_len * np.tanh(d_len / sd)


def test_controlled_win_rate_removes_length_bias():
    rng = np.random.default_rng(0)
    len_tuned, len_base, logit = length_world(rng, 500)
    p = judge_both_orders(rng, sigmoid(logit))
    res = controlled_win_rate(
        p, len_tuned, len_base, settings=StatsSettings(seed=1, n_resamples=150)
    )
    assert isinstance(res, ControlledWinRate)
    assert res.raw.value > 0.6 and res.raw.low > 0.55
    lc = res.length_controlled
    assert lc.low < 0.5 < lc.high
    assert abs(lc.value - 0.5) < 0.06
    length = res.coefficients["length"]
    assert length.low < 2.0 < length.high
    assert res.coefficients["intercept"].excludes(0.0) is False
    assert res.length_confidence_controlled is None
    assert any("differs from the raw" in w for w in res.warnings)
    diff = res.length.difference
    assert diff.high < 0 and diff.value == pytest.approx(lc.value - res.raw.value)
    json.dumps(res.to_dict(), allow_nan=False)


def test_controlled_win_rate_with_confidence_term():
    rng = np.random.default_rng(2)
    n = 500
    len_tuned, len_base, logit = length_world(rng, n)
    conf_base = rng.uniform(0.0, 1.0, n)
    conf_tuned = conf_base + rng.normal(0.6, 1.0, n)  # tuned is usually more assertive
    logit = logit + 1.0 * (conf_tuned - conf_base)
    p = judge_both_orders(rng, sigmoid(logit))
    res = controlled_win_rate(
        p,
        len_tuned,
        len_base,
        conf_tuned,
        conf_base,
        settings=StatsSettings(seed=1, n_resamples=150),
    )
    full = res.length_confidence_controlled
    assert full is not None
    assert full.low < 0.5 < full.high
    assert res.coefficients["length"].low < 2.0 < res.coefficients["length"].high
    assert res.coefficients["confidence"].low < 1.0 < res.coefficients["confidence"].high
    # The length-only model still carries the confidence bias.
    assert res.length_controlled.value > full.value + 0.03
    assert res.to_dict()["length_confidence_controlled"]["n"] == n


def test_controlled_equals_raw_without_length_effect():
    rng = np.random.default_rng(3)
    len_tuned, len_base, logit = length_world(rng, 400, b_len=0.0, b0=0.4)
    p = judge_both_orders(rng, sigmoid(logit))
    res = controlled_win_rate(
        p, len_tuned, len_base, settings=StatsSettings(seed=0, n_resamples=100)
    )
    assert abs(res.length_controlled.value - res.raw.value) < res.raw.half_width
    assert res.coefficients["length"].excludes(0.0) is False
    assert not any("differs from the raw" in w for w in res.warnings)
    assert res.length.difference.low <= 0 <= res.length.difference.high


def test_controlled_win_rate_is_deterministic_given_seed():
    rng = np.random.default_rng(4)
    len_tuned, len_base, logit = length_world(rng, 60)
    p = judge_both_orders(rng, sigmoid(logit))
    a = controlled_win_rate(p, len_tuned, len_base, settings=StatsSettings(seed=7, n_resamples=40))
    b = controlled_win_rate(p, len_tuned, len_base, settings=StatsSettings(seed=7, n_resamples=40))
    assert a.to_dict() == b.to_dict()


def test_controlled_win_rate_drops_constant_length_term():
    rng = np.random.default_rng(5)
    p = judge_both_orders(rng, np.full(50, 0.7))
    lengths = np.full(50, 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = controlled_win_rate(p, lengths + 10, lengths, settings=StatsSettings(n_resamples=40))
    assert any("length could not be estimated" in w for w in res.warnings)
    assert "length" in res.length.dropped
    assert res.to_dict()["length_controlled"]["dropped_terms"] == res.length.dropped
    assert math.isnan(res.coefficients["length"].value)
    # Intercept-only model: sigmoid(b0) is the mean preference.
    assert res.length_controlled.value == pytest.approx(res.raw.value)


@pytest.mark.parametrize("n", [0, 1])
def test_controlled_win_rate_too_few_prompts(n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = controlled_win_rate(
            [0.6] * n, list(range(n)), [0] * n, settings=StatsSettings(n_resamples=20)
        )
    lc = res.length_controlled
    assert math.isnan(lc.low) and math.isnan(lc.high)
    assert lc.note
    json.dumps(res.to_dict(), allow_nan=False)


def test_controlled_win_rate_constant_preference_is_degenerate_not_missing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = controlled_win_rate(
            [1.0] * 6, [1, 2, 3, 4, 5, 6], [0] * 6, settings=StatsSettings(n_resamples=20)
        )
    # Tuned is longer on every prompt and always wins: length and quality cannot be told
    # apart, so there is no controlled rate, and a warning says so.
    lc = res.length_controlled
    assert math.isnan(lc.value) and "cannot be told apart" in lc.note
    assert "extrapolation" in res.length.extrapolation
    assert any("cannot be told apart" in w for w in res.warnings)
    # With some prompts of equal length, a constant preference is a degenerate rate.
    res = controlled_win_rate(
        [1.0] * 6, [0, 0, 3, 4, 5, 6], [0] * 6, settings=StatsSettings(n_resamples=20)
    )
    lc = res.length_controlled
    assert (lc.value, lc.low, lc.high) == (1.0, 1.0, 1.0)
    assert not res.warnings


def test_controlled_win_rate_singular_design_and_separation():
    d = np.arange(8.0)
    collinear = np.tanh(d / np.std(d, ddof=1))  # the confidence column copies the length one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        singular = controlled_win_rate(
            [0.2, 0.8] * 4,
            d,
            0 * d,
            conf_tuned=collinear,
            conf_base=0 * d,
            settings=StatsSettings(n_resamples=20),
        )
        # Shorter tuned answers always lose, equal ones tie: quasi-separation. The fit still
        # settles its intercept (the prediction at equal length), near 0.5.
        sep = controlled_win_rate(
            [0.0] * 10 + [0.5] * 10,
            [0] * 10 + [5] * 10,
            [5] * 10 + [5] * 10,
            settings=StatsSettings(n_resamples=50),
        )
    full = singular.length_confidence_controlled
    assert full is not None and math.isnan(full.value)
    assert "singular" in full.note
    assert math.isfinite(singular.coefficients["length"].value)
    assert "singular" in singular.coefficients["confidence"].note
    assert any(w.startswith("length+confidence model: singular") for w in singular.warnings)
    assert sep.length_controlled.value == pytest.approx(0.5, abs=0.01)


def test_batched_fit_matches_statsmodels():
    import statsmodels.api as sm

    from evalharness.analysis.controlled import fit_fractional_logit

    rng = np.random.default_rng(11)
    x = np.column_stack([np.ones(60), rng.normal(size=60), rng.normal(size=60)])
    y = sigmoid(x @ [0.3, 1.0, -0.5] + rng.normal(0, 0.5, 60))
    beta, ok = fit_fractional_logit(x[None], y[None])
    ref = sm.GLM(y, x, family=sm.families.Binomial()).fit().params
    assert ok[0]
    assert beta[0] == pytest.approx(ref, abs=1e-6)


def test_failed_refits_are_counted_and_too_many_leave_no_interval():
    # Only two prompts differ in length: many resamples have no length variation.
    p = [0.5] * 8 + [0.9, 0.1]
    res = controlled_win_rate(
        p, [1] * 8 + [3, 0], [1] * 10, settings=StatsSettings(n_resamples=200)
    )
    lc = res.length_controlled
    assert math.isnan(lc.low)
    assert "bootstrap refits failed" in lc.note


def test_controlled_win_rate_rejects_bad_input():
    with pytest.raises(HarnessError, match="len_base has 2"):
        controlled_win_rate([0.5, 0.5, 0.5], [1, 2, 3], [1, 2])
    with pytest.raises(HarnessError, match="both conf_tuned and conf_base"):
        controlled_win_rate([0.5, 0.5], [1, 2], [1, 2], conf_tuned=[0.1, 0.2])


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from evalharness.analysis.intervals import holm

    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.uniform(0, 0.2, rng.integers(1, 25)) ** 2
        reject, adjusted = holm(list(p), 0.05)
        ref_reject, ref_adjusted, _, _ = multipletests(p, alpha=0.05, method="holm")
        assert reject == list(ref_reject)
        assert adjusted == pytest.approx(list(ref_adjusted))


def test_length_difference_far_from_zero_is_dropped_not_singular():
    """Tuned always 28-30 tokens longer: tanh saturates, so length cannot be estimated."""
    rng = np.random.default_rng(12)
    d = rng.integers(28, 31, 40).astype(float)
    p = rng.uniform(0.6, 1.0, 40)
    res = controlled_win_rate(p, 10 + d, np.full(40, 10.0), settings=StatsSettings(n_resamples=50))
    assert "barely varies" in res.length.dropped["length"]
    assert any("length could not be estimated" in w for w in res.warnings)
    assert not any("singular" in w for w in res.warnings)


def test_turns_of_a_conversation_are_one_resampling_unit():
    from evalharness.analysis.bias_section import unit

    assert unit("mt81/turn-2") == unit("mt81/turn-1") == unit("mt81") == "mt81"
    assert unit("plain/id") == "plain/id"
    est = win_rate(
        [0.9, 0.9, 0.1, 0.1], clusters=["a", "a", "b", "b"], settings=StatsSettings(n_resamples=50)
    )
    assert est.n == 2


def test_intercept_only_model_never_differs_from_raw():
    rng = np.random.default_rng(13)
    p = rng.uniform(0.2, 0.9, 30)
    res = controlled_win_rate(
        p, np.full(30, 50.0), np.full(30, 20.0), settings=StatsSettings(n_resamples=100)
    )
    assert res.length.difference.value == 0.0 and res.length.p_value == 1.0
    assert res.length_controlled.value == pytest.approx(res.raw.value)
    assert not any("differs from the raw" in w for w in res.warnings)
