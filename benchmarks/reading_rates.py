"""Fire rates of each warning on the simulated worlds of tests/test_reading_simulations.py.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/reading_rates.py [RUNS]

prints, per warning, the share of simulated runs (40 prompts each, 200 bootstrap resamples)
in which it fired: with an unbiased judge (null) and with a planted bias. With PYTHONPATH
pointing at a tree from before the readings were reworked (one without
``evalharness/analysis/readings.py``), the same worlds go through that version's rules, for a
before/after comparison.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

NEW = importlib.util.find_spec("evalharness.analysis.readings") is not None
bias = importlib.import_module("evalharness.analysis.bias")
stats = importlib.import_module("evalharness.analysis.stats")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
P = 40
BOOT = 200
_SETTINGS = importlib.util.find_spec("evalharness.analysis.settings")
BOOT_KW: dict[str, Any] = (  # the statistics take one settings object where it exists
    {"settings": importlib.import_module(_SETTINGS.name).StatsSettings(n_resamples=BOOT)}
    if _SETTINGS is not None
    else {"n_resamples": BOOT}
)
Trial = Callable[[np.random.Generator], bool]


def unbiased(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The scripted judge without bias: P = 0.5 plus a jitter of width 0.2."""
    return 0.5 + 0.2 * (rng.random(shape) - 0.5)


def judge(rng: np.random.Generator, p: np.ndarray, hard: bool) -> np.ndarray:
    """Soft ``p`` or a one-hot verdict drawn with it."""
    return (rng.random(p.shape) < p).astype(float) if hard else p


def rate(trial: Trial, runs: int = RUNS) -> float:
    """Share of runs in which ``trial`` fired."""
    return sum(trial(np.random.default_rng([0, i])) for i in range(runs)) / runs


