"""The bias stage, part one: build counterfactual variants and have the judge judge them.

For each generation (base and tuned) it writes four variants to probes.jsonl, then judges

* each variant against its original, pairwise in both orders (comparison
  ``probe_comparison(kind, role)``, ``probe:<kind>:<role>``);
* the assertive variant against the hedged one (``probe:assertive_vs_hedged:<role>``);
* each variant pointwise on every criterion (subject ``<role>/<kind>``).

Every step skips what is already on disk, so the stage resumes after an interruption.

The probe budget is the user's: ``probes`` chooses the kinds, ``probe_sample`` the number of
prompts probed (sampled with the run's seed). The stage reports each kind's share of its
time and the widest 95% interval a preference rate can have with that many answers.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from evalharness.backends import load_backend
from evalharness.config import RunConfig
from evalharness.conversation import judged_instruction
from evalharness.errors import ConfigError
from evalharness.judge.engine import Judge, PairItem, PointwiseItem
from evalharness.probes.rewrite import VARIANTS, Variant, is_noop, make_variants
from evalharness.progress import console
from evalharness.records import (
    CONFIDENCE_COMPARISON,
    GenerationRecord,
    ProbeRecord,
    probe_comparison,
)
from evalharness.runstore import RunStore, generations_by_prompt
from evalharness.stages.common import (
    StageSummary,
    backend_options,
    judge_in_chunks,
    make_judge,
    start_judging,
)
from evalharness.templates import JudgeSetup, resolve_judge_setup
from evalharness.text.rules import load_rules

CONFIDENCE_PAIR = ("assertive", "hedged")


def _rule_variants(
    gens: Sequence[GenerationRecord], config: RunConfig
) -> list[tuple[GenerationRecord, dict[str, Variant]]]:
    rules = load_rules(config.probe_rules)
    return [
        (g, make_variants(g.output, g.prompt, rules, config.seed, key=f"{g.prompt_id}/{g.role}"))
        for g in gens
    ]


def _model_variants(
    gens: Sequence[GenerationRecord], config: RunConfig
) -> list[tuple[GenerationRecord, dict[str, Variant]]]:
    from evalharness.probes.model_rewriter import ModelRewriter

    assert config.rewriter is not None
    rewriter = ModelRewriter(
        load_backend(config.rewriter, backend_options(config, "rewriter")), seed=config.seed
    )
    made = rewriter.make_variants([(f"{g.prompt_id}/{g.role}", g.prompt, g.output) for g in gens])
    return list(zip(gens, made, strict=True))


def probed_prompts(prompt_ids: Sequence[str], config: RunConfig) -> set[str]:
    """The prompts the probe budget covers: all, or ``probe_sample`` of them drawn with the
    run's seed (the same draw on every rerun, and a larger budget keeps the smaller one's)."""
    ids = sorted(prompt_ids)
    sample = getattr(config, "probe_sample", None)
    if not sample or sample >= len(ids):
        return set(ids)
    order = ids[:]
    random.Random(f"probes/{config.seed}").shuffle(order)
    return set(order[:sample])


def widest_interval(n: int, confidence: float = 0.95) -> float | None:
    """Half-width of the widest normal-approximation interval of a rate over ``n`` answers
    (at p = 0.5), at the given confidence level."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2)) * math.sqrt(0.25 / n) if n else None


def _probe_key(gen: GenerationRecord, kind: str) -> tuple[Any, ...]:
    return ProbeRecord.key_of(prompt_id=gen.prompt_id, source=gen.role, kind=kind)


