"""The judge stage: score every generation pointwise and judge tuned vs base in both orders."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from evalharness.backends import load_backend
from evalharness.config import RunConfig, self_judging
from evalharness.conversation import judged_instruction, pair_view
from evalharness.errors import ConfigError
from evalharness.judge.engine import Judge, PairItem, PointwiseItem
from evalharness.progress import console, progress_bar
from evalharness.records import (
    MAIN_COMPARISON,
    PairwiseRecord,
    PointwiseRecord,
    Record,
)
from evalharness.rubrics import load_rubric
from evalharness.runstore import RunStore, generations_by_prompt
from evalharness.stages.generate import StageSummary, backend_options, precision
from evalharness.templates import load_template, template_keys

ORDERS = ("xy", "yx")
CHUNK = 4

T = TypeVar("T")


def make_judge(config: RunConfig) -> Judge:
    """Load the judge backend, rubric and templates named by the config."""
    rubric = load_rubric(config.rubric)
    pointwise = load_template(config.pointwise_template)
    pairwise = load_template(config.pairwise_template)
    backend = load_backend(config.judge, backend_options(config, "judge"))
    return Judge(
        backend, rubric, pointwise, pairwise, mode=config.judge_mode, low_mass=config.low_mass
    )


def judge_in_chunks(
    store: RunStore,
    items: Sequence[T],
    run: Callable[[Sequence[T], Callable[[int], None]], Sequence[Record]],
    label: str,
    per_item: int,
    summary: StageSummary,
) -> None:
    """Judge ``items`` a few at a time, appending each chunk's records as it finishes.

    An item partly on disk (one order or criterion lost to a kill) is judged again whole;
    only its missing records are appended, so that no key is written twice.
    """
    done: dict[type[Record], set[tuple[Any, ...]]] = {}
    with progress_bar(label, len(items) * per_item) as advance:
        for start in range(0, len(items), CHUNK):
            records = []
            for record in run(items[start : start + CHUNK], advance):
                if type(record) not in done:
                    done[type(record)] = store.keys(type(record))
                if record.key() not in done[type(record)]:
                    done[type(record)].add(record.key())
                    records.append(record)
            summary.written += store.append(records)
            summary.failed += sum(1 for r in records if getattr(r, "error", None))


def check_judge_setup(store: RunStore, config: RunConfig, done: set[Any]) -> dict[str, Any]:
    """The judge's resolved ``device type/dtype`` and whether it sees reference answers;
    refuses to add judgments made otherwise to those already on disk (they would mix
    numbers that differ)."""
    setup = {
        "precision": precision(config, "judge"),
        "reference_guided": config.reference_guided,
    }
    old = store.read_manifest().get("judge", {})
    if old.get("spec") != config.judge or not any(key[2] == config.judge for key in done):
        return setup
    if old.get("precision", setup["precision"]) != setup["precision"]:
        raise ConfigError(
            f"{store.dir} holds judgments by {config.judge} in {old['precision']}, not "
            f"{setup['precision']}: pass the same --device/--dtype, or use another --run-dir"
        )
    if bool(old.get("reference_guided", False)) != config.reference_guided:
        raise ConfigError(
            f"{store.dir} holds judgments by {config.judge} made "
            f"{'with' if old.get('reference_guided') else 'without'} reference answers: "
            "pass the same --reference-guided setting, or use another --run-dir"
        )
    return setup


def run_judge(store: RunStore, config: RunConfig) -> StageSummary:
    """Write the missing pointwise and pairwise records for the run's generations."""
    started = time.perf_counter()
    summary = StageSummary("judge")
    generations = generations_by_prompt(store)
    if not generations:
        raise ConfigError(f"{store.dir}: no generations.jsonl records: run `evalharness generate`")
    rubric = load_rubric(config.rubric)
    point_t, pair_t = template_keys(config)
    judge_spec = config.judge
    point_done = store.keys(PointwiseRecord)
    pair_done = store.keys(PairwiseRecord)
    summary.done_before = len(point_done) + len(pair_done)
    setup = check_judge_setup(store, config, point_done | pair_done)

    point_items: list[PointwiseItem] = []
    pair_items: list[PairItem] = []
    for prompt_id, roles in generations.items():
        for role, record in sorted(roles.items()):
            keys = {
                (prompt_id, role, judge_spec, rubric.key, point_t, c.name) for c in rubric.criteria
            }
            if record.error is None and not keys <= point_done:
                instruction = judged_instruction(record, config.reference_guided)
                point_items.append(PointwiseItem(prompt_id, role, instruction, record.output))
        if {"base", "tuned"} <= roles.keys() and not any(r.error for r in roles.values()):
            keys = {(prompt_id, MAIN_COMPARISON, judge_spec, rubric.key, pair_t, o) for o in ORDERS}
            if not keys <= pair_done:
                view = pair_view(roles["tuned"], roles["base"], config.reference_guided)
                pair_items.append(PairItem(prompt_id, MAIN_COMPARISON, "tuned", "base", *view))
    selfish = self_judging(config)
    store.update_manifest(
        judge={
            "spec": judge_spec,
            "rubric": rubric.key,
            "pointwise_template": config.pointwise_template,
            "pairwise_template": config.pairwise_template,
            "mode": config.judge_mode,
            "judges_itself": selfish,
            **setup,
        }
    )
    if selfish:
        console.print(
            f"[bold yellow]warning: the judge {judge_spec} is also the {'/'.join(selfish)} "
            "model: it may prefer its own outputs (self-preference)"
        )
    judge = None
    if point_items or pair_items:
        judge = make_judge(config)
        judge_in_chunks(
            store, point_items, judge.score, "judge pointwise", len(rubric.criteria), summary
        )
        judge_in_chunks(store, pair_items, judge.compare, "judge pairwise", 2, summary)
    summary.seconds = time.perf_counter() - started
    if judge is not None:
        from evalharness.analysis.cost import record_stage

        record_stage(store, "judge", summary.seconds, judge=judge)
    return summary
