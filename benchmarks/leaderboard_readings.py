"""How often the leaderboard's style readings fire: unbiased judge (false alarms) and planted
style biases (power), per style term.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/leaderboard_readings.py [RUNS] [PROMPTS] [RESAMPLES]

Three equal models with random style (``tests/battle_sim.py``, ``simulate_battles``), every
pair on every prompt, both orders mapped to the tie-band outcome. Defaults: 200 runs, 200
prompts, 1000 resamples. A reading fires when its coefficient's interval excludes 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from battle_sim import simulate_battles  # noqa: E402

from evalharness.analysis.leaderboard import style_readings  # noqa: E402
from evalharness.analysis.ratings import rate_battles  # noqa: E402
from evalharness.analysis.settings import StatsSettings  # noqa: E402

TERMS = ("length", "markdown", "confidence")
SCENARIOS: dict[str, dict[str, float]] = {
    "unbiased": {},
    "length 2.0": {"length_effect": 2.0},
    "length deterministic": {"length_effect": 100.0},
    "markdown 0.6": {"markdown_effect": 0.6},
    "confidence 0.6": {"confidence_effect": 0.6},
}


def fire_rates(runs: int, prompts: int, resamples: int, **effects: float) -> dict[str, float]:
    """Share of runs in which each term's reading fires."""
    fired = dict.fromkeys(TERMS, 0)
    for k in range(runs):
        battles = simulate_battles(np.random.default_rng(10_000 + k), 3, prompts, **effects)
        ratings = rate_battles(battles, settings=StatsSettings(k, resamples, 0.95))
        for sentence in style_readings(ratings):
            for term in TERMS:
                fired[term] += f"({term} coefficient" in sentence
    return {term: count / runs for term, count in fired.items()}


def main() -> None:
    """Print the firing rate of each reading in each scenario."""
    args = [int(a) for a in sys.argv[1:4]]
    runs, prompts, resamples = (args + [200, 200, 1000][len(args) :])[:3]
    print(f"{runs} runs, 3 models x {prompts} prompts, {resamples} resamples")
    print(f"{'scenario':<22}" + "".join(f"{t:>12}" for t in TERMS))
    for name, effects in SCENARIOS.items():
        rates = fire_rates(runs, prompts, resamples, **effects)
        print(f"{name:<22}" + "".join(f"{rates[t]:>12.3f}" for t in TERMS))


if __name__ == "__main__":
    main()
