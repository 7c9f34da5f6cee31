"""The PPI++ estimator: agreement with ppi_py, and coverage by simulation with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ppi_sim import (
    judge_outside_rate,
    preference_claim_rate,
    real_pairs,
    simulate,
    stored_pairs,
)

from evalharness.analysis.ppi import effective_labels, labels_needed, ppi_mean


def _data(seed: int, n: int = 40, big_n: int = 360) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.6).astype(float)
    f_lab = np.clip(0.3 * y + rng.normal(0.45, 0.15, n), 0, 1)
    f_unl = np.clip(rng.normal(0.63, 0.2, big_n), 0, 1)
    return y, f_lab, f_unl


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_ppi_py_reference(seed: int) -> None:
    try:
        from ppi_py import ppi_mean_ci, ppi_mean_pointestimate
    except ImportError as exc:  # ppi-python is in the dev extra; without it only this test skips
        pytest.skip(f"ppi-python (the reference implementation) is not installed: {exc}")
    y, f_lab, f_unl = _data(seed)
    mine = ppi_mean(y, f_lab, f_unl, confidence=0.95, small_sample=False)
    low, high = ppi_mean_ci(y, f_lab, f_unl, alpha=0.05)
    point = ppi_mean_pointestimate(y, f_lab, f_unl)
    assert mine.value[0] == pytest.approx(float(np.ravel(point)[0]), abs=1e-12)
    assert mine.low[0] == pytest.approx(float(np.ravel(low)[0]), abs=1e-12)
    assert mine.high[0] == pytest.approx(float(np.ravel(high)[0]), abs=1e-12)
    # fixed weights too: lam=0 is the classical interval, lam=1 the original PPI
    for lam in (0.0, 1.0):
        fixed = ppi_mean(y, f_lab, f_unl, lam=lam, small_sample=False)
        low, high = ppi_mean_ci(y, f_lab, f_unl, alpha=0.05, lam=lam)
        assert fixed.low[0] == pytest.approx(float(np.ravel(low)[0]), abs=1e-12)
        assert fixed.high[0] == pytest.approx(float(np.ravel(high)[0]), abs=1e-12)


def test_lambda_zero_is_the_human_mean_and_a_batch_is_rows() -> None:
    y, f_lab, f_unl = _data(3)
    zero = ppi_mean(y, f_lab, f_unl, lam=0.0)
    assert zero.value[0] == pytest.approx(y.mean())
    assert zero.se[0] == pytest.approx(zero.classical_se[0])
    rows = [_data(s) for s in range(4)]
    batch = ppi_mean(*(np.stack([r[k] for r in rows]) for k in range(3)))
    for i, r in enumerate(rows):
        one = ppi_mean(*r)
        assert batch.value[i] == pytest.approx(one.value[0])
        assert batch.se[i] == pytest.approx(one.se[0])


def test_an_uninformative_judge_gets_no_weight() -> None:
    y, _, f_unl = _data(4)
    constant = ppi_mean(y, np.full(len(y), 0.7), np.full(len(f_unl), 0.7))
    assert constant.lam[0] == 0.0
    assert constant.value[0] == pytest.approx(y.mean())


def test_simulated_coverage_with_a_biased_judge() -> None:
    """400 prompts, 40 random labels, a judge with length, confidence and position biases."""
    result = simulate(sims=1000, prompts=400, labels=40)
    print(f"\nsimulation: {result}")
    assert result.sims >= 500
    assert result.ppi >= 0.93, result
    assert result.judge_only < 0.5, result  # the judge alone is confidently wrong
    assert result.correlation > 0.5
    assert result.ppi_half_width < 0.9 * result.human_half_width, result


def test_simulated_coverage_with_a_weak_judge() -> None:
    """A judge barely related to the humans: still valid, and about as wide as humans alone."""
    result = simulate(sims=1000, signal=0.2, sharpness=1.0, seed=1)
    print(f"\nweak judge: {result}")
    assert result.ppi >= 0.93, result
    assert result.ppi_half_width <= 1.02 * result.human_half_width


def test_the_judge_is_outside_sentence_is_quiet_without_bias_and_fires_with_it() -> None:
    """The report's "the judge alone is outside this interval" as a test: null and planted."""
    null = judge_outside_rate(bias=0.0)
    soft = judge_outside_rate(bias=5.0)  # the judge's mean off by about 29 points
    hard = judge_outside_rate(bias=0.0, hard=True)
    print(f"\njudge-outside sentence: {null:.1%} of runs without bias, {soft:.1%} with a soft "
          f"length bias, {hard:.1%} with a deterministic one")  # fmt: skip
    assert null <= 0.07
    assert soft >= 0.95
    assert hard >= 0.95


