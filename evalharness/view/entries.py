"""One entry per prompt: everything the run recorded about it, gathered from the records.

An entry holds the instruction, every model's answer, the judge's pointwise scores per
criterion, the tuned-vs-base comparison in both orders, each probe variant with its diff
and comparisons, every failure, and the human labels. The flags the view filters on
(order flip, low mass, failure, probe flip) and the keys it sorts by are computed here once,
so the page, the terminal view and the tests agree on them.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field

from evalharness.analysis.stats import outcome
from evalharness.config import RunConfig
from evalharness.records import (
    MAIN_COMPARISON,
    GenerationRecord,
    PairwiseRecord,
    PointwiseRecord,
    ProbeRecord,
    is_probe_comparison,
)
from evalharness.runstore import RunStore
from evalharness.templates import JudgeSetup, resolve_judge_setup
from evalharness.view.diff import Segment, word_diff
from evalharness.view.labels import HumanLabel, LabelSet, read_labels

ROLES = ("base", "tuned")


@dataclass
class Comparison:
    """One pairwise comparison of X against Y, judged in both orders."""

    name: str
    x: str
    y: str
    xy: PairwiseRecord | None = None  # X in slot A
    yx: PairwiseRecord | None = None  # X in slot B
    tie_band: float = 0.1

    @property
    def p_xy(self) -> float | None:
        """P(X better) with X shown first."""
        return self.xy.p_x if self.xy is not None and self.xy.error is None else None

    @property
    def p_yx(self) -> float | None:
        """P(X better) with X shown second."""
        return self.yx.p_x if self.yx is not None and self.yx.error is None else None

    @property
    def p_mean(self) -> float | None:
        """P(X better) averaged over both orders (None unless both were read)."""
        if self.p_xy is None or self.p_yx is None:
            return None
        return (self.p_xy + self.p_yx) / 2

    @property
    def verdict(self) -> str | None:
        """ "win", "tie" or "loss" for X, from the averaged preference."""
        return None if self.p_mean is None else outcome(self.p_mean, self.tie_band)

    @property
    def order_flip(self) -> bool:
        """Whether the preferred side changes when the two answers swap places."""
        if self.p_xy is None or self.p_yx is None:
            return False
        return (self.p_xy > 0.5) != (self.p_yx > 0.5)

    @property
    def gap(self) -> float | None:
        """|P(X) first − P(X) second|: how far the two orders disagree."""
        if self.p_xy is None or self.p_yx is None:
            return None
        return abs(self.p_xy - self.p_yx)

    def records(self) -> list[PairwiseRecord]:
        """The comparison's records that exist."""
        return [r for r in (self.xy, self.yx) if r is not None]


@dataclass
class ProbeView:
    """A counterfactual variant of one answer, with its diff, comparisons and scores."""

    record: ProbeRecord
    original: str
    diff: list[Segment]
    against_original: Comparison | None
    scores: dict[str, PointwiseRecord]

    @property
    def flip(self) -> bool:
        """Whether the judge took a side between the variant and its same-content original."""
        comparison = self.against_original
        return comparison is not None and comparison.verdict in ("win", "loss")


@dataclass
class Failure:
    """A generation or judgment that produced no usable value, with its reason and raw text."""

    what: str
    reason: str
    raw_text: str | None = None


@dataclass
class PromptEntry:
    """Everything recorded about one prompt."""

    prompt_id: str
    anchor: str
    instruction: str = ""
    category: str | None = None
    answers: dict[str, GenerationRecord] = field(default_factory=dict)
    scores: dict[str, dict[str, PointwiseRecord]] = field(default_factory=dict)
    main: Comparison | None = None
    probes: list[ProbeView] = field(default_factory=list)
    extra: list[Comparison] = field(default_factory=list)
    labels: list[HumanLabel] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    text_mode: list[PointwiseRecord | PairwiseRecord] = field(default_factory=list)
    masses: list[float] = field(default_factory=list)
    any_low_mass: bool = False

    def expected(self, role: str, criterion: str) -> float | None:
        """The expected score of a role's answer on a criterion."""
        record = self.scores.get(role, {}).get(criterion)
        return None if record is None or record.error else record.expected

    def criterion_diff(self, criterion: str) -> float | None:
        """Tuned − base expected score on one criterion, where both were scored."""
        tuned, base = self.expected("tuned", criterion), self.expected("base", criterion)
        return None if tuned is None or base is None else tuned - base

    @property
    def score_diff(self) -> float | None:
        """Mean over criteria of tuned − base expected score (criteria with both scores)."""
        tuned = self.scores.get("tuned", {})
        diffs = [d for c in tuned if (d := self.criterion_diff(c)) is not None]
        return statistics.fmean(diffs) if diffs else None

    @property
    def min_mass(self) -> float | None:
        """The lowest probability mass on the allowed answers among the prompt's judgments."""
        return min(self.masses) if self.masses else None

    @property
    def order_flip(self) -> bool:
        """Tuned vs base: the winner changes with the order."""
        return self.main is not None and self.main.order_flip

    @property
    def probe_flips(self) -> int:
        """How many probe variants the judge took a side on."""
        return sum(p.flip for p in self.probes)

    @property
    def human(self) -> float | None:
        """Mean human preference for tuned over the mapped labels."""
        values = [v for label in self.labels if (v := label.value) is not None]
        return statistics.fmean(values) if values else None

    @property
    def human_gap(self) -> float | None:
        """|judge P(tuned) − human preference for tuned|, where both exist."""
        judge = self.main.p_mean if self.main is not None else None
        human = self.human
        return None if judge is None or human is None else abs(judge - human)


