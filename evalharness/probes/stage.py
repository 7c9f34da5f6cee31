"""The bias stage, part one: build counterfactual variants and have the judge judge them.

For each generation (base and tuned) it writes four variants to probes.jsonl, then judges

* each variant against its original, pairwise in both orders (comparison ``probe:<kind>``);
* the assertive variant against the hedged one (comparison ``probe:assertive_vs_hedged``);
* each variant pointwise on every criterion (subject ``<role>/<kind>``).

Every step skips what is already on disk, so the stage resumes after an interruption.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from evalharness.backends import load_backend
from evalharness.config import RunConfig
from evalharness.conversation import judged_instruction
from evalharness.errors import ConfigError
from evalharness.generate import StageSummary, backend_options
from evalharness.judge.engine import Judge, PairItem, PointwiseItem
from evalharness.judge.stage import (
    check_judge_setup,
    generations_by_prompt,
    judge_in_chunks,
    make_judge,
    template_keys,
)
from evalharness.probes.rewrite import VARIANTS, Variant, is_noop, make_variants
from evalharness.probes.rules import load_rules
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.rubrics import load_rubric
from evalharness.runstore import RunStore

CONFIDENCE_PAIR = ("assertive", "hedged")


def comparison_name(kind: str) -> str:
    """The pairwise comparison name of a probe kind."""
    return f"probe:{kind}"


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


def build_probes(
    store: RunStore, config: RunConfig, count_tokens: Callable[[], Callable[[str], int]]
) -> int:
    """Write the missing variants; returns how many were written."""
    unknown = set(config.probes) - set(VARIANTS)
    if unknown:
        raise ConfigError(f"unknown probe kinds {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    done = store.keys(ProbeRecord)
    todo = [
        g
        for roles in generations_by_prompt(store).values()
        for g in roles.values()
        if g.error is None and any((g.prompt_id, g.role, k) not in done for k in config.probes)
    ]
    if not todo:
        return 0
    made = _model_variants(todo, config) if config.rewriter else _rule_variants(todo, config)
    counter = count_tokens()
    records = []
    for gen, variants in made:
        for kind in config.probes:
            if (gen.prompt_id, gen.role, kind) in done:
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


def run_probes(store: RunStore, config: RunConfig) -> StageSummary:
    """Build variants, then judge them pairwise and pointwise (resumable)."""
    started = time.perf_counter()
    summary = StageSummary("bias")
    generations = generations_by_prompt(store)
    if not generations:
        raise ConfigError(f"{store.dir}: no generations to probe: run `evalharness generate`")
    # no judgments in another precision (or reference setting) next to those on disk
    check_judge_setup(store, config, store.keys(PointwiseRecord) | store.keys(PairwiseRecord))
    judges: list[Judge] = []

    def judge_now() -> Judge:
        """The judge, loaded on first use (a rerun with nothing to do loads no model)."""
        if not judges:
            judges.append(make_judge(config))
        return judges[0]

    summary.written += build_probes(store, config, lambda: judge_now().backend.count_tokens)
    judge_spec = config.judge
    rubric = load_rubric(config.rubric)
    point_t, pair_t = template_keys(config)
    probes = {(p.prompt_id, p.source, p.kind): p for p in store.read(ProbeRecord)}
    point_done = store.keys(PointwiseRecord)
    pair_done = store.keys(PairwiseRecord)
    summary.done_before = len(probes)

    def pair_missing(prompt_id: str, comparison: str) -> bool:
        keys = {(prompt_id, comparison, judge_spec, rubric.key, pair_t, o) for o in ("xy", "yx")}
        return not keys <= pair_done

    point_items: list[PointwiseItem] = []
    pair_items: list[PairItem] = []
    for (prompt_id, role, kind), probe in sorted(probes.items()):
        if kind not in config.probes or probe.noop:
            continue
        gen = generations[prompt_id][role]
        subject = f"{role}/{kind}"
        keys = {
            (prompt_id, subject, judge_spec, rubric.key, point_t, c.name) for c in rubric.criteria
        }
        if not keys <= point_done:
            instruction = judged_instruction(gen, config.reference_guided)
            point_items.append(PointwiseItem(prompt_id, subject, instruction, probe.text))
        name = comparison_name(f"{kind}:{role}")
        if pair_missing(prompt_id, name):
            pair_items.append(
                PairItem(
                    prompt_id,
                    name,
                    subject,
                    role,
                    judged_instruction(gen, config.reference_guided),
                    probe.text,
                    gen.output,
                )
            )
    for (prompt_id, role), gen in sorted(
        ((k[0], k[1]), generations[k[0]][k[1]]) for k in probes if k[2] == CONFIDENCE_PAIR[0]
    ):
        assertive = probes.get((prompt_id, role, CONFIDENCE_PAIR[0]))
        hedged = probes.get((prompt_id, role, CONFIDENCE_PAIR[1]))
        if assertive is None or hedged is None or assertive.text == hedged.text:
            continue
        name = comparison_name(f"assertive_vs_hedged:{role}")
        if pair_missing(prompt_id, name):
            pair_items.append(
                PairItem(
                    prompt_id,
                    name,
                    f"{role}/assertive",
                    f"{role}/hedged",
                    judged_instruction(gen, config.reference_guided),
                    assertive.text,
                    hedged.text,
                )
            )
    if point_items or pair_items:
        judge = judge_now()
        judge_in_chunks(
            store, point_items, judge.score, "bias pointwise", len(rubric.criteria), summary
        )
        judge_in_chunks(store, pair_items, judge.compare, "bias pairwise", 2, summary)
    summary.seconds = time.perf_counter() - started
    return summary
