"""Position statistics of a pairwise judge: one definition of each measure, used everywhere.

Every item (a prompt and two responses X, Y) is judged in both orders. In order 1 X is in
slot A and ``p1`` is P(A); in order 2 X is in slot B and ``p2`` is P(A). An order's verdict
is slot A when P(A) > 0.5, slot B when P(A) < 0.5, and undecided at exactly 0.5. An item is

* **consistent** when both orders are decided and name the same response;
* an **order disagreement** when both orders are decided and the same *slot* wins both
  times (the verdict followed the slot, not the response);
* **undecided** when either order is exactly 0.5.

Consistency is consistent / n; the first-slot share counts each of the 2n verdicts as 1
(slot A), 0 (slot B) or 1/2 (undecided). Both are proportions with Wilson intervals.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalharness.analysis.estimate import Estimate, as_probabilities, same_length
from evalharness.analysis.intervals import bootstrap_mean, wilson
from evalharness.analysis.settings import DEFAULT_STATS, StatsSettings


@dataclass(frozen=True)
class PositionStats:
    """How much a pairwise judge's verdicts depend on the slot rather than the response.

    ``slot_decided_share`` is order disagreements / decided items: 0.5 for a judge that
    is pure noise, 0 for one that reads only content, 1 for one that reads only the slot.
    ``favours`` (``"first"``, ``"second"`` or None) and ``slot_decides`` are the two
    findings of the position warning, each tested at half the error rate (Bonferroni):
    the first-slot share's interval excludes 0.5, or the slot-decided share's interval
    lies above 0.5.
    """

    n: int
    consistent: int
    disagreements: int
    undecided: int
    consistency: Estimate
    first_slot_share: Estimate
    mean_p_first: Estimate
    slot_decided_share: Estimate
    favours: str | None
    slot_decides: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "n": self.n,
            "consistent": self.consistent,
            "order_disagreements": self.disagreements,
            "undecided": self.undecided,
            "consistency": self.consistency.to_dict(),
            "first_slot_share": self.first_slot_share.to_dict(),
            "mean_p_first": self.mean_p_first.to_dict(),
            "slot_decided_share": self.slot_decided_share.to_dict(),
            "favours": self.favours,
            "slot_decides": self.slot_decides,
        }


def classify_orders(p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean arrays (consistent, disagreement, undecided) per item, as defined above."""
    undecided = (p1 == 0.5) | (p2 == 0.5)
    consistent = ((p1 > 0.5) & (p2 < 0.5)) | ((p1 < 0.5) & (p2 > 0.5))
    disagreement = ~undecided & ~consistent
    return consistent, disagreement, undecided


def _slot_a(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))


def position_stats(
    p_a_order1: Sequence[float],
    p_a_order2: Sequence[float],
    settings: StatsSettings = DEFAULT_STATS,
    clusters: Sequence[Hashable] | None = None,
) -> PositionStats:
    """Consistency, order disagreements, first-slot share and the position findings.

    ``p_a_order1[i]`` is P(A) with X in slot A and ``p_a_order2[i]`` P(A) with X in slot B.
    ``clusters`` (prompt ids) are used by the bootstrap of ``mean_p_first``.
    """
    confidence = settings.confidence
    where = "position_stats"
    p1 = as_probabilities(p_a_order1, "p_a_order1", where)
    p2 = as_probabilities(p_a_order2, "p_a_order2", where)
    n = same_length(where, p_a_order1=p1, p_a_order2=p2)
    consistent, disagreement, undecided = classify_orders(p1, p2)
    slot_votes = float(np.sum(_slot_a(p1) + _slot_a(p2)))
    decided = int(np.sum(consistent | disagreement))
    strict = 1.0 - (1.0 - confidence) / 2
    share_test = wilson(slot_votes, 2 * n, strict)
    decided_test = wilson(float(np.sum(disagreement)), decided, strict)
    favours = None
    if share_test.excludes(0.5):
        favours = "first" if share_test.value > 0.5 else "second"
    mean_p = (p1 + p2) / 2.0
    return PositionStats(
        n=n,
        consistent=int(np.sum(consistent)),
        disagreements=int(np.sum(disagreement)),
        undecided=int(np.sum(undecided)),
        consistency=wilson(float(np.sum(consistent)), n, confidence),
        first_slot_share=wilson(slot_votes, 2 * n, confidence),
        mean_p_first=bootstrap_mean(mean_p, settings, where=where, clusters=clusters),
        slot_decided_share=wilson(float(np.sum(disagreement)), decided, confidence),
        favours=favours,
        slot_decides=decided_test.n > 0 and decided_test.low > 0.5,
    )


def position_warning(position: dict[str, Any] | None) -> str | None:
    """The position warning for a position dict (``PositionStats.to_dict``), or None."""
    if not position:
        return None
    share = position.get("first_slot_share") or {}
    favours = position.get("favours")
    if favours:
        return (
            f"The judge favours the {favours} slot: {share.get('value', 0):.0%} of verdicts went "
            f"to slot A (CI {share.get('low', 0):.0%}..{share.get('high', 0):.0%}, "
            "50% expected): position decides part of the verdicts."
        )
    if position.get("slot_decides"):
        decided = position.get("slot_decided_share") or {}
        return (
            f"When the verdict changes with the order, the slot decided it: in "
            f"{decided.get('value', 0):.0%} of decided pairs the same slot won both orders "
            f"(CI {decided.get('low', 0):.0%}..{decided.get('high', 0):.0%}, at most 50% for "
            "a judge that reads content or is merely noisy): position decides more than content."
        )
    return None
