"""The sections of the typed analysis: run, headline, criteria, reliability, examples,
points, cost and failures (bias and human are in ``model_probes``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalharness.analysis.codec import doc, encode
from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model_probes import Bias, Human

__all__ = [
    "AdjustedRate", "Bias", "Controlled", "Cost", "CriterionScores", "Example", "Failures",
    "GenerateCost", "Headline", "Human", "JudgeCost", "ParseFailures", "Point", "Position",
    "PromptPreference", "Reliability", "RoleCost", "RunInfo", "StageCosts", "StageFailures",
]  # fmt: skip


@dataclass(frozen=True)
class RunInfo:
    """What was compared."""

    dir: str = doc("the run directory")
    base: str = doc("base model spec")
    tuned: str = doc("tuned model spec")
    judge: str = doc("judge model spec")
    rubric: str = doc("rubric key `id@version`")
    criteria: list[str] = doc("the rubric's criteria, in rubric order")
    prompts: int = doc("prompts with at least one generation")
    seed: int = doc("seed of sampling, generation and every bootstrap")
    bootstrap: int = doc("bootstrap resamples of every bootstrap interval")
    confidence: float = doc("confidence level of every interval and test")


@dataclass(frozen=True)
class AdjustedRate:
    """A controlled win rate: an Estimate (the rate) plus its comparison with the raw rate."""

    rate: Estimate = doc("the controlled rate (its fields are written inline)", flatten=True)
    minus_raw: Estimate = doc("controlled − raw, with its paired bootstrap interval")
    p_value: float | None = doc("bootstrap p-value of `minus_raw` against 0")
    dropped_terms: dict[str, str] = doc(
        "term → why it could not be estimated; the rate then does not hold that term equal"
    )
    extrapolation: str = doc(
        "non-empty when no prompt lies on one side of the point the rate is read at"
    )


@dataclass(frozen=True)
class Controlled:
    """Bias-controlled win rates (fractional logit on the soft preferences)."""

    raw: Estimate = doc("mean soft preference `p_tuned` (the regression's scale)")
    length_controlled: AdjustedRate = doc("the rate with the length term at zero")
    length_confidence_controlled: AdjustedRate | None = doc("the rate with both terms at zero")
    coefficients: dict[str, Estimate] = doc(
        "`intercept`, `length`, `confidence` → Estimate (log-odds; Wald, HC1) of the fullest "
        "model that could be fitted"
    )
    warnings: list[str] = doc(
        "terms that could not be estimated, failed fits, and significant controlled rates"
    )


@dataclass(frozen=True)
class PromptPreference:
    """The judge's preference on one prompt, both orders."""

    p_tuned: float = doc("mean of `p_tuned_xy` and `p_tuned_yx`")
    outcome: str = doc('`"win"`, `"tie"` or `"loss"`')
    p_tuned_xy: float = doc("P(tuned better) with tuned in slot A")
    p_tuned_yx: float = doc("P(tuned better) with tuned in slot B")


@dataclass(frozen=True)
class Headline:
    """Tuned (X) against base (Y), each prompt judged in both orders."""

    n: int = doc("prompts with both orders judged")
    win_rate: Estimate = doc(
        "share of prompts tuned wins, a tie counting one half; bootstrap over prompts"
    )
    outcomes: dict[str, int] = doc('`{"win", "tie", "loss"}` → count of prompt outcomes')
    outcome_shares: dict[str, Estimate] = doc('`{"win", "tie", "loss"}` → Estimate (Wilson)')
    order_disagreements: int = doc("prompts where the same *slot* won both orders")
    order_disagreement_ids: list[str] = doc("their prompt ids")
    undecided: int = doc("prompts with P = 0.5 exactly in at least one order")
    tie_band: float = doc("width of the tie band around 0.5")
    controlled: Controlled | None = doc("bias-controlled win rates; null with fewer than 3 prompts")
    per_prompt: dict[str, PromptPreference] = doc("prompt id → the judge's preference")


@dataclass(frozen=True)
class CriterionScores:
    """Pointwise scores of one criterion, over the prompts scored for both models."""

    base: Estimate = doc("mean expected score of the base answers")
    tuned: Estimate = doc("mean expected score of the tuned answers")
    tuned_minus_base: Estimate = doc("mean paired difference, bootstrap over prompts")
    prompts_dropped: int = doc("prompts scored for only one of the two models, left out")


@dataclass(frozen=True)
class Position:
    """Position statistics: each item judged in both orders."""

    n: int = doc("items judged in both orders")
    consistent: int = doc("consistent items")
    order_disagreements: int = doc("items where the same slot won both orders")
    undecided: int = doc("items with an exact 0.5 in an order")
    consistency: Estimate = doc("consistent / n (Wilson); 1 = position never matters")
    first_slot_share: Estimate = doc("slot-A verdicts / 2n, undecided counting half (Wilson)")
    mean_p_first: Estimate = doc("mean P(A) over all 2n judgments (bootstrap over prompts)")
    slot_decided_share: Estimate = doc("order disagreements / decided items (Wilson)")
    favours: str | None = doc(
        '`"first"` or `"second"` when the first-slot share\'s interval excludes 0.5'
    )
    slot_decides: bool = doc("whether `slot_decided_share`'s interval lies above 0.5")


