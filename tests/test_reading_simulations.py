"""Every warning the harness prints is a test: checked here by simulation with a scripted judge.

For each reading, a *null* simulation (an unbiased judge, at least 200 simulated runs with
fresh prompts and seeds) must stay quiet in at most 7% of runs, and a *planted* one (the
bias set strongly, deterministic p = 1.0 included) must fire in at least 95%. The runs are
synthetic records (one row per prompt, both models' answers, both orders) fed through the
analysis functions that `run` and `judge-validate` use, not full model runs, so the file
stays fast; bootstraps use 200-300 resamples here (the default run uses 2000). The
scripted judge mirrors the `fake:` backend: P(A) = 0.5 ± jitter, optionally made a hard
verdict, and a bias that sets the winner's probability to p.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evalharness.analysis.bias import (
    exploitability,
    familywise_shifts,
    length_adjusted_rate,
    net_preferences,
    position_stats,
    preference_rate,
)
from evalharness.analysis.controlled import controlled_win_rate
from evalharness.analysis.estimate import Estimate
from evalharness.analysis.readings import bias_warning, position_warning
from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import accuracy
from evalharness.pairs import LabeledPair
from evalharness.stages.validate import baseline_warning, baselines

RUNS = 200
PROMPTS = 40
BOOT = 200
NULL_MAX = 0.07
PLANTED_MIN = 0.95
JITTER = 0.2


def fire_rate(
    trial: Callable[[np.random.Generator], bool], runs: int = RUNS, seed: int = 0
) -> float:
    """Share of ``runs`` simulated runs (each with its own generator) in which a reading fired."""
    return sum(trial(np.random.default_rng([seed, i])) for i in range(runs)) / runs


def judge(rng: np.random.Generator, p_x: np.ndarray, hard: bool) -> np.ndarray:
    """P(X wins) per judgment: soft ``p_x``, or a one-hot verdict drawn with it."""
    return (rng.random(p_x.shape) < p_x).astype(float) if hard else p_x


def unbiased(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The scripted judge's no-bias preference: 0.5 plus a uniform jitter of width 0.2."""
    return 0.5 + JITTER * (rng.random(shape) - 0.5)


