"""The statistics settings every interval shares: seed, bootstrap resamples, confidence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatsSettings:
    """How intervals are formed: the bootstrap's ``seed`` and ``n_resamples``, and the
    ``confidence`` level of every interval and test (checked by each statistic)."""

    seed: int = 0
    n_resamples: int = 2000
    confidence: float = 0.95


DEFAULT_STATS = StatsSettings()
"""Seed 0, 2000 resamples, 95% confidence."""
