"""The generation stage: base and tuned models answer every prompt of a prompt set."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evalharness.backends import release_backend
from evalharness.backends.base import Backend, GenerationRequest, GenerationResult, Message
from evalharness.cache import GENERATION
from evalharness.config import RunConfig, check_models
from evalharness.conversation import Turn, completion_prompt, expand, history
from evalharness.errors import ConfigError
from evalharness.manifest import environment
from evalharness.progress import console, progress_bar
from evalharness.prompt_sources import load_prompt_set
from evalharness.prompts import PromptItem
from evalharness.records import (
    GenerationRecord,
    PairwiseRecord,
    PointwiseRecord,
    ProbeRecord,
)
from evalharness.runstore import RunStore
from evalharness.specs import parse_spec
from evalharness.stages.cached import CacheCounts, cached_backend, open_cache, record_counts, unwrap
from evalharness.stages.common import StageSummary, backend_options, precision, spec_of

ROLES = ("base", "tuned")
STAGE_FILES = (
    GenerationRecord.FILE, PointwiseRecord.FILE, PairwiseRecord.FILE, ProbeRecord.FILE,
    "analysis.json", "report.md", "report.html",
)  # fmt: skip


def generation_fingerprint(config: RunConfig, items: list[PromptItem]) -> str:
    """The fingerprint of a run's generations: config, prompts and the models' precision."""
    tags = {role: precision(config, role) for role in config.model_specs()}
    return config.generation_fingerprint(
        prompt_hash(items), {role: tag for role, tag in tags.items() if tag}
    )


def run_dir_name(config: RunConfig) -> str:
    """``<prompt set>-<fingerprint>``: the same config resumes the same run directory."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(config.prompts.removeprefix("hf:")).stem)
    return f"{name}-{generation_fingerprint(config, select_prompts(config))[:10]}"


def select_prompts(config: RunConfig) -> list[PromptItem]:
    """The prompt set, sampled to ``config.sample`` items (seeded, original order kept)."""
    items = load_prompt_set(config.prompts, config.prompt_field, config.allow_hub or None)
    if config.sample is not None and config.sample < len(items):
        chosen = set(random.Random(config.seed).sample(range(len(items)), config.sample))
        items = [item for i, item in enumerate(items) if i in chosen]
    return items


def prompt_hash(items: list[PromptItem]) -> str:
    """Hash of the prompts' content."""
    data: list[list[Any]] = [[i.id, i.prompt, i.category, i.reference] for i in items]
    for row, item in zip(data, items, strict=True):
        if item.turns or item.system:  # single prompts hash as before
            row.append([list(item.turns), list(item.references), item.system])
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def build_request(
    item: PromptItem | Turn, backend: Backend, config: RunConfig, past: list[Message] | None = None
) -> GenerationRequest:
    """A chat request for a model with a chat template, else a plain completion frame.

    ``past`` is the conversation before a later turn (user turns and this model's answers).
    """
    turn = item if isinstance(item, Turn) else Turn(item)
    common = {
        "key": turn.id,
        "max_new_tokens": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "seed": config.seed,
    }
    past = past or []
    if backend.info.has_chat_template:
        messages: list[Message] = []
        system = turn.item.system or config.system_prompt
        if system:
            messages.append({"role": "system", "content": system})
        messages += [*past, {"role": "user", "content": turn.question}]
        return GenerationRequest(messages=tuple(messages), **common)  # type: ignore[arg-type]
    if "{prompt}" not in config.completion_frame:
        raise ConfigError("completion_frame must contain {prompt}")
    frame = completion_prompt(config.completion_frame, past, turn.question)
    return GenerationRequest(prompt=frame, stop=tuple(config.stop), **common)  # type: ignore[arg-type]


def prepare_run(store: RunStore, config: RunConfig, overwrite: bool) -> list[PromptItem]:
    """Validate inputs, then claim the run directory for this config (or refuse)."""
    items = select_prompts(config)
    check_models(config)
    for spec in (*config.model_specs().values(), config.judge):
        parse_spec(spec)
    fingerprint = generation_fingerprint(config, items)
    manifest = store.read_manifest()
    old = manifest.get("generation", {}).get("fingerprint")
    if old and old != fingerprint:
        if not overwrite:
            raise ConfigError(
                f"{store.dir} holds a run with another configuration (models, prompts or "
                "generation settings differ); use another --run-dir or pass --overwrite"
            )
        for name in STAGE_FILES:
            store.path(name).unlink(missing_ok=True)
        manifest = {}
    store.update_manifest(
        config=config.to_dict(),
        generation={"fingerprint": fingerprint, "prompts": len(items)},
        seeds={"generation": config.seed, "bootstrap": config.seed},
        environment=environment(),
    )
    return items


