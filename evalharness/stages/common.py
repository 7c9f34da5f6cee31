"""The kernel the stages share: summaries, backend options, the judge and chunked judging.

Every stage counts its work in a :class:`StageSummary`. The judging stages (judge, bias,
validate) start the same way (:func:`start_judging`), load the judge the same way
(:func:`make_judge`) and write judgments a few items at a time (:func:`judge_in_chunks`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evalharness.backends import BackendOptions, freeze_extra
from evalharness.backends.devices import for_role, precision_tag
from evalharness.cache import JUDGMENT
from evalharness.config import RunConfig
from evalharness.errors import ConfigError
from evalharness.judge.engine import Judge
from evalharness.progress import console, progress_bar
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, Record
from evalharness.runstore import RunStore, generations_by_prompt
from evalharness.specs import parse_spec
from evalharness.stages.cached import CacheCounts, cached_backend, open_cache
from evalharness.templates import JudgeSetup, resolve_judge_setup

CHUNK = 4
"""Items judged between two appends: an interrupted stage loses at most one chunk."""

T = TypeVar("T")


@dataclass
class StageSummary:
    """Counts of one stage's work; ``seconds`` is set by :meth:`finish`."""

    stage: str
    done_before: int = 0
    written: int = 0
    failed: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False, compare=False)

    def finish(self) -> StageSummary:
        """Set ``seconds`` to the time since the summary was made; returns the summary."""
        self.seconds = time.perf_counter() - self.started
        return self

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.stage}: {self.written} new records, {self.done_before} already done, "
            f"{self.failed} failed, {self.seconds:.1f}s"
        )


def backend_options(config: RunConfig, role: str = "judge") -> BackendOptions:
    """Backend options from a run config, with the device and dtype asked for ``role``."""
    return BackendOptions(
        batch_size=config.batch_size,
        device=for_role(config.device, role, "device"),
        dtype=for_role(config.dtype, role, "dtype"),
        quantize=config.quantize if role in ("base", "tuned") else None,  # int8: generation only
        trust_remote_code=config.trust_remote_code,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        max_retries=config.max_retries,
        timeout=config.timeout,
        server_extra=freeze_extra(config.server_extra),
        # the run's --allow-hub travels with the options; without it, the environment decides
        allow_hub=True if config.allow_hub else None,
    )


def spec_of(config: RunConfig, role: str) -> str:
    """The spec of a role: a model of the run by its name, or ``judge`` / ``rewriter``."""
    models = config.model_specs()
    return models[role] if role in models else str(getattr(config, role))


def precision(config: RunConfig, role: str) -> str | None:
    """The resolved ``device type/dtype`` of a role's model; None for servers and fakes."""
    spec = parse_spec(spec_of(config, role))
    return precision_tag(
        spec.kind, for_role(config.device, role, "device"), for_role(config.dtype, role, "dtype")
    )


def make_judge(
    config: RunConfig, setup: JudgeSetup | None = None, counts: CacheCounts | None = None
) -> Judge:
    """The judge backend (behind the result cache unless it is off; loaded on its first
    miss) paired with the setup (resolved from ``config`` if None); ``counts`` collects the
    cache's hits and misses."""
    setup = setup or resolve_judge_setup(config)
    options = backend_options(config, "judge")
    versions = (setup.rubric.key, f"{setup.pointwise.key}+{setup.pairwise.key}")
    backend = cached_backend(
        setup.spec, options, open_cache(config), JUDGMENT, counts or CacheCounts(), versions,
        {"judge": setup.spec},
    )  # fmt: skip
    return Judge.from_setup(backend, setup)


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


def judging_conditions(
    store: RunStore, config: RunConfig, done: set[tuple[Any, ...]]
) -> dict[str, Any]:
    """The judge's resolved ``device type/dtype`` and whether it sees reference answers;
    refuses to add judgments made otherwise to those already on disk (they would mix
    numbers that differ)."""
    conditions = {
        "precision": precision(config, "judge"),
        "reference_guided": config.reference_guided,
    }
    old = store.read_manifest().get("judge", {})
    judge_field = PointwiseRecord.KEY_FIELDS.index("judge")
    if old.get("spec") != config.judge or not any(k[judge_field] == config.judge for k in done):
        return conditions
    if old.get("precision", conditions["precision"]) != conditions["precision"]:
        raise ConfigError(
            f"{store.dir} holds judgments by {config.judge} in {old['precision']}, not "
            f"{conditions['precision']}: pass the same --device/--dtype, or use another --run-dir"
        )
    if bool(old.get("reference_guided", False)) != config.reference_guided:
        raise ConfigError(
            f"{store.dir} holds judgments by {config.judge} made "
            f"{'with' if old.get('reference_guided') else 'without'} reference answers: "
            "pass the same --reference-guided setting, or use another --run-dir"
        )
    return conditions


@dataclass
class JudgingStart:
    """What a judging stage knows once it has started: its summary, the run's generations,
    the judgments already on disk and the conditions they were made in."""

    setup: JudgeSetup
    summary: StageSummary
    generations: dict[str, dict[str, GenerationRecord]]
    point_done: set[tuple[Any, ...]]
    pair_done: set[tuple[Any, ...]]
    conditions: dict[str, Any]

    def needs_pointwise(self, prompt_id: str, subject: str) -> bool:
        """Whether some criterion of the subject's pointwise scores is not on disk."""
        return not self.setup.pointwise_keys(prompt_id, subject) <= self.point_done

    def needs_pairwise(self, prompt_id: str, comparison: str) -> bool:
        """Whether some order of the comparison is not on disk."""
        return not self.setup.pairwise_keys(prompt_id, comparison) <= self.pair_done


def start_judging(
    store: RunStore, config: RunConfig, setup: JudgeSetup, stage: str, missing: str
) -> JudgingStart:
    """The common opening of the judge and bias stages: the run's generations (ConfigError
    ``<run dir>: <missing>`` without any), the judgments on disk, and the check that new
    judgments are made in the same conditions as those."""
    summary = StageSummary(stage)
    generations = generations_by_prompt(store)
    if not generations:
        raise ConfigError(f"{store.dir}: {missing}: run `evalharness generate`")
    point_done = store.keys(PointwiseRecord)
    pair_done = store.keys(PairwiseRecord)
    conditions = judging_conditions(store, config, point_done | pair_done)
    return JudgingStart(setup, summary, generations, point_done, pair_done, conditions)


def warn_self_judging(setup: JudgeSetup) -> None:
    """Print the self-preference warning when the judge also answered."""
    if setup.judges_itself:
        console.print(
            f"[bold yellow]warning: the judge {setup.spec} is also the "
            f"{'/'.join(setup.judges_itself)} model: it may prefer its own outputs "
            "(self-preference)"
        )
