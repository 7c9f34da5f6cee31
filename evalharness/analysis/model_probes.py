"""The bias and human sections of the typed analysis."""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.analysis.codec import doc
from evalharness.analysis.estimate import Estimate

__all__ = [
    "Bias", "Disagreement", "Exploitability", "Human", "HumanCriterion", "InterAnnotator",
    "LabelsNeeded", "LengthGap", "PpiResult", "ProbeResult",
]  # fmt: skip


@dataclass(frozen=True)
class Exploitability:
    """Which criterion a probe moves most (Holm over every score-shift test of the run)."""

    criterion: str | None = doc(
        'the criterion with the largest absolute mean shift; ties joined by `" = "`'
    )
    tied: list[str] = doc("every criterion sharing that largest shift")
    shift: float | None = doc("that shift (score points, signed)")
    ranking: list[str] = doc("all criteria by absolute shift, largest first")
    significant: bool = doc("whether a top criterion's shift is significant after Holm")
    significant_criteria: list[str] = doc("every criterion of this probe significant after Holm")
    adjusted_p: dict[str, float] = doc("criterion → Holm-adjusted p-value")


@dataclass(frozen=True)
class ProbeResult:
    """One probe kind (`padded`, `shortened`, `assertive`, `hedged`)."""

    preference_over_original: Estimate = doc(
        "net preference for the variant over its original, both orders, both models' answers"
    )
    score_shift: dict[str, Estimate] = doc("criterion → mean paired change variant − original")
    exploitability: Exploitability | None = doc("which criterion the probe moves most")
    noop: int = doc("variants identical to their original; left out")
    n_variants: int = doc("variants made")
    mean_original_tokens: float | None = doc("mean length of the originals (tokens)")
    mean_variant_tokens: float | None = doc("mean length of the variants")


@dataclass(frozen=True)
class LengthGap:
    """How far the assertive and hedged copies of an answer differ in judge tokens."""

    pairs: int = doc("assertive/hedged pairs")
    mean_abs_tokens: float = doc("mean absolute token difference")
    max_abs_tokens: int = doc("largest absolute token difference")


@dataclass(frozen=True)
class Bias:
    """Counterfactual probes: each answer rewritten to change one property, not its content."""

    probes: dict[str, ProbeResult] = doc("probe kind → probe result")
    lbr: Estimate | None = doc(
        "length bias rate: net preference for the padded copy (null without the padded probe)"
    )
    cbr: Estimate = doc("confidence bias rate: net preference for assertive over hedged")
    cbr_length_adjusted: Estimate = doc("the CBR read at equal length (regression intercept)")
    cbr_length_gap: LengthGap | None = doc("token gap of the assertive and hedged copies")
    cbr_score_shift: dict[str, Estimate] = doc("criterion → mean paired change assertive − hedged")
    cbr_exploitability: Exploitability | None = doc("exploitability of assertive vs hedged")
    familywise_tests: int = doc("(probe, criterion) score-shift tests in the Holm family")


@dataclass(frozen=True)
class LabelsNeeded:
    """Labels for a PPI interval of ± half_width at the measured variances."""

    half_width: float = doc("the target half-width")
    n: int | None = doc("labels needed; null when unreachable")


@dataclass(frozen=True)
class PpiResult:
    """Human-only and prediction-powered means of one quantity."""

    human_only: Estimate = doc("mean of the human values, t interval")
    ppi: Estimate = doc("the prediction-powered (PPI++) mean")
    lambda_: float = doc("the power-tuning weight λ ∈ [0, 1]", key="lambda")
    correlation: float | None = doc("Pearson correlation of human values and judge predictions")
    effective_labels: float | None = doc("what the PPI estimate is worth in human-only labels")
    labels_needed: LabelsNeeded | None = doc("labels needed for ± 0.05")
    note: str = doc("why an estimate is special (e.g. every prompt labeled)")


@dataclass(frozen=True)
class HumanCriterion:
    """PPI means of one criterion's human score."""

    tuned: PpiResult | None = doc("the tuned model's score")
    base: PpiResult | None = doc("the base model's score")
    tuned_minus_base: PpiResult | None = doc("the paired difference")


@dataclass(frozen=True)
class Disagreement:
    """A labeled prompt where the judge's verdict differs from people's."""

    prompt_id: str = doc("prompt id")
    prompt: str = doc("the prompt text")
    responses: dict[str, str] = doc("role → answer (untrusted text)")
    judge_p_tuned: float = doc("the judge's P(tuned better)")
    judge: str = doc("the judge's verdict (`tuned`, `tie`, `base`)")
    human: str = doc("people's verdict")
    human_value: float = doc("people's mean value (1 tuned, 0.5 tie, 0 base)")
    notes: list[str] = doc("annotators' notes")
    random: bool = doc("whether the prompt is in the random sample")


@dataclass(frozen=True)
class InterAnnotator:
    """Agreement between annotators on prompts labeled by two or more."""

    annotators: list[str] = doc("the annotators")
    shared_prompts: int = doc("prompts with two or more labels")
    krippendorff_alpha: float | None = doc("Krippendorff's alpha (ordinal base < tie < tuned)")
    exact_agreement: float = doc("share of shared prompts where every label agrees")


@dataclass(frozen=True)
class Human:
    """The Human check: labels and the prediction-powered win rate."""

    n_labels: int = doc("labeled prompts of the random sample that the judge also judged")
    n_label_records: int = doc("records in labels.jsonl (undo and skip included)")
    annotators: list[str] = doc("annotators with a standing label")
    extra_labeled: list[str] = doc("labeled prompts outside the random sample (kept out)")
    unlabeled_prompts: int = doc("judged prompts without a label")
    labels_without_judgment: list[str] = doc("labeled prompts the judge did not judge")
    agreement: Estimate | None = doc("judge vs people on the labeled random sample")
    kappa: Estimate | None = doc("Cohen's kappa of the judge's and people's verdicts")
    confusion: dict[str, dict[str, int]] = doc("people's verdict → judge's verdict → count")
    disagreements: list[Disagreement] = doc("labeled prompts where judge and people differ")
    inter_annotator: InterAnnotator | None = doc("agreement between annotators")
    human_win_rate: Estimate | None = doc("mean human value over the labels, t interval")
    ppi_win_rate: Estimate | None = doc("the prediction-powered (PPI++) human win rate")
    judge_win_rate: Estimate | None = doc("the judge alone: its interval ignores its bias")
    lambda_: float | None = doc("the power-tuning weight λ ∈ [0, 1]", key="lambda")
    correlation: float | None = doc("correlation of human values and judge predictions")
    effective_labels: float | None = doc("what the PPI estimate is worth in human-only labels")
    labels_needed: LabelsNeeded | None = doc("labels for a PPI interval of ± 0.05")
    criteria: dict[str, HumanCriterion] | None = doc(
        "criterion → PPI means of human criterion scores (null without criterion scores)"
    )