def anchor_for(prompt_id: str) -> str:
    """A stable HTML id for a prompt (prompt ids may hold any character)."""
    return "p-" + hashlib.sha256(prompt_id.encode("utf-8")).hexdigest()[:12]


@dataclass
class RunEntries:
    """The entries of a run, in prompt-id order, with the config they were read with."""

    config: RunConfig
    criteria: list[str]
    entries: list[PromptEntry]
    labels: LabelSet


def build_entries(
    store: RunStore, config: RunConfig, setup: JudgeSetup | None = None
) -> RunEntries:
    """Gather the entries of a run: the records of the config's judge, rubric and templates
    (``setup``, resolved from ``config`` if None)."""
    setup = setup or resolve_judge_setup(config)
    criteria = setup.criteria

    entries: dict[str, PromptEntry] = {}

    def entry(prompt_id: str) -> PromptEntry:
        if prompt_id not in entries:
            entries[prompt_id] = PromptEntry(prompt_id, anchor_for(prompt_id))
        return entries[prompt_id]

    for gen in store.read(GenerationRecord):
        e = entry(gen.prompt_id)
        e.answers[gen.role] = gen
        e.instruction = e.instruction or gen.prompt
        e.category = e.category or gen.category
        if gen.error or gen.finish_reason == "error":
            e.failures.append(Failure(f"{gen.role} answer", gen.error or "generation failed"))
    for point in store.read(PointwiseRecord):
        if setup.owns(point):
            _add_judgment(entry(point.prompt_id), point, f"{point.subject} · {point.criterion}")
            entry(point.prompt_id).scores.setdefault(point.subject, {})[point.criterion] = point
    comparisons: dict[tuple[str, str], Comparison] = {}
    for pair in store.read(PairwiseRecord):
        if not setup.owns(pair):
            continue
        _add_judgment(entry(pair.prompt_id), pair, f"{pair.comparison} · order {pair.order}")
        key = (pair.prompt_id, pair.comparison)
        if key not in comparisons:
            comparisons[key] = Comparison(pair.comparison, pair.x, pair.y, tie_band=config.tie_band)
        setattr(comparisons[key], pair.order, pair)
    for (prompt_id, name), comparison in sorted(comparisons.items()):
        if name == MAIN_COMPARISON:
            entry(prompt_id).main = comparison
        elif not _is_variant_comparison(comparison):
            entry(prompt_id).extra.append(comparison)
    for probe in store.read(ProbeRecord):
        e = entry(probe.prompt_id)
        source = e.answers.get(probe.source)
        original = source.output if source is not None else ""
        e.probes.append(
            ProbeView(
                record=probe,
                original=original,
                diff=word_diff(original, probe.text),
                against_original=comparisons.get((probe.prompt_id, probe.comparison)),
                scores=e.scores.get(probe.subject, {}),
            )
        )
    labels = read_labels(store.dir)
    for prompt_id, items in labels.by_prompt.items():
        if prompt_id in entries:
            entries[prompt_id].labels = items
    for e in entries.values():
        e.probes.sort(key=lambda p: (p.record.source, p.record.kind))
    ordered = [entries[k] for k in sorted(entries)]
    return RunEntries(config=config, criteria=criteria, entries=ordered, labels=labels)


def _is_variant_comparison(comparison: Comparison) -> bool:
    """A probe variant against its own original (shown with the variant, not on its own)."""
    return is_probe_comparison(comparison.name) and comparison.x.startswith(f"{comparison.y}/")


def _add_judgment(e: PromptEntry, record: PointwiseRecord | PairwiseRecord, what: str) -> None:
    """Collect a judgment's mass, low-mass flag, failure and text-mode output."""
    if record.error:
        e.failures.append(Failure(what, record.error, record.raw_text))
    else:
        e.masses.append(record.mass)
        e.any_low_mass = e.any_low_mass or record.low_mass
    if record.mode == "text" and not record.error:
        e.text_mode.append(record)
