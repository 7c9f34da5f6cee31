"""The leaderboard's style readings are claims: tested by simulation with a scripted judge.

Each sentence ("Ratings change under style control: the judge rewards longer answers across
models ...") fires only when its coefficient's interval excludes 0. With an unbiased judge
(equal models, random style) each stays quiet in at least 93% of 200 simulated runs; with
the bias planted (deterministic included) it fires in at least 95% of runs. Three models,
200 prompts, every pair, both orders mapped to the tie-band outcome; 1000 resamples per
null run (the percentile interval of a coefficient runs slightly narrow with fewer), 400 per
planted run.
"""

from __future__ import annotations

import numpy as np
import pytest
from battle_sim import simulate_battles

from evalharness.analysis.leaderboard import style_readings
from evalharness.analysis.ratings import rate_battles
from evalharness.analysis.settings import StatsSettings

TERMS = ("length", "markdown", "confidence")


def _fire_rates(runs: int, seed: int, resamples: int = 400, **effects: float) -> dict[str, float]:
    fired = dict.fromkeys(TERMS, 0)
    for k in range(runs):
        rng = np.random.default_rng(seed + k)
        battles = simulate_battles(rng, 3, 200, **effects)
        ratings = rate_battles(battles, settings=StatsSettings(seed + k, resamples, 0.95))
        for sentence in style_readings(ratings):
            for term in TERMS:
                fired[term] += f"({term} coefficient" in sentence
    return {term: count / runs for term, count in fired.items()}


def test_unbiased_judge_keeps_every_style_reading_quiet() -> None:
    rates = _fire_rates(200, 1000, resamples=1000)
    assert all(rate <= 0.07 for rate in rates.values()), rates


@pytest.mark.parametrize(
    ("term", "effects"),
    [
        ("length", {"length_effect": 2.0}),
        ("length", {"length_effect": 100.0}),  # deterministic: the longer answer always wins
        ("markdown", {"markdown_effect": 0.6}),
        ("confidence", {"confidence_effect": 0.6}),
    ],
)
def test_planted_style_bias_fires_its_reading(term: str, effects: dict[str, float]) -> None:
    rates = _fire_rates(40, 5000, **effects)
    assert rates[term] >= 0.95, rates


def test_reading_names_direction_and_interval() -> None:
    rng = np.random.default_rng(3)
    ratings = rate_battles(
        simulate_battles(rng, 3, 200, length_effect=-2.0), settings=StatsSettings(0, 400, 0.95)
    )
    sentences = [s for s in style_readings(ratings) if "(length coefficient" in s]
    assert len(sentences) == 1
    assert "penalizes longer answers" in sentences[0]
    assert "excludes 0" in sentences[0]