def build_probes(
    store: RunStore, config: RunConfig, count_tokens: Callable[[], Callable[[str], int]]
) -> int:
    """Write the missing variants; returns how many were written."""
    unknown = set(config.probes) - set(VARIANTS)
    if unknown:
        raise ConfigError(f"unknown probe kinds {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    done = store.keys(ProbeRecord)
    generations = generations_by_prompt(store)
    chosen = probed_prompts(list(generations), config)
    todo = [
        g
        for prompt_id, roles in generations.items()
        if prompt_id in chosen
        for g in roles.values()
        if g.error is None and any(_probe_key(g, k) not in done for k in config.probes)
    ]
    if not todo:
        return 0
    made = _model_variants(todo, config) if config.rewriter else _rule_variants(todo, config)
    counter = count_tokens()
    records = []
    for gen, variants in made:
        for kind in config.probes:
            if _probe_key(gen, kind) in done:
                continue
            variant = variants[kind]
            records.append(
                ProbeRecord(
                    prompt_id=gen.prompt_id,
                    source=gen.role,
                    kind=kind,
                    rewriter=variant.rewriter,
                    text=variant.text,
                    original_tokens=counter(gen.output),
                    variant_tokens=counter(variant.text),
                    noop=is_noop(gen.output, variant.text),
                )
            )
    return store.append(records)


def run_probes(store: RunStore, config: RunConfig, setup: JudgeSetup | None = None) -> StageSummary:
    """Build variants, then judge them pairwise and pointwise (resumable).

    ``setup`` is the judge setup resolved at the command's edge (from ``config`` if None).
    """
    setup = setup or resolve_judge_setup(config)
    # no judgments in another precision (or reference setting) next to those on disk
    start = start_judging(store, config, setup, "bias", "no generations to probe")
    summary, generations = start.summary, start.generations
    judges: list[Judge] = []

    def judge_now() -> Judge:
        """The judge, loaded on first use (a rerun with nothing to do loads no model)."""
        if not judges:
            judges.append(make_judge(config, setup))
        return judges[0]

    summary.written += build_probes(store, config, lambda: judge_now().backend.count_tokens)
    probes = {p.key(): p for p in store.read(ProbeRecord)}
    summary.done_before = len(probes)

    chosen = probed_prompts(list(generations), config)
    point_items: dict[str, list[PointwiseItem]] = {}
    pair_items: dict[str, list[PairItem]] = {}
    for (prompt_id, role, kind), probe in sorted(probes.items()):
        if kind not in config.probes or probe.noop or prompt_id not in chosen:
            continue
        gen = generations[prompt_id][role]
        subject = probe.subject
        if start.needs_pointwise(prompt_id, subject):
            instruction = judged_instruction(gen, config.reference_guided)
            point_items.setdefault(kind, []).append(
                PointwiseItem(prompt_id, subject, instruction, probe.text)
            )
        if start.needs_pairwise(prompt_id, probe.comparison):
            pair_items.setdefault(kind, []).append(
                PairItem(
                    prompt_id,
                    probe.comparison,
                    subject,
                    role,
                    judged_instruction(gen, config.reference_guided),
                    probe.text,
                    gen.output,
                )
            )
    assertive_kind, hedged_kind = CONFIDENCE_PAIR
    for (prompt_id, role), gen in sorted(
        ((k[0], k[1]), generations[k[0]][k[1]])
        for k in probes
        if k[2] == assertive_kind and k[0] in chosen
    ):
        assertive = probes.get(
            ProbeRecord.key_of(prompt_id=prompt_id, source=role, kind=assertive_kind)
        )
        hedged = probes.get(ProbeRecord.key_of(prompt_id=prompt_id, source=role, kind=hedged_kind))
        if assertive is None or hedged is None or assertive.text == hedged.text:
            continue
        name = probe_comparison(CONFIDENCE_COMPARISON, role)
        if start.needs_pairwise(prompt_id, name):
            pair_items.setdefault(CONFIDENCE_COMPARISON, []).append(
                PairItem(
                    prompt_id,
                    name,
                    assertive.subject,
                    hedged.subject,
                    judged_instruction(gen, config.reference_guided),
                    assertive.text,
                    hedged.text,
                )
            )
    seconds: dict[str, float] = {}
    for kind in sorted(point_items.keys() | pair_items.keys()):
        judge = judge_now()
        step = time.perf_counter()
        if point_items.get(kind):
            label, per_item = f"bias pointwise {kind}", len(setup.criteria)
            judge_in_chunks(store, point_items[kind], judge.score, label, per_item, summary)
        if pair_items.get(kind):
            label = f"bias pairwise {kind}"
            judge_in_chunks(store, pair_items[kind], judge.compare, label, 2, summary)
        seconds[kind] = time.perf_counter() - step
    summary.finish()
    _report_budget(store, config, chosen, seconds, summary.seconds, judges)
    return summary


def _report_budget(
    store: RunStore,
    config: RunConfig,
    chosen: set[str],
    seconds: dict[str, float],
    total: float,
    judges: list[Judge],
) -> None:
    """Print each probe kind's share of the stage and what the budget buys; keep the times."""
    from evalharness.analysis import cost

    answers = sum(
        1 for g in store.read(GenerationRecord) if g.prompt_id in chosen and g.error is None
    )
    if seconds:
        cost.record_stage(store, "bias", total, judge=judges[0] if judges else None, probes=seconds)
    level = float(getattr(config, "confidence", 0.95))
    half = widest_interval(answers, level)
    if half is None:
        return
    shares = ", ".join(f"{k} {s / total:.0%}" for k, s in seconds.items() if total > 0)
    console.print(
        f"bias probes: {len(chosen)} prompts, {answers} answers, kinds "
        f"{', '.join(config.probes)}; a preference rate's {level:.0%} interval reaches at most "
        f"+/-{half:.2f}" + (f"; share of the stage's time: {shares}" if shares else ""),
        highlight=False,
    )
