"""Known-answer simulations of the prediction-powered win rate (run: python tests/ppi_sim.py).

A scripted judge (numpy, vectorised over simulations) whose biases are set here: its soft
preference for the tuned answer follows the true quality difference (``signal``) plus a
length bias (``length``: the tuned answer is longer on average), a confidence bias
(``confidence``), per-order position bias (``position``, cancelled in part by averaging the
two orders) and noise. Humans prefer the better answer (``sharpness``) with some ties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from evalharness.analysis.ppi import PPIBatch, ppi_mean, quantile

PAIRS = Path(__file__).resolve().parents[1] / "prompts" / "pairs"


@dataclass(frozen=True)
class Coverage:
    """Coverage and width of the intervals over the simulations."""

    ppi: float
    human_only: float
    judge_only: float
    ppi_half_width: float
    human_half_width: float
    correlation: float
    sims: int


def _take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, idx, axis=1)


def coverage(
    y: np.ndarray, f: np.ndarray, truth: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[Coverage, PPIBatch]:
    """Label a random ``n`` of each row's items, the rest unlabeled; coverage of ``truth``."""
    sims, big_n = y.shape
    idx = np.argsort(rng.random((sims, big_n)), axis=1)
    lab, unl = idx[:, :n], idx[:, n:]
    batch = ppi_mean(_take(y, lab), _take(f, lab), _take(f, unl))
    ppi_cov = np.mean((batch.low <= truth) & (truth <= batch.high))
    hw = batch.z * batch.classical_se
    human_cov = np.mean(np.abs(batch.classical - truth) <= hw)
    z_all = quantile(0.95, big_n)
    judge_hw = z_all * f.std(1, ddof=1) / np.sqrt(big_n)
    judge_cov = np.mean(np.abs(f.mean(1) - truth) <= judge_hw)
    yc, fc = y - y.mean(1, keepdims=True), f - f.mean(1, keepdims=True)
    rho = np.mean((yc * fc).sum(1) / np.sqrt((yc**2).sum(1) * (fc**2).sum(1)))
    return (
        Coverage(
            float(ppi_cov),
            float(human_cov),
            float(judge_cov),
            float(np.mean(batch.z * batch.se)),
            float(np.mean(hw)),
            float(rho),
            sims,
        ),
        batch,
    )


def simulate(
    sims: int = 1000,
    prompts: int = 400,
    labels: int = 40,
    signal: float = 2.0,
    sharpness: float = 3.0,
    length: float = 1.0,
    confidence: float = 0.5,
    position: float = 1.5,
    noise: float = 0.5,
    tie: float = 0.1,
    seed: int = 0,
) -> Coverage:
    """Coverage of the true human win rate by the PPI, human-only and judge-only intervals."""
    rng = np.random.default_rng(seed)
    shape = (sims, prompts)
    quality = rng.normal(0.2, 1.0, shape)  # tuned minus base, as humans see it
    h = expit(sharpness * quality)  # P(human prefers tuned | no tie)
    truth = (h * (1 - tie) + tie / 2).mean(1)  # the human win rate of these prompts
    y = np.where(rng.random(shape) < tie, 0.5, (rng.random(shape) < h).astype(float))
    longer = np.tanh(rng.normal(0.5, 1.0, shape))  # tuned answers are longer on average
    surer = rng.normal(0.3, 1.0, shape)  # and sound more certain
    s = signal * quality + length * longer + confidence * surer + rng.normal(0, noise, shape)
    f = (expit(s + position) + expit(s - position)) / 2  # both orders, averaged
    return coverage(y, f, truth, labels, rng)[0]


def preference_claim_rate(
    quality_mean: float, sims: int = 1000, prompts: int = 400, labels: int = 40, seed: int = 3
) -> tuple[float, float]:
    """How often the PPI interval excludes 50% (the report's "people would prefer ..."),
    and the mean true human win rate, for a population centred on ``quality_mean``.

    The judge is the biased one of :func:`simulate` (length, confidence and position biases).
    """
    rng = np.random.default_rng(seed)
    shape = (sims, prompts)
    quality = rng.normal(quality_mean, 1.0, shape)
    h = expit(3.0 * quality)
    truth = (h * 0.9 + 0.05).mean(1)
    y = np.where(rng.random(shape) < 0.1, 0.5, (rng.random(shape) < h).astype(float))
    s = 2.0 * quality + np.tanh(rng.normal(0.5, 1.0, shape)) + 0.5 * rng.normal(0.3, 1.0, shape)
    f = (expit(s + 1.5) + expit(s - 1.5)) / 2
    _, batch = coverage(y, f, truth, labels, rng)
    return float(np.mean((batch.low > 0.5) | (batch.high < 0.5))), float(truth.mean())


