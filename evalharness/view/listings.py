"""The orderings and filters of a run's index, each a list of entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evalharness.view import fmt
from evalharness.view.entries import PromptEntry, RunEntries

DEFAULT = "all"


@dataclass(frozen=True)
class Listing:
    """A named view of the index: all prompts in some order, or the prompts matching a filter."""

    key: str
    title: str
    kind: str  # "sort" | "filter"
    explain: str
    entries: list[PromptEntry]


def _sorted(
    entries: list[PromptEntry], value: Callable[[PromptEntry], float | None], descending: bool
) -> list[PromptEntry]:
    """Entries by a value (missing values last, ties by prompt id)."""

    def key(e: PromptEntry) -> tuple[bool, float, str]:
        v = value(e)
        return (v is None, 0.0 if v is None else (-v if descending else v), e.prompt_id)

    return sorted(entries, key=key)


def _gap(e: PromptEntry) -> float | None:
    return e.main.gap if e.main is not None else None


def _abs_diff(e: PromptEntry) -> float | None:
    d = e.score_diff
    return None if d is None else abs(d)


def build_listings(run: RunEntries) -> list[Listing]:
    """Every ordering and filter of the index; the default (all, by prompt id) first."""
    entries = run.entries
    out = [
        Listing(DEFAULT, "All prompts", "sort", "By prompt id.", entries),
        Listing(
            "score-diff",
            "Score difference",
            "sort",
            "Largest |tuned − base| mean expected score first.",
            _sorted(entries, _abs_diff, descending=True),
        ),
        Listing(
            "disagreement",
            "Order disagreement",
            "sort",
            "Largest gap between P(tuned) with tuned shown first and with tuned shown second.",
            _sorted(entries, _gap, descending=True),
        ),
        Listing(
            "mass",
            "Lowest mass",
            "sort",
            "Lowest probability on the allowed answers, over all the prompt's judgments, first.",
            _sorted(entries, lambda e: e.min_mass, descending=False),
        ),
    ]
    if run.labels.by_prompt:
        out.append(
            Listing(
                "human-gap",
                "Judge–human disagreement",
                "sort",
                "Largest |judge P(tuned) − human preference for tuned| first; unlabeled last.",
                _sorted(entries, lambda e: e.human_gap, descending=True),
            )
        )
    filters: list[tuple[str, str, str, Callable[[PromptEntry], bool]]] = [
        (
            "order-flips",
            "Order flips",
            "Tuned vs base: the preferred answer changes when the two swap places.",
            lambda e: e.order_flip,
        ),
        (
            "low-mass",
            "Low mass",
            "A judgment put less than the low-mass threshold on the allowed answers.",
            lambda e: e.any_low_mass,
        ),
        (
            "failures",
            "Failures",
            "A generation failed, or a verdict could not be read (the reason is kept).",
            lambda e: bool(e.failures),
        ),
        (
            "probe-flips",
            "Probe flips",
            "The judge took a side between a probe variant and its original (same content).",
            lambda e: e.probe_flips > 0,
        ),
    ]
    if run.labels.by_prompt:
        filters.append(
            (
                "judge-vs-human",
                "Judge ≠ human",
                "The judge's verdict differs from the human label.",
                fmt.human_disagrees,
            )
        )
    for key, title, explain, keep in filters:
        out.append(Listing(key, title, "filter", explain, [e for e in entries if keep(e)]))
    return out
