"""Plain-text wording shared by the page and the terminal view, so both say the same thing."""

from __future__ import annotations

from evalharness.records import PairwiseRecord, PointwiseRecord
from evalharness.view.entries import Comparison, ProbeView, PromptEntry

DASH = "—"
VERDICT_WORDS = {"win": "tuned better", "loss": "base better", "tie": "tie"}


def prob(p: float | None) -> str:
    """A probability with two decimals, or a dash."""
    return DASH if p is None else f"{p:.2f}"


def pct(p: float | None) -> str:
    """A share as a whole percentage, or a dash."""
    return DASH if p is None else f"{p:.0%}"


def score(x: float | None) -> str:
    """An expected score with two decimals, or a dash."""
    return DASH if x is None else f"{x:.2f}"


def signed(x: float | None) -> str:
    """A signed difference with two decimals, or a dash."""
    return DASH if x is None else f"{x:+.2f}"


def side_name(subject: str) -> str:
    """A subject for people: "tuned/padded" -> "tuned (padded)"."""
    role, _, kind = subject.partition("/")
    return f"{role} ({kind})" if kind else role


def comparison_verdict(comparison: Comparison) -> str:
    """The averaged verdict of a comparison in words."""
    verdict = comparison.verdict
    if verdict is None:
        return "no verdict (an order failed or is missing)"
    x, y = side_name(comparison.x), side_name(comparison.y)
    if verdict == "tie":
        return f"tie (P({x}) = {prob(comparison.p_mean)})"
    better = x if verdict == "win" else y
    return f"{better} better (P({x}) = {prob(comparison.p_mean)})"


def main_verdict(entry: PromptEntry) -> str:
    """The tuned-vs-base verdict in a few words."""
    if entry.main is None or entry.main.verdict is None:
        return DASH
    return VERDICT_WORDS[entry.main.verdict]


def probe_title(probe: ProbeView) -> str:
    """ "tuned · padded (rules, 40 → 61 tokens)"."""
    r = probe.record
    return f"{r.source} · {r.kind} ({r.rewriter}, {r.original_tokens} → {r.variant_tokens} tokens)"


def probe_verdict(probe: ProbeView) -> str:
    """What the judge made of a variant against its original."""
    if probe.record.noop:
        return "the rewrite changed nothing; not judged"
    comparison = probe.against_original
    if comparison is None:
        return "not judged against the original"
    verdict = comparison.verdict
    if verdict is None:
        return "no verdict (an order failed)"
    words = {
        "win": "prefers the variant",
        "loss": "prefers the original",
        "tie": "no preference on average (as it should be: same content)",
    }[verdict]
    flip = "; the orders disagree" if comparison.order_flip else ""
    return (
        f"{words}: P(variant) {prob(comparison.p_xy)} shown first, "
        f"{prob(comparison.p_yx)} shown second, mean {prob(comparison.p_mean)}{flip}"
    )


def human_words(entry: PromptEntry) -> str:
    """The human labels of a prompt in a few words."""
    if not entry.labels:
        return DASH
    return ", ".join(
        f"{label.verdict}" + (f" ({label.annotator})" if label.annotator else "")
        for label in entry.labels
    )


def flags(entry: PromptEntry) -> list[str]:
    """Short tags for what stands out about a prompt."""
    out = []
    if entry.order_flip:
        out.append("order flip")
    if entry.any_low_mass:
        out.append("low mass")
    if entry.failures:
        out.append(f"{len(entry.failures)} failed")
    if entry.probe_flips:
        out.append(f"{entry.probe_flips} probe flip{'s' if entry.probe_flips > 1 else ''}")
    if human_disagrees(entry):
        out.append("judge ≠ human")
    return out


def human_disagrees(entry: PromptEntry) -> bool:
    """Whether the judge's verdict differs from the (mean) human verdict."""
    human = entry.human
    if human is None or entry.main is None or entry.main.verdict is None:
        return False
    judge = {"win": 1.0, "tie": 0.5, "loss": 0.0}[entry.main.verdict]
    people = 1.0 if human > 0.5 else 0.0 if human < 0.5 else 0.5
    return judge != people


def judgment_name(record: PointwiseRecord | PairwiseRecord) -> str:
    """Which judgment a record is, for people."""
    if isinstance(record, PointwiseRecord):
        return f"{record.subject} · {record.criterion} (verdict {record.argmax})"
    return f"{record.comparison} · order {record.order}"