@dataclass(frozen=True)
class ParseFailures:
    """Judgments without a readable verdict (server errors are in `failures`)."""

    pointwise: int = doc("pointwise judgments without a verdict")
    pairwise: int = doc("pairwise judgments without a verdict")
    total_judgments: int = doc("all judgments of the analyzed judge")


@dataclass(frozen=True)
class Reliability:
    """How far the judge can be trusted."""

    position: Position | None = doc(
        "position statistics on tuned vs base; null when no prompt was judged in both orders"
    )
    position_all_comparisons: Position | None = doc(
        "the same over every pairwise comparison, probe comparisons included"
    )
    pointwise_mass: Estimate = doc("mean probability on the allowed score tokens (logprobs)")
    pairwise_mass: Estimate = doc("mean probability on the answer letters A/B (logprobs)")
    pointwise_low_mass_share: float | None = doc(
        "share of logprob-mode pointwise judgments with mass below `low_mass`"
    )
    pairwise_low_mass_share: float | None = doc("the same for pairwise judgments")
    modes: dict[str, dict[str, int]] = doc(
        "`pointwise`/`pairwise` → mode (`logprobs`, `text`) → records"
    )
    parse_failures: ParseFailures = doc("judgments without a readable verdict")
    judges_itself: list[str] = doc("roles whose model spec is the judge's: self-preference risk")
    judge: str = doc("judge model spec")


@dataclass(frozen=True)
class Example:
    """One prompt's base and tuned answers side by side."""

    prompt_id: str = doc("prompt id")
    prompt: str = doc("the prompt text")
    responses: dict[str, str] = doc("role → model output (untrusted text)")
    tokens: dict[str, int] = doc("role → output length in tokens")
    finish_reason: dict[str, str | None] = doc('role → `"stop"`, `"length"`, ...')
    scores: dict[str, dict[str, float | None]] = doc("role → criterion → expected score or null")


@dataclass(frozen=True)
class Point:
    """One generated answer on the score-vs-length plot."""

    prompt_id: str = doc("prompt id")
    role: str = doc('`"base"` or `"tuned"`')
    tokens: int = doc("output length in tokens")
    score: float | None = doc("mean expected score over the criteria judged for the answer")


@dataclass(frozen=True)
class RoleCost:
    """Generation cost of one role."""

    model: str = doc("model spec")
    answers: int = doc("answers generated")
    prompt_tokens: int = doc("prompt tokens")
    output_tokens: int = doc("output tokens")
    seconds: float = doc("seconds generating")
    token_source: str = doc("`server usage fields` for `openai:` models, else `tokenizer`")


@dataclass(frozen=True)
class GenerateCost:
    """The generate stage's cost."""

    answers: int = doc("answers generated")
    prompt_tokens: int = doc("prompt tokens")
    output_tokens: int = doc("output tokens")
    seconds: float = doc("seconds generating")
    by_role: dict[str, RoleCost] = doc("role → the same counts, the model and token source")


@dataclass(frozen=True)
class JudgeCost:
    """A judging stage's cost (judge or bias)."""

    judgments: int = doc("judgments")
    seconds: float = doc("seconds, summed over judgments")
    failed: int = doc("failed judgments")
    judge_tokens_computed: int | None = doc(
        "tokens a local judge ran through the model; null for server and scripted judges"
    )
    wall_seconds: float | None = doc("the stage's wall time; null if unknown")


@dataclass(frozen=True)
class StageCosts:
    """Cost per stage."""

    generate: GenerateCost = doc("generation")
    judge: JudgeCost = doc("judging of the answers")
    bias: JudgeCost = doc("judging of the probe variants")


@dataclass(frozen=True)
class Cost:
    """What the run cost, from the records and the run's `cost.json`."""

    stages: StageCosts = doc("tokens and seconds per stage")
    seconds: float = doc("total seconds over the stages")
    share: dict[str, float | None] = doc("stage → its share of the total seconds")
    probe_seconds: dict[str, float] | None = doc(
        "wall seconds of each bias probe kind (present once the bias stage ran)", omit_none=True
    )
    probe_share_of_run: dict[str, float | None] | None = doc(
        "each probe kind's share of the run", omit_none=True
    )
    bias_interval_width: dict[str, float | None] | None = doc(
        "width of the LBR and CBR intervals: what the probe budget bought", omit_none=True
    )


@dataclass(frozen=True)
class StageFailures:
    """Failed records of one stage and model."""

    stage: str = doc("`generate`, `judge pointwise`, `judge pairwise`, `bias pointwise`, ...")
    model: str = doc("model spec")
    role: str = doc("`base`, `tuned` or `judge`")
    records: int = doc("records")
    failed: int = doc("records with an error")
    kinds: dict[str, int] = doc('error kind (`"HTTP 503"`, `"timeout"`, ...) → count')
    first_errors: list[str] = doc("up to 3 error messages")


@dataclass(frozen=True)
class Failures:
    """Failed records per stage and model."""

    records: int = doc("generations plus the analyzed judge's judgments")
    failed: int = doc("those with an error")
    share: float = doc("`failed / records` (0 when there are none)")
    stages: list[StageFailures] = doc("one entry per stage and model")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (for the failure gate)."""
        out: dict[str, Any] = encode(self)
        return out
