"""Which items get human labels: a uniformly random sample of a run's prompts, drawn once.

The prediction-powered estimate needs labels on a *random* subset, so the sample is drawn
once with a seed and stored in ``labels_sample.json``; later sessions, exports and imports
use the same items and the same blind slot order. Items the judge finds hardest may be added
(``--hard``): they are flagged ``random: false`` and kept out of the estimator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from evalharness.errors import ConfigError
from evalharness.labels.records import LabelRecord
from evalharness.records import GenerationRecord
from evalharness.runstore import RunStore, generations_by_prompt, write_json_atomic

SAMPLE_FILE = "labels_sample.json"
LOCK_FILE = ".labels.lock"
SAMPLE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Item:
    """One blind pair to label: the prompt and which model is shown in slot A."""

    prompt_id: str
    slot_a: str  # "tuned" | "base"
    random: bool  # drawn uniformly at random (False: a flagged extra)


@dataclass(frozen=True)
class Sample:
    """The stored label sample of a run."""

    seed: int
    n: int
    population: int  # prompts with both answers when the sample was drawn
    items: list[Item]

    def item(self, prompt_id: str) -> Item | None:
        """The item of a prompt, or None."""
        return next((i for i in self.items if i.prompt_id == prompt_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of labels_sample.json."""
        return {
            "schema_version": SAMPLE_SCHEMA_VERSION,
            "seed": self.seed,
            "n": self.n,
            "population": self.population,
            "items": [vars(i) for i in self.items],
        }


def lock(store: RunStore) -> FileLock:
    """The lock every label writer holds (two annotators may label the same run at once)."""
    store.dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(store.path(LOCK_FILE)), timeout=30)


def append_labels(store: RunStore, records: list[LabelRecord]) -> int:
    """Append label records under the label lock."""
    with lock(store):
        return store.append(records)


def pairs_of(store: RunStore) -> dict[str, dict[str, GenerationRecord]]:
    """Prompts with both a base and a tuned answer (the items that can be labeled)."""
    return {
        pid: roles
        for pid, roles in generations_by_prompt(store).items()
        if {"base", "tuned"} <= roles.keys()
    }


def shown_texts(gens: dict[str, GenerationRecord]) -> dict[str, str]:
    """What an annotator sees of a prompt: ``{"prompt", "tuned", "base"}``.

    For a later turn of a conversation the prompt says which turn it is, and each answer is
    preceded by the earlier turns as that model had them (its own earlier answers).
    """
    tuned = gens["tuned"]
    out = {"prompt": tuned.prompt if tuned.turn <= 1 else f"(turn {tuned.turn}) {tuned.prompt}"}
    for role in ("tuned", "base"):
        record = gens[role]
        if record.history:
            earlier = "\n\n".join(f"[{m['role']}] {m['content']}" for m in record.history)
            out[role] = f"[earlier turns]\n{earlier}\n\n[answer to this turn]\n{record.output}"
        else:
            out[role] = record.output
    return out


def read_sample(store: RunStore) -> Sample | None:
    """The stored sample, or None when none was drawn."""
    path = store.path(SAMPLE_FILE)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = [
            Item(str(i["prompt_id"]), str(i["slot_a"]), bool(i["random"])) for i in data["items"]
        ]
        return Sample(int(data["seed"]), int(data["n"]), int(data["population"]), items)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a valid label sample ({exc})") from exc


def _slot(seed: int, prompt_id: str) -> str:
    """The model shown in slot A for a prompt: a coin flip seeded by the seed and the id."""
    digest = hashlib.sha256(f"{seed}\x1f{prompt_id}".encode()).digest()
    return "tuned" if digest[0] < 128 else "base"


def hardest(store: RunStore, exclude: set[str], k: int) -> list[str]:
    """Up to ``k`` prompts the judge finds hardest: preference closest to 50% (analysis.json)."""
    path = store.path("analysis.json")
    if k <= 0 or not path.exists():
        return []
    per_prompt = json.loads(path.read_text(encoding="utf-8"))["headline"].get("per_prompt", {})
    ranked = sorted(
        (abs(v["p_tuned"] - 0.5), pid) for pid, v in per_prompt.items() if pid not in exclude
    )
    return [pid for _, pid in ranked[:k]]


def draw_sample(store: RunStore, n: int, seed: int, hard: int = 0) -> Sample:
    """The run's label sample: the stored one, or a new uniformly random draw of ``n`` prompts.

    A stored sample drawn with another ``n`` or seed is an error (the labels already given
    belong to it). ``hard`` extra items are added once, flagged, outside the random sample.
    """
    with lock(store):
        sample = read_sample(store)
        if sample is not None and (sample.n, sample.seed) != (min(n, sample.population), seed):
            raise ConfigError(
                f"{store.path(SAMPLE_FILE)}: the label sample was drawn with n={sample.n}, "
                f"seed={sample.seed}; pass the same --n and --seed (labels belong to it)"
            )
        if sample is None:
            ids = sorted(pairs_of(store))
            if not ids:
                raise ConfigError(f"{store.dir}: no prompt has both a base and a tuned answer")
            rng = np.random.default_rng(seed)
            chosen = [ids[i] for i in rng.permutation(len(ids))[: min(n, len(ids))]]
            items = [Item(pid, _slot(seed, pid), True) for pid in chosen]
            sample = Sample(seed, len(items), len(ids), items)
        extra = sum(1 for i in sample.items if not i.random)
        if hard > extra:
            added = hardest(store, {i.prompt_id for i in sample.items}, hard - extra)
            sample = Sample(
                sample.seed,
                sample.n,
                sample.population,
                sample.items + [Item(pid, _slot(seed, pid), False) for pid in added],
            )
        write_json_atomic(store.path(SAMPLE_FILE), sample.to_dict())
        return sample


def sample_path(store: RunStore) -> Path:
    """Where the sample is stored."""
    return store.path(SAMPLE_FILE)