def real_pairs(
    name: str,
    subsets: int = 1000,
    labels: int = 30,
    signal: float = 1.0,
    length: float = 1.5,
    position: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
) -> Coverage:
    """Coverage of the all-label truth on a shipped pair set, with a scripted judge.

    Y = 1 when people preferred output_1. The judge's soft preference for output_1 follows
    the label (``signal``), the character-length difference (``length``: a length bias
    measured on the real pairs) and noise, with a position bias averaged over both orders.
    The judge is run once; the label subset is redrawn ``subsets`` times.
    """
    rows = json.loads((PAIRS / f"{name}.json").read_text(encoding="utf-8"))
    y = np.array([1.0 if r["label"] == 1 else 0.0 for r in rows])
    dlen = np.array([len(r["output_1"]) - len(r["output_2"]) for r in rows], dtype=float)
    rng = np.random.default_rng(seed)
    s = signal * (2 * y - 1) + length * np.tanh(dlen / dlen.std()) + rng.normal(0, noise, len(y))
    f = (expit(s + position) + expit(s - position)) / 2
    truth = np.full(subsets, y.mean())
    ys, fs = np.tile(y, (subsets, 1)), np.tile(f, (subsets, 1))
    return coverage(ys, fs, truth, labels, rng)[0]


def stored_pairs(
    judgments: Path, subsets: int = 1000, labels: int = 30, seed: int = 0
) -> Coverage:
    """Coverage of the all-label truth with a real judge's stored judgments of a pair set.

    ``judgments`` is a file written by benchmarks/export_judgments.py: the judge's probability
    that output_1 is better, in both orders, for every pair (judged once, no model work here).
    """
    data = json.loads(judgments.read_text(encoding="utf-8"))
    rows = json.loads((PAIRS / data["pairs"]).read_text(encoding="utf-8"))
    stem = Path(data["pairs"]).stem
    ids = [f"{stem}-{i}" for i in range(len(rows))]
    y = np.array([1.0 if r["label"] == 1 else 0.0 for r in rows])
    f = np.array([sum(data["p_output_1"][i]) / 2 for i in ids])
    rng = np.random.default_rng(seed)
    truth = np.full(subsets, y.mean())
    ys, fs = np.tile(y, (subsets, 1)), np.tile(f, (subsets, 1))
    return coverage(ys, fs, truth, labels, rng)[0]


if __name__ == "__main__":
    # the settings of tests/test_ppi.py, whose figures the README quotes
    print("simulation, 400 prompts, 40 labels:", simulate())
    print("simulation, weakly correlated judge:", simulate(signal=0.2, sharpness=1.0, seed=1))
    for signal in (1.0, 0.0):
        for pair_set in ("llmbar_natural", "mt_bench_human"):
            print(f"{pair_set}, K=30, judge signal {signal}:", real_pairs(pair_set, signal=signal))
    for stored in sorted((Path(__file__).parent / "data").glob("*-judgments.json")):
        print(f"{stored.name}, K=30:", stored_pairs(stored))


def judge_outside_rate(
    bias: float, hard: bool = False, sims: int = 1000, prompts: int = 400, labels: int = 40,
    seed: int = 2,
) -> float:  # fmt: skip
    """How often the report says "the judge alone is outside this interval".

    The judge's soft preference is the true human preference probability, moved on the logit
    scale by a planted ``bias`` toward the longer answer (the tuned one in 90% of prompts),
    plus some noise; ``hard`` makes it deterministic: it always picks the longer answer. With
    ``bias = 0`` the judge is calibrated and the sentence is a false alarm.
    """
    rng = np.random.default_rng(seed)
    shape = (sims, prompts)
    quality = rng.normal(0.2, 1.0, shape)
    h = expit(3.0 * quality)
    truth = h.mean(1)
    y = (rng.random(shape) < h).astype(float)
    longer = np.where(rng.random(shape) < 0.9, 1.0, -1.0)
    f = expit(3.0 * quality + bias * longer + rng.normal(0, 0.3, shape))
    if hard:
        f = (longer > 0).astype(float)
    _, batch = coverage(y, f, truth, labels, rng)
    judge = f.mean(1)
    return float(np.mean((judge < batch.low) | (judge > batch.high)))