def probe_items(rng: np.random.Generator, p_x: float | None, hard: bool):
    """Both roles of every prompt, both orders: (p_x first, p_x second, prompt ids)."""
    shape = (2 * PROMPTS, 2)
    base = unbiased(rng, shape) if p_x is None else np.full(shape, p_x)
    p = judge(rng, base, hard)
    clusters = [i // 2 for i in range(2 * PROMPTS)]
    return p[:, 0], p[:, 1], clusters


# ----------------------------------------------------------------------------- LBR / CBR

BIASES = [(0.8, True), (0.8, False), (1.0, False)]  # (p, hard)


@pytest.mark.parametrize("name", ["lbr", "cbr"])
def test_bias_warning_null_and_planted(name: str) -> None:
    """LBR/CBR: quiet for an unbiased judge (soft or hard), fires for p = 0.8 and p = 1.0."""

    def trial(p_x: float | None, hard: bool) -> Callable[[np.random.Generator], bool]:
        def run(rng: np.random.Generator) -> bool:
            first, second, clusters = probe_items(rng, p_x, hard)
            est = preference_rate(
                first, second, settings=StatsSettings(n_resamples=BOOT), clusters=clusters
            )
            return bias_warning(name, est.to_dict()) is not None

        return run

    assert fire_rate(trial(None, False)) <= NULL_MAX
    assert fire_rate(trial(0.5, True)) <= NULL_MAX
    for p, hard in BIASES:
        assert fire_rate(trial(p, hard), runs=100) >= PLANTED_MIN, (p, hard)


def test_deterministic_bias_gets_a_degenerate_interval_and_a_warning() -> None:
    """Always the longer answer: LBR +1 [+1, +1], and the warning says every item agreed."""
    est = preference_rate([1.0] * 80, [1.0] * 80, clusters=[i // 2 for i in range(80)])
    assert (est.value, est.low, est.high, est.n) == (1.0, 1.0, 1.0, 40)
    warning = bias_warning("lbr", est.to_dict())
    assert warning is not None and "every item agreed" in warning


def test_length_only_judge_cbr_at_equal_length_covers_zero() -> None:
    """Hedged copies mostly longer: a length judge moves the raw CBR, not the adjusted one.

    The CBR warning needs the CBR read at equal length (a regression on the token gap) to
    exclude 0 as well, so a judge that only counts words is not said to reward hedging.
    """

    def run(rng: np.random.Generator) -> tuple[bool, bool, bool]:
        n = 2 * PROMPTS
        gap = rng.integers(-1, 4, n).astype(float)  # assertive − hedged words: mostly shorter
        p_x = np.where(gap > 0, 0.8, np.where(gap < 0, 0.2, unbiased(rng, (n,))))
        p = judge(rng, np.stack([p_x, p_x], axis=1), hard=True)
        clusters = [i // 2 for i in range(n)]
        raw = preference_rate(
            p[:, 0], p[:, 1], settings=StatsSettings(n_resamples=BOOT), clusters=clusters
        )
        net = net_preferences(p[:, 0], p[:, 1])
        adjusted = length_adjusted_rate(
            net, gap, clusters, settings=StatsSettings(n_resamples=BOOT)
        )
        warned = bias_warning("cbr", raw.to_dict(), adjusted.to_dict()) is not None
        return raw.excludes(0.0), adjusted.low <= 0.0 <= adjusted.high, warned

    results = [run(np.random.default_rng([7, i])) for i in range(RUNS)]
    assert np.mean([r[0] for r in results]) > 0.5  # the raw CBR is fooled by length
    # The equal-length CBR covers 0 in 91.5% of these runs: its cluster-robust t interval
    # is slightly short when few pairs are equally long (16 of 80 here).
    assert np.mean([r[1] for r in results]) >= 0.9
    assert np.mean([r[2] for r in results]) <= NULL_MAX  # and no confidence warning


def test_cluster_interval_covers_a_known_lbr_when_the_effect_varies_by_prompt() -> None:
    """The judge's length preference differs per prompt; the interval covers its mean >= 93%."""
    true_lbr = 0.3
    covered = []
    for i in range(400):
        rng = np.random.default_rng([11, i])
        effect = np.clip(true_lbr + rng.uniform(-0.6, 0.6, PROMPTS), -1, 1)  # per prompt
        p_x = np.repeat((1 + effect) / 2, 2)[:, None] * np.ones((1, 2))
        p = judge(rng, p_x, hard=True)
        est = preference_rate(
            p[:, 0],
            p[:, 1],
            settings=StatsSettings(n_resamples=300),
            clusters=[j // 2 for j in range(2 * PROMPTS)],
        )
        covered.append(est.low <= true_lbr + rng.uniform(-0.0, 0.0) <= est.high)
    # The expectation over prompts of the uniform effect is true_lbr (clipping is inactive).
    assert np.mean(covered) >= 0.93


# ----------------------------------------------------------------------------- position


def position_trial(kind: str, p: float = 0.5, hard: bool = False):
    """A simulated main comparison: unbiased, first-slot, or per-prompt slot judge."""

    def run(rng: np.random.Generator) -> bool:
        if kind == "unbiased":
            p1, p2 = judge(rng, unbiased(rng, (2, PROMPTS)), hard)
        elif kind == "content":  # reads content: X better on some prompts, noisy
            quality = rng.choice([0.3, 0.7], PROMPTS)
            p1 = judge(rng, quality, hard)
            p2 = 1 - judge(rng, quality, hard)
        elif kind == "first":  # P(A) = p whatever the responses
            p1, p2 = judge(rng, np.full((2, PROMPTS), p), hard)
        else:  # "slot": each prompt has a favourite slot, half A, half B
            slot = np.where(rng.random(PROMPTS) < 0.5, p, 1 - p)
            p1, p2 = judge(rng, np.stack([slot, slot]), hard)
        stats = position_stats(p1, p2, settings=StatsSettings(n_resamples=BOOT))
        return position_warning(stats.to_dict()) is not None

    return run


def test_position_warning_null() -> None:
    """Noise-only and content-reading judges, soft and hard: quiet in <= 7% of runs."""
    for kind in ("unbiased", "content"):
        for hard in (False, True):
            assert fire_rate(position_trial(kind, hard=hard)) <= NULL_MAX, (kind, hard)


@pytest.mark.parametrize(("kind", "p", "hard"), [
    ("first", 1.0, False), ("first", 0.8, False), ("first", 0.8, True),
    ("slot", 1.0, False), ("slot", 0.95, True),
])  # fmt: skip
def test_position_warning_planted(kind: str, p: float, hard: bool) -> None:
    """Always slot A, mostly slot A, or a slot fixed per prompt: fires in >= 95% of runs."""
    assert fire_rate(position_trial(kind, p, hard), runs=100) >= PLANTED_MIN


def test_always_half_judge_is_undecided_not_disagreeing() -> None:
    """A judge that always says 50/50: no disagreements, every pair undecided, consistency 0."""
    stats = position_stats([0.5] * 40, [0.5] * 40)
    assert (stats.disagreements, stats.undecided, stats.consistent) == (0, 40, 0)
    assert stats.consistency.value == 0.0 and stats.consistency.high < 0.1
    assert position_warning(stats.to_dict()) is None


# ----------------------------------------------------------------------------- controlled


def controlled_trial(p: float | None, hard: bool):
    """Tuned and base of equal quality; lengths differ by prompt; the judge may favour length."""

    def run(rng: np.random.Generator) -> bool:
        d_len = rng.choice([-40.0, 0.0, 0.0, 40.0], PROMPTS) + rng.integers(-3, 4, PROMPTS) * (
            rng.random(PROMPTS) < 0.5
        )
        base_len = rng.integers(50, 150, PROMPTS).astype(float)
        conf_t, conf_b = rng.normal(0, 1, PROMPTS), rng.normal(0, 1, PROMPTS)
        if p is None:
            p_x = unbiased(rng, (2, PROMPTS))
        else:
            win = np.where(d_len > 0, p, np.where(d_len < 0, 1 - p, 0.5))
            p_x = np.stack([win, win]) if p == 1.0 else np.stack([win, win])
            p_x = np.where(d_len == 0, unbiased(rng, (2, PROMPTS)), p_x)
        p_tuned = judge(rng, p_x, hard).mean(axis=0)
        res = controlled_win_rate(
            p_tuned,
            base_len + d_len,
            base_len,
            conf_t,
            conf_b,
            settings=StatsSettings(n_resamples=BOOT),
        )
        return any("differs from the raw" in w for w in res.warnings)

    return run


def test_controlled_warning_null_and_planted() -> None:
    """An unbiased judge: quiet in <= 7%; a length judge (p = 0.8, 0.9, 1.0): fires in >= 95%."""
    assert fire_rate(controlled_trial(None, False)) <= NULL_MAX
    assert fire_rate(controlled_trial(None, True)) <= NULL_MAX
    # Planted: tuned is longer on 5 of 8 prompts, shorter on 1, equally long on 2, and the
    # judge prefers the longer answer, so the raw rate is inflated and the controlled not.
    for p in (0.8, 0.9, 1.0):

        def tilted(rng: np.random.Generator, p: float = p) -> bool:
            d_len = rng.choice([-40.0, 0.0, 0.0, 40.0, 40.0, 40.0, 40.0, 40.0], PROMPTS)
            base_len = rng.integers(50, 150, PROMPTS).astype(float)
            win = np.where(d_len > 0, p, np.where(d_len < 0, 1 - p, 0.5))
            p_x = np.where(d_len == 0, unbiased(rng, (2, PROMPTS)), np.stack([win, win]))
            res = controlled_win_rate(
                p_x.mean(axis=0),
                base_len + d_len,
                base_len,
                settings=StatsSettings(n_resamples=BOOT),
            )
            return any("differs from the raw" in w for w in res.warnings)

        assert fire_rate(tilted, runs=100) >= PLANTED_MIN, p


# ----------------------------------------------------------------------------- exploitability

KINDS = ("padded", "shortened", "assertive", "hedged")
CRITERIA = ("follows_instruction", "correctness", "clarity", "honesty")


def exploit_trial(planted: float | None, noise: float = 0.3):
    """Pointwise score shifts of every probe × criterion; ``planted`` moves padded scores."""

    def run(rng: np.random.Generator) -> bool:
        clusters = [i // 2 for i in range(2 * PROMPTS)]
        tests = {}
        keys = [(k, c) for k in KINDS + ("assertive vs hedged",) for c in CRITERIA]
        for key in keys:
            diff = noise * (rng.random(2 * PROMPTS) - rng.random(2 * PROMPTS))
            if planted is not None and key[0] == "padded":
                diff = diff + planted if noise else np.full(2 * PROMPTS, planted)
            tests[key] = (diff, clusters)
        family = familywise_shifts(tests, 0.05)
        for kind in KINDS + ("assertive vs hedged",):
            # Point values only: the ranking needs them, significance comes from Holm.
            shifts = {
                c: Estimate(float(np.mean(tests[(kind, c)][0])), np.nan, np.nan, PROMPTS)
                for c in CRITERIA
            }
            result = exploitability(shifts, {c: family[(kind, c)] for c in CRITERIA})
            if result["significant"] and (planted is None or kind == "padded"):
                return True
        return False

    return run


def test_exploitability_null_and_planted() -> None:
    """20 tests per run under Holm: an unbiased judge is 'gameable' in <= 7% of runs."""
    assert fire_rate(exploit_trial(None)) <= NULL_MAX
    assert fire_rate(exploit_trial(0.3), runs=100) >= PLANTED_MIN
    assert fire_rate(exploit_trial(0.5, noise=0.0), runs=20) == 1.0  # deterministic shift


# ----------------------------------------------------------------------------- judge-validate


def labeled(rng: np.random.Generator, n: int, share_1: float) -> list[LabeledPair]:
    """``n`` pairs whose label is 1 with probability ``share_1``; lengths unrelated to labels."""
    pairs = []
    for i in range(n):
        w1, w2 = rng.integers(5, 40, 2)
        pairs.append(
            LabeledPair(
                f"p{i}", "q", "a " * int(w1), "b " * int(w2), 1 if rng.random() < share_1 else 2
            )
        )
    return pairs


def validate_trial(kind: str, share_1: float, n: int = 100):
    """Accuracy of a scripted judge against labels, and the baseline warning."""

    def run(rng: np.random.Generator) -> tuple[float, bool, bool]:
        pairs = labeled(rng, n, share_1)
        labels = np.array([p.label for p in pairs])
        if kind == "coin":
            votes = (rng.random(n) < 0.5).astype(float)
        elif kind == "always_a":
            votes = np.full(n, 0.5)  # "A" in both orders: a tie after both orders
        else:  # a good judge: right 90% of the time
            right = rng.random(n) < 0.9
            votes = np.where(right, labels == 1, labels != 1).astype(float)
        predictions = np.where(votes == 1, 1.0, np.where(votes == 0, 2.0, 1.5))
        acc = accuracy(labels.tolist(), predictions.tolist()).to_dict()
        base = baselines(pairs, lambda t: len(t.split()), 0.95)
        covered = acc["low"] <= 0.5 <= acc["high"]
        return acc["value"], covered, baseline_warning(acc, base) is not None

    return run


def test_coin_judge_on_an_80_20_label_set_scores_half_and_is_warned_about() -> None:
    results = [validate_trial("coin", 0.8)(np.random.default_rng([5, i])) for i in range(RUNS)]
    assert abs(np.mean([r[0] for r in results]) - 0.5) < 0.02
    assert np.mean([r[1] for r in results]) >= 0.93
    assert np.mean([r[2] for r in results]) >= PLANTED_MIN


def test_always_a_judge_scores_exactly_half_and_is_warned_about() -> None:
    for share in (0.58, 0.8, 0.2):
        results = [
            validate_trial("always_a", share)(np.random.default_rng([6, i])) for i in range(50)
        ]
        assert all(r[0] == 0.5 for r in results)
        assert all(r[2] for r in results)


def test_good_judge_is_not_warned_about() -> None:
    """Right 90% of the time on a 58/42 label set: above every baseline, quiet in >= 93%."""
    results = [validate_trial("good", 0.58)(np.random.default_rng([9, i])) for i in range(RUNS)]
    assert np.mean([r[2] for r in results]) <= NULL_MAX
