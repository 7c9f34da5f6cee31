"""The battle design of a run: which pairs of models the judge compares on which prompt.

Three designs (docs/many-models.md): ``all-pairs`` (every pair on every prompt),
``reference`` (every model against the reference) and ``random`` (``battle_budget`` pairs per
prompt, drawn with the run's seed, balanced so that every model appears about equally often).
A battle is ``(prompt_id, x, y)``: X is the model listed later (``("tuned", "base")`` in the
two-model run), judged in both orders. The design is checked for connectivity before any
judging and recorded in the manifest, so a rerun judges the same battles.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from evalharness.analysis.battles import connected_groups
from evalharness.config import RunConfig
from evalharness.errors import ConfigError

Battle = tuple[str, str, str]
"""``(prompt_id, x, y)``."""


def model_pairs(names: Sequence[str], design: str, reference: str) -> list[tuple[str, str]]:
    """The pairs a prompt gets in the fixed designs (X listed after Y)."""
    pairs = [(names[j], names[i]) for i, j in itertools.combinations(range(len(names)), 2)]
    if design == "reference":
        pairs = [(x, y) for x, y in pairs if reference in (x, y)]
    return pairs


def design_battles(prompt_ids: Sequence[str], config: RunConfig) -> list[Battle]:
    """The battles of the config's design over ``prompt_ids`` (in the given order)."""
    names = list(config.model_specs())
    pairs = model_pairs(names, config.battles, config.reference_model())
    if config.battles != "random":
        return [(p, x, y) for p in prompt_ids for x, y in pairs]
    budget = config.battle_budget or 1
    rng = random.Random(f"battles/{config.seed}")
    seen = dict.fromkeys(names, 0)
    battles: list[Battle] = []
    for prompt_id in prompt_ids:
        order = pairs[:]
        rng.shuffle(order)
        chosen: list[tuple[str, str]] = []
        for _ in range(budget):
            # the pair whose models have appeared least so far (ties: the shuffled order)
            best = min((p for p in order if p not in chosen), key=lambda p: seen[p[0]] + seen[p[1]])
            chosen.append(best)
            seen[best[0]] += 1
            seen[best[1]] += 1
        battles += [(prompt_id, x, y) for x, y in sorted(chosen, key=pairs.index)]
    return battles


def check_connected(names: Sequence[str], battles: Sequence[Battle]) -> None:
    """ConfigError when some model is not compared, directly or through others, with all."""
    groups = connected_groups(names, ((x, y) for _, x, y in battles))
    if len(groups) > 1:
        parts = " | ".join(", ".join(g) for g in groups)
        raise ConfigError(
            f"the battle design leaves the models in {len(groups)} unconnected groups "
            f"({parts}): ratings would not be comparable; use more prompts, a larger "
            "battle_budget, or battles: all-pairs or reference"
        )


def run_battles(
    manifest: dict[str, Any], prompt_ids: Sequence[str], config: RunConfig
) -> tuple[list[Battle], dict[str, Any]]:
    """The run's battles: those the manifest records for the same models and design, else
    the design drawn now (checked for connectivity); and the manifest entry to record."""
    names = list(config.model_specs())
    entry = {
        "design": config.battles,
        "budget": config.battle_budget,
        "reference": config.reference_model(),
        "models": names,
        "seed": config.seed,
    }
    old = manifest.get("battles")
    if isinstance(old, dict) and {k: old.get(k) for k in entry} == entry:
        recorded = [tuple(b) for b in old.get("pairs", []) if isinstance(b, list) and len(b) == 3]
        known = {b[0] for b in recorded}
        battles: list[Battle] = [(str(p), str(x), str(y)) for p, x, y in recorded]
        fresh = [p for p in prompt_ids if p not in known]
        battles += design_battles(fresh, config) if fresh else []
    else:
        battles = design_battles(prompt_ids, config)
    check_connected(names, battles)
    return battles, {**entry, "pairs": [list(b) for b in battles]}
