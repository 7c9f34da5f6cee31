"""Known-answer figures of the ratings: recovery error, interval coverage, style-control power.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ratings_known_answers.py [RUNS]

Uses the scripted judge of ``tests/test_ratings.py`` (0/1 verdicts drawn from
``logistic(sA - sB + planted style effect)``, every pair on every prompt, both orders).
RUNS (default 100) simulated runs per scenario; 1000 bootstrap resamples each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_ratings import simulate  # noqa: E402

from evalharness.analysis.ratings import SCALE, rate_battles  # noqa: E402
from evalharness.analysis.settings import StatsSettings  # noqa: E402


def _settings(run: int) -> StatsSettings:
    return StatsSettings(seed=run, n_resamples=1000)


STRENGTHS = {"base": 0.0, "sft": 0.4, "dpo": 0.9, "rlhf": -0.5}


def recovery(runs: int) -> None:
    """Four models of known strength, 300 prompts: error, coverage, order recovered."""
    errors, covered, ordered = [], 0, 0
    truth = {m: 1000.0 + SCALE * s for m, s in STRENGTHS.items()}
    for run in range(runs):
        result = rate_battles(simulate(np.random.default_rng(run), STRENGTHS, 300),
                              reference="base", settings=_settings(run))  # fmt: skip
        for model in STRENGTHS:
            rating = result.raw_of(model).rating
            errors.append(abs(rating.estimate - truth[model]))
            covered += rating.contains(truth[model]) if model != "base" else 0
        ranked = [r.model for r in sorted(result.raw, key=lambda r: r.rank)]
        ordered += ranked == sorted(STRENGTHS, key=lambda m: -STRENGTHS[m])
    print(f"recovery ({runs} runs, 4 models, 300 prompts): mean |error| "
          f"{np.mean(errors):.1f} points, max {np.max(errors):.1f}; true rating inside "
          f"interval {covered / (3 * runs):.3f}; order recovered {ordered / runs:.3f}")  # fmt: skip


def style(runs: int, name: str) -> None:
    """A judge that prefers length (or confidence) only, three equal models, 200 prompts."""
    models = ("low", "mid", "high")
    kwargs: dict[str, object] = (
        {"lengths": dict(zip(models, (100.0, 200.0, 400.0), strict=True)), "length_effect": 4.0}
        if name == "length"
        else {"confidence": dict(zip(models, (-2.0, 0.0, 2.0), strict=True)),
              "confidence_effect": 0.5}
    )  # fmt: skip
    raw_order = controlled_equal = detected = 0
    for run in range(runs):
        battles = simulate(np.random.default_rng(run), dict.fromkeys(models, 0.0), 200,
                           **kwargs)  # type: ignore[arg-type]  # fmt: skip
        result = rate_battles(
            battles, reference="mid", settings=_settings(run)
        )
        raw_order += [r.model for r in sorted(result.raw, key=lambda r: r.rank)] == [
            "high", "mid", "low"]  # fmt: skip
        controlled_equal += all(r.rating.contains(1000.0) for r in result.controlled)
        detected += result.coefficient(name).logit.low > 0.0
    print(
        f"{name}-only judge ({runs} runs): raw order by {name} {raw_order / runs:.3f}; "
        f"every controlled rating covers 1000 {controlled_equal / runs:.3f}; "
        f"{name} coefficient interval excludes 0 {detected / runs:.3f}"
    )


def null(runs: int, n_prompts: int, n_models: int) -> None:
    """Unbiased judge over equal models: how often each style interval covers 0."""
    covered = dict.fromkeys(("length", "markdown", "confidence"), 0)
    models = dict.fromkeys("abcd"[:n_models], 0.0)
    for run in range(runs):
        result = rate_battles(simulate(np.random.default_rng(10_000 + run), models, n_prompts),
                              settings=_settings(run))  # fmt: skip
        for key in covered:
            covered[key] += result.coefficient(key).logit.contains(0.0)
    rates = ", ".join(f"{k} {v / runs:.3f}" for k, v in covered.items())
    print(f"null ({runs} runs, {n_models} models, {n_prompts} prompts): coverage of 0: {rates}")


def main() -> None:
    """Print every figure."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    recovery(runs)
    style(runs, "length")
    style(runs, "confidence")
    for n_prompts in (40, 100, 200):
        null(runs, n_prompts, 3)
    null(runs, 200, 2)


if __name__ == "__main__":
    main()