def lbr(p_x: float | None, hard: bool) -> Trial:
    def run(rng: np.random.Generator) -> bool:
        shape = (2 * P, 2)
        p = judge(rng, unbiased(rng, shape) if p_x is None else np.full(shape, p_x), hard)
        if not NEW:
            return bool(bias.preference_rate(p[:, 0], p[:, 1], **BOOT_KW).excludes(0.0))
        from evalharness.analysis.readings import bias_warning

        clusters = [i // 2 for i in range(2 * P)]
        est = bias.preference_rate(p[:, 0], p[:, 1], **BOOT_KW, clusters=clusters)
        return bias_warning("lbr", est.to_dict()) is not None

    return run


def position(kind: str, p: float = 0.5, hard: bool = False) -> Trial:
    def run(rng: np.random.Generator) -> bool:
        if kind == "unbiased":
            p1, p2 = judge(rng, unbiased(rng, (2, P)), hard)
        elif kind == "first":
            p1, p2 = judge(rng, np.full((2, P), p), hard)
        else:  # a slot fixed per prompt
            slot = np.where(rng.random(P) < 0.5, p, 1 - p)
            p1, p2 = judge(rng, np.stack([slot, slot]), hard)
        found = bias.position_stats(p1, p2, **BOOT_KW)
        if not NEW:
            return bool(found.consistency.value < 0.6)
        from evalharness.analysis.readings import position_warning

        return position_warning(found.to_dict()) is not None

    return run


def controlled(p: float | None, hard: bool = False, world: str = "mixed") -> Trial:
    def run(rng: np.random.Generator) -> bool:
        conf: tuple[Any, Any] = (rng.normal(0, 1, P), rng.normal(0, 1, P))
        if world == "tilted":
            d = rng.choice([-40.0, 0.0, 0.0, 40.0, 40.0, 40.0, 40.0, 40.0], P)
            conf = (None, None)
        elif world == "always_longer":
            d = rng.integers(30, 50, P).astype(float)
        else:
            d = rng.choice([-40.0, 0.0, 0.0, 40.0], P) + rng.integers(-3, 4, P)
        base = rng.integers(50, 150, P).astype(float)
        if p is None:
            p_x = unbiased(rng, (2, P))
        else:
            win = np.where(d > 0, p, np.where(d < 0, 1 - p, 0.5))
            p_x = np.where(d == 0, unbiased(rng, (2, P)), np.stack([win, win]))
        y = judge(rng, p_x, hard).mean(axis=0)
        res = stats.controlled_win_rate(y, base + d, base, *conf, **BOOT_KW)
        return any("differs from" in w for w in res.warnings)

    return run


def exploit(planted: float | None) -> Trial:
    kinds, criteria = ("padded", "shortened", "assertive", "hedged", "a-vs-h"), "abcd"

    def run(rng: np.random.Generator) -> bool:
        clusters = [i // 2 for i in range(2 * P)]
        tests = {}
        for key in [(k, c) for k in kinds for c in criteria]:
            d = 0.3 * (rng.random(2 * P) - rng.random(2 * P))
            tests[key] = d + (planted if planted is not None and key[0] == "padded" else 0.0)
        family = (
            bias.familywise_shifts({k: (v, clusters) for k, v in tests.items()}, 0.05)
            if NEW
            else {}
        )
        for k in kinds:
            shifts = {
                c: bias.score_shift(np.zeros(2 * P), tests[(k, c)], **BOOT_KW) for c in criteria
            }
            if NEW:
                found = bias.exploitability(shifts, {c: family[(k, c)] for c in criteria})
            else:
                found = bias.exploitability(shifts)
            if found["significant"] and (planted is None or k == "padded"):
                return True
        return False

    return run


def validation(kind: str, share_1: float) -> Trial:
    """The baseline warning of judge-validate on 100 pairs; ``kind``: coin, always_a, good."""

    def run(rng: np.random.Generator) -> bool:
        n = 100
        words = rng.integers(5, 40, (n, 2))
        labels = np.where(rng.random(n) < share_1, 1, 2)
        if kind == "coin":
            votes = (rng.random(n) < 0.5).astype(float)
        elif kind == "always_a":  # slot A in both orders: a tie after both orders
            votes = np.full(n, 0.5)
        else:
            right = rng.random(n) < 0.9
            votes = np.where(right, labels == 1, labels != 1).astype(float)
        if not NEW:  # a tie counted as a vote for output_2; warned when acc <= longer
            acc = stats.accuracy(labels.tolist(), np.where(votes == 1, 1, 2).tolist())
            longer = bias.longer_baseline(labels.tolist(), words[:, 0], words[:, 1])
            return bool(acc.value <= longer.value)
        from evalharness.pairs import LabeledPair
        from evalharness.stages.validate import baseline_warning, baselines

        predictions = np.where(votes == 1, 1.0, np.where(votes == 0, 2.0, 1.5))
        acc = stats.accuracy(labels.tolist(), predictions.tolist()).to_dict()
        pairs = [
            LabeledPair(str(i), "q", "a " * int(w1), "b " * int(w2), int(y))
            for i, (w1, w2, y) in enumerate(zip(words[:, 0], words[:, 1], labels, strict=True))
        ]
        return baseline_warning(acc, baselines(pairs, lambda t: len(t.split()), 0.95)) is not None

    return run


ROWS: list[tuple[str, Trial]] = [
    ("LBR, null (soft jitter)", lbr(None, False)),
    ("LBR, null (hard coin)", lbr(0.5, True)),
    ("LBR, planted p=0.8 hard", lbr(0.8, True)),
    ("LBR, planted p=0.8 soft", lbr(0.8, False)),
    ("LBR, planted p=1.0", lbr(1.0, False)),
    ("position, null (soft jitter)", position("unbiased")),
    ("position, null (hard coin)", position("unbiased", hard=True)),
    ("position, planted always slot A", position("first", 1.0)),
    ("position, planted slot A p=0.8 hard", position("first", 0.8, True)),
    ("position, planted slot fixed per prompt", position("slot", 1.0)),
    ("controlled, null (mixed lengths)", controlled(None)),
    ("controlled, null (tuned always longer)", controlled(None, world="always_longer")),
    ("controlled, planted length p=0.8", controlled(0.8, world="tilted")),
    ("controlled, planted length p=1.0", controlled(1.0, world="tilted")),
    ("exploitability, null", exploit(None)),
    ("exploitability, planted +0.3", exploit(0.3)),
    ("judge-validate, 90%-accurate judge (58% label 1)", validation("good", 0.58)),
    ("judge-validate, coin judge (80% label 1)", validation("coin", 0.8)),
    ("judge-validate, always-A judge (20% label 1)", validation("always_a", 0.2)),
]


def main() -> None:
    """Print the fire rate of every row."""
    print(f"{'new' if NEW else 'old'} rules, {RUNS} runs")
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    for label, trial in ROWS:
        if only in label:
            print(f"{label:55s} {rate(trial):.3f}", flush=True)


if __name__ == "__main__":
    main()