def run_generate(
    store: RunStore, config: RunConfig, items: list[PromptItem], counts: CacheCounts | None = None
) -> StageSummary:
    """Generate the missing (prompt, model) records, appending one batch at a time.

    Each model's answers are looked up in the result cache first (unless it is off); a model
    whose answers are all cached is not loaded. ``counts`` collects the hits and misses.
    """
    summary = StageSummary("generate")
    counts = counts if counts is not None else CacheCounts()
    cache = open_cache(config)
    done = store.keys(GenerationRecord)
    summary.done_before = len(done)
    models = store.read_manifest().get("models", {})
    # Load every model that has work before writing any record, so that a model that cannot
    # be loaded fails the stage while the run directory is still empty.
    turns = expand(items)
    work = []
    specs = config.model_specs()
    for role, spec in specs.items():
        todo = [turn for turn in turns if (turn.id, role) not in done]
        if todo:
            options = backend_options(config, role)
            meta = {"model": role, "spec": spec}
            backend = cached_backend(spec, options, cache, GENERATION, counts, meta=meta)
            work.append((role, spec, todo, options, backend))
    for role, spec, todo, options, backend in work:
        models[role] = {"spec": spec, "resolved": backend.info.resolved, **backend.info.details}
        store.update_manifest(models=models)
        with progress_bar(f"generate {role}", len(todo)) as advance:
            for number in sorted({turn.number for turn in todo}):
                # a later turn builds on this model's answers to the earlier ones
                answers = (
                    {r.prompt_id: r for r in store.read(GenerationRecord) if r.role == role}
                    if number > 1
                    else {}
                )
                # batches of similar length waste less work on padding
                mine = sorted(
                    (t for t in todo if t.number == number), key=lambda t: len(t.question)
                )
                for records in _generate_turns(mine, answers, role, spec, backend, config, advance):
                    summary.written += store.append(records)
                    summary.failed += sum(1 for r in records if r.error)
        names = list(specs)
        later = [*names[names.index(role) + 1 :], "judge"]
        if unwrap(backend) is not None and not any(
            spec_of(config, r) == spec and backend_options(config, r) == options for r in later
        ):
            release_backend(spec, options)  # free its memory before the next model loads
    summary.finish()
    record_counts(store, counts)
    if summary.failed:
        console.print(f"[yellow]generate: {summary.failed} generations failed (see records)")
    return summary


def _generate_turns(
    turns: list[Turn],
    answers: dict[str, GenerationRecord],
    role: str,
    spec: str,
    backend: Backend,
    config: RunConfig,
    advance: Callable[[int], None],
) -> Iterator[list[GenerationRecord]]:
    """Generate ``turns`` (all of one turn number) a chunk at a time, yielding records."""
    chunk = config.batch_size if isinstance(config.batch_size, int) else 64
    for start in range(0, len(turns), chunk):
        part = turns[start : start + chunk]
        pasts = [history(turn, answers) for turn in part]
        ready = [(t, p) for t, p in zip(part, pasts, strict=True) if not isinstance(p, str)]
        requests = [build_request(t, backend, config, p) for t, p in ready]
        results = backend.generate(requests, advance) if requests else []
        answered = iter(zip(requests, results, strict=True))
        records: list[GenerationRecord] = []
        for turn, past in zip(part, pasts, strict=True):
            if isinstance(past, str):  # an earlier turn failed: nothing to build on
                advance(1)
                request = build_request(turn, backend, config)
                result = GenerationResult("", 0, 0, "error", 0.0, error=past)
            else:
                request, result = next(answered)
            records.append(_record(turn, role, spec, backend, config, request, result, past))
        yield records


def _record(
    turn: Turn,
    role: str,
    spec: str,
    backend: Backend,
    config: RunConfig,
    request: GenerationRequest,
    result: GenerationResult,
    past: list[Message] | str,
) -> GenerationRecord:
    return GenerationRecord(
        prompt_id=turn.id,
        role=role,
        model=spec,
        resolved=backend.info.resolved,
        prompt=turn.question,
        rendered_prompt=result.rendered_prompt,
        output=result.text,
        prompt_tokens=result.prompt_tokens,
        output_tokens=result.output_tokens,
        finish_reason=result.finish_reason,
        seconds=result.seconds,
        params={
            "max_new_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "seed": config.seed,
            "stop": list(request.stop),
        },
        category=turn.item.category,
        error=result.error,
        device=_detail(backend, "device"),
        dtype=_detail(backend, "dtype"),
        turn=turn.number,
        history=past if past and not isinstance(past, str) else None,
        reference=turn.reference,
    )


def _detail(backend: Backend, name: str) -> str | None:
    value = backend.info.details.get(name)
    return None if value is None else str(value)
