"""The `leaderboard` section of the typed analysis: ratings of more than two models.

Present only when a run compares more than two models (two-model runs keep the
base-vs-tuned analysis unchanged, without this key). Built by
:mod:`evalharness.analysis.leaderboard`.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.analysis.codec import doc
from evalharness.analysis.estimate import Estimate

__all__ = ["Leaderboard", "LeaderboardRow", "StyleTerm"]


@dataclass(frozen=True)
class LeaderboardRow:
    """One model of the leaderboard."""

    model: str = doc("the model's name (its role in the records)")
    rating: Estimate = doc("raw Bradley–Terry rating (reference = 1000; 400 points = 10:1 odds)")
    controlled_rating: Estimate = doc("rating with length, markdown and confidence held equal")
    rank: int = doc("rank by raw rating (1 = best)")
    rank_low: int = doc("best rank of the rank interval (raw)")
    rank_high: int = doc("worst rank of the rank interval (raw)")
    controlled_rank: int = doc("rank by style-controlled rating")
    controlled_rank_low: int = doc("best rank of the style-controlled rank interval")
    controlled_rank_high: int = doc("worst rank of the style-controlled rank interval")
    win_vs_reference: Estimate = doc("P(beats the reference) from the raw ratings")
    controlled_win_vs_reference: Estimate = doc(
        "P(beats the reference) from the style-controlled ratings"
    )
    battles: int = doc("decided battle rows the model takes part in")
    criteria: dict[str, Estimate] = doc("criterion → mean pointwise score")
    mean_tokens: float | None = doc("mean answer length in tokens")
    confidence_density: float | None = doc(
        "mean (certainty − hedge markers) per 100 words of its answers"
    )
    markdown_density: float | None = doc("mean markdown elements per 100 words of its answers")
    lbr: Estimate | None = doc(
        "length bias rate on this model's answers (padded variant vs original); null without probes"
    )
    cbr: Estimate | None = doc(
        "confidence bias rate on this model's answers (assertive vs hedged); null without probes"
    )


@dataclass(frozen=True)
class StyleTerm:
    """One style covariate of the style-controlled fit."""

    name: str = doc("`length`, `markdown` or `confidence`")
    logit: Estimate = doc("log-odds per standard deviation of the A − B difference")
    points: Estimate = doc("the same in rating points")
    scale: float = doc("the standard deviation the difference was divided by (0 = constant)")
    estimable: bool = doc("false when the difference was constant and the term left out")


@dataclass(frozen=True)
class Leaderboard:
    """Bradley–Terry ratings of every model, raw and with style held equal."""

    reference: str = doc("the model rated 1000")
    rating_target: str = doc(
        '`"outcome"` (tie-band score per prompt and pair, both orders averaged) or '
        '`"soft"` (the judge\'s soft preference per order)'
    )
    models: list[LeaderboardRow] = doc("one row per model, reference first, then run order")
    checkpoint_order: list[str] | None = doc(
        "the models in training order (config `model_order`, or every name ends in a step "
        "number); null when unknown"
    )
    style: list[StyleTerm] = doc("the style coefficients, with intervals")
    win_matrix: list[list[float]] = doc("P(row model beats column model), raw ratings")
    controlled_win_matrix: list[list[float]] = doc(
        "P(row model beats column model), style-controlled ratings"
    )
    controlled_difference: list[list[Estimate]] = doc(
        "style-controlled rating of the row model minus the column model's, with the "
        "bootstrap interval of the difference (the `compare --max-rating-drop` gate reads it)"
    )
    battles: int = doc("decided battle rows fitted")
    excluded: int = doc("failed or undecided battle rows left out")
    prompts: int = doc("prompts with at least one decided battle")
    converged: bool = doc("whether every fit converged")
    readings: list[str] = doc(
        "sentences about the judge's style preferences across models; each one only when "
        "its coefficient's interval excludes 0"
    )
    warnings: list[str] = doc(
        "what makes the ratings untrustworthy, e.g. a group of models that won every battle "
        "against the rest (the gap is then not estimable)"
    )

    def ranked(self) -> list[LeaderboardRow]:
        """The rows, best style-controlled rating first (the order reports show)."""
        return sorted(self.models, key=lambda r: -r.controlled_rating.value)
