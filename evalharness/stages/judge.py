"""The judge stage: score every generation pointwise and judge tuned vs base in both orders."""

from __future__ import annotations

from evalharness.config import RunConfig
from evalharness.conversation import judged_instruction, pair_view
from evalharness.judge.engine import PairItem, PointwiseItem
from evalharness.records import MAIN_COMPARISON
from evalharness.runstore import RunStore
from evalharness.stages.common import (
    StageSummary,
    judge_in_chunks,
    make_judge,
    start_judging,
    warn_self_judging,
)
from evalharness.templates import JudgeSetup, resolve_judge_setup


def run_judge(store: RunStore, config: RunConfig, setup: JudgeSetup | None = None) -> StageSummary:
    """Write the missing pointwise and pairwise records for the run's generations.

    ``setup`` is the judge setup resolved at the command's edge (from ``config`` if None).
    """
    setup = setup or resolve_judge_setup(config)
    start = start_judging(store, config, setup, "judge", "no generations.jsonl records")
    summary = start.summary
    summary.done_before = len(start.point_done) + len(start.pair_done)

    point_items: list[PointwiseItem] = []
    pair_items: list[PairItem] = []
    for prompt_id, roles in start.generations.items():
        for role, record in sorted(roles.items()):
            if record.error is None and start.needs_pointwise(prompt_id, role):
                instruction = judged_instruction(record, config.reference_guided)
                point_items.append(PointwiseItem(prompt_id, role, instruction, record.output))
        answered = {"base", "tuned"} <= roles.keys() and not any(r.error for r in roles.values())
        if answered and start.needs_pairwise(prompt_id, MAIN_COMPARISON):
            view = pair_view(roles["tuned"], roles["base"], config.reference_guided)
            pair_items.append(PairItem(prompt_id, MAIN_COMPARISON, "tuned", "base", *view))
    store.update_manifest(
        judge={
            "spec": setup.spec,
            "rubric": setup.rubric.key,
            "pointwise_template": config.pointwise_template,
            "pairwise_template": config.pairwise_template,
            "mode": setup.mode,
            "judges_itself": list(setup.judges_itself),
            **start.conditions,
        }
    )
    warn_self_judging(setup)
    judge = None
    if point_items or pair_items:
        judge = make_judge(config, setup)
        judge_in_chunks(
            store, point_items, judge.score, "judge pointwise", len(setup.criteria), summary
        )
        judge_in_chunks(store, pair_items, judge.compare, "judge pairwise", 2, summary)
    summary.finish()
    if judge is not None:
        from evalharness.analysis.cost import record_stage

        record_stage(store, "judge", summary.seconds, judge=judge)
    return summary