def test_the_people_would_prefer_sentence() -> None:
    """ "People would prefer ..." (the PPI interval excludes 50%): null and planted."""
    null, truth = preference_claim_rate(0.0)
    planted, planted_truth = preference_claim_rate(0.8)
    print(f"\npreference sentence: {null:.1%} at a true {truth:.0%}, "
          f"{planted:.1%} at a true {planted_truth:.0%}")  # fmt: skip
    assert abs(truth - 0.5) < 0.01 and null <= 0.07
    assert planted_truth < 0.75 and planted >= 0.95


@pytest.mark.parametrize("name", ["llmbar_natural", "mt_bench_human"])
@pytest.mark.parametrize("signal", [1.0, 0.0])
def test_real_pairs_coverage(name: str, signal: float) -> None:
    """Real human labels, a scripted length-biased judge, 1,000 random label subsets of K=30."""
    result = real_pairs(name, subsets=1000, labels=30, signal=signal)
    print(f"\n{name} (judge signal {signal}): {result}")
    assert result.ppi >= 0.90, result


DATA = Path(__file__).parent / "data"
BUILTIN_JUDGMENTS = DATA / "llmbar_natural-smollm2-135m-instruct-judgments.json"


def test_real_pairs_coverage_with_the_builtin_judge() -> None:
    """LLMBar Natural judged once by the built-in judge (stored); 1,000 label subsets of K=30."""
    result = stored_pairs(BUILTIN_JUDGMENTS, subsets=1000, labels=30)
    print(f"\nllmbar_natural, built-in judge (stored judgments): {result}")
    assert result.ppi >= 0.90, result


def test_labels_needed_reaches_the_target_width() -> None:
    """Labeling the advised number gives about the target half-width (±20%)."""
    rng = np.random.default_rng(5)
    big = 4000
    quality = rng.normal(0, 1, big)
    y = (rng.random(big) < 1 / (1 + np.exp(-3 * quality))).astype(float)
    f = 1 / (1 + np.exp(-(2 * quality + rng.normal(0, 0.5, big) + 0.5)))
    first = rng.permutation(big)[:60]
    rest = np.setdiff1d(np.arange(big), first)
    needed = labels_needed(y[first], f[first], f[rest], half_width=0.05)
    assert needed is not None and 60 < needed < big
    widths = []
    for _ in range(50):
        order = rng.permutation(big)
        lab, unl = order[:needed], order[needed:]
        batch = ppi_mean(y[lab], f[lab], f[unl])
        widths.append(batch.z * batch.se[0])
        assert effective_labels(batch, needed)[0] > needed  # a correlated judge is worth labels
    assert 0.04 <= float(np.mean(widths)) <= 0.06


def test_unreachable_width_and_bad_input() -> None:
    y, f_lab, f_unl = _data(6, big_n=5)
    assert labels_needed(y, f_lab, f_unl, half_width=0.001) is None
    with pytest.raises(ValueError, match="2 labeled"):
        ppi_mean(y[:1], f_lab[:1], f_unl)
    with pytest.raises(ValueError, match="shape"):
        ppi_mean(y, f_lab[:-1], f_unl)
