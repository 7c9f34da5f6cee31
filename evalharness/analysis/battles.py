"""Battle records, their style features and the design matrices of the rating fits.

One :class:`Battle` is one judged comparison of two answers to one prompt. ``p_a`` is the
judge's soft preference for ``model_a`` (1.0 = A surely better, 0.5 = tie), already mapped
back from screen position to model: a battle judged in both orders gives **two rows**, one
per order (the prompt-clustered bootstrap keeps them together, so their dependence is
accounted for). Averaging the two orders first and passing one row is also valid; the fit is
the same up to the weight of that prompt. ``p_a`` may also be the tie-band outcome score
(1, 0.5 or 0) of the order-averaged preference, one row per prompt: with two models the
rating's win probability is then exactly today's headline win rate
(:func:`evalharness.analysis.stats.win_rate`).

``p_a`` of ``None`` or NaN (a failed or undecided judgment) excludes the battle; the rating
result counts the exclusions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evalharness.errors import HarnessError
from evalharness.text.markers import confidence_density
from evalharness.text.rules import ProbeRules
from evalharness.text.style import markdown_density

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STYLE_NAMES: tuple[str, ...] = ("length", "markdown", "confidence")


@dataclass(frozen=True)
class StyleFeatures:
    """Style of one answer: length in tokens, markdown and confidence-marker densities.

    Both densities are per 100 words (:func:`evalharness.text.style.markdown_density`,
    :func:`evalharness.text.markers.confidence_density`).
    """

    length: float
    markdown: float = 0.0
    confidence: float = 0.0


@dataclass(frozen=True)
class Battle:
    """One judged comparison: ``p_a`` is the judge's soft preference for ``model_a``."""

    prompt_id: str
    model_a: str
    model_b: str
    p_a: float | None
    style_a: StyleFeatures
    style_b: StyleFeatures

    @property
    def decided(self) -> bool:
        """Whether the judgment is usable (a number in [0, 1])."""
        return self.p_a is not None and not math.isnan(self.p_a) and 0.0 <= self.p_a <= 1.0


def style_of(text: str, tokens: int, rules: ProbeRules) -> StyleFeatures:
    """The :class:`StyleFeatures` of an answer ``text`` of ``tokens`` tokens."""
    return StyleFeatures(
        length=float(tokens),
        markdown=markdown_density(text),
        confidence=confidence_density(text, rules),
    )


@dataclass(frozen=True)
class Design:
    """The arrays of a rating fit over the decided battles.

    ``model_x`` has one column per model except the reference (+1 for A, -1 for B);
    ``style_x`` one column per style covariate, already scaled; ``style_scale`` the divisor
    used for each raw difference (0.0 where the covariate was constant and is left out).
    """

    models: tuple[str, ...]
    reference: str
    prompts: tuple[str, ...]
    prompt_index: IntArray
    model_x: FloatArray
    style_x: FloatArray
    style_names: tuple[str, ...]
    style_scale: tuple[float, ...]
    y: FloatArray
    excluded: int


def _normalized_difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """(a - b) / (a + b), 0 where both are 0."""
    total = a + b
    out = np.zeros_like(a)
    np.divide(a - b, total, out=out, where=total != 0)
    return out


def style_differences(battles: Sequence[Battle]) -> dict[str, FloatArray]:
    """Raw style differences A - B per battle, before scaling.

    Length is the normalized difference ``(a - b) / (a + b)`` as in Arena-Hard's style
    control; the two densities are already rates per 100 words (confidence can be negative),
    so their plain difference is used.
    """

    def column(attr: str) -> tuple[FloatArray, FloatArray]:
        a = np.array([getattr(b.style_a, attr) for b in battles], dtype=np.float64)
        b_ = np.array([getattr(b.style_b, attr) for b in battles], dtype=np.float64)
        return a, b_

    length_a, length_b = column("length")
    markdown_a, markdown_b = column("markdown")
    confidence_a, confidence_b = column("confidence")
    return {
        "length": _normalized_difference(length_a, length_b),
        "markdown": markdown_a - markdown_b,
        "confidence": confidence_a - confidence_b,
    }


def build_design(battles: Sequence[Battle], reference: str | None = None) -> Design:
    """Design arrays for the decided battles; the reference defaults to the first model seen.

    Raises :class:`HarnessError` for no decided battle, a battle of a model against itself,
    an unknown reference, or a comparison graph in pieces (ratings would not be comparable).
    """
    decided = [b for b in battles if b.decided]
    excluded = len(battles) - len(decided)
    if not decided:
        raise HarnessError(f"ratings: no decided battle ({excluded} failed or undecided)")
    for battle in decided:
        if battle.model_a == battle.model_b:
            raise HarnessError(
                f"ratings: battle on prompt {battle.prompt_id!r} pits {battle.model_a!r} "
                "against itself"
            )
        for style in (battle.style_a, battle.style_b):
            values = (style.length, style.markdown, style.confidence)
            if not all(math.isfinite(v) for v in values) or style.length < 0:
                raise HarnessError(
                    f"ratings: battle on prompt {battle.prompt_id!r} has invalid style "
                    f"features {values} (finite numbers, length >= 0)"
                )
    models: list[str] = []
    for battle in decided:
        for name in (battle.model_a, battle.model_b):
            if name not in models:
                models.append(name)
    reference = models[0] if reference is None else reference
    if reference not in models:
        raise HarnessError(
            f"ratings: reference model {reference!r} has no decided battle "
            f"(models: {', '.join(models)})"
        )
    _check_connected(models, decided)
    order = [reference] + [m for m in models if m != reference]
    column = {name: i - 1 for i, name in enumerate(order)}
    model_x = np.zeros((len(decided), len(order) - 1))
    for row, battle in enumerate(decided):
        if column[battle.model_a] >= 0:
            model_x[row, column[battle.model_a]] = 1.0
        if column[battle.model_b] >= 0:
            model_x[row, column[battle.model_b]] = -1.0
    prompts = tuple(dict.fromkeys(b.prompt_id for b in decided))
    prompt_pos = {p: i for i, p in enumerate(prompts)}
    raw = style_differences(decided)
    scales: list[float] = []
    columns: list[FloatArray] = []
    for name in STYLE_NAMES:
        scale = float(np.std(raw[name]))
        scales.append(scale if scale > 1e-12 else 0.0)
        columns.append(raw[name] / scale if scale > 1e-12 else np.zeros(len(decided)))
    return Design(
        models=tuple(order),
        reference=reference,
        prompts=prompts,
        prompt_index=np.array([prompt_pos[b.prompt_id] for b in decided], dtype=np.int64),
        model_x=model_x,
        style_x=np.column_stack(columns),
        style_names=STYLE_NAMES,
        style_scale=tuple(scales),
        y=np.array([b.p_a for b in decided], dtype=np.float64),
        excluded=excluded,
    )


def connected_groups(names: Sequence[str], pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The models that are compared, directly or through others, with each other: one list
    per connected group of the comparison graph, in the order of ``names``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = {name: i for i, name in enumerate(names)}
    edges = [(index[a], index[b]) for a, b in pairs]
    rows, cols = zip(*edges, strict=True) if edges else ((), ())
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[str]] = {}
    for name, label in zip(names, labels, strict=True):
        groups.setdefault(int(label), []).append(name)
    return list(groups.values())


def _check_connected(models: list[str], battles: Sequence[Battle]) -> None:
    """Raise when some models were never compared, directly or indirectly, with the rest."""
    groups = connected_groups(models, ((b.model_a, b.model_b) for b in battles))
    if len(groups) > 1:
        parts = "; ".join(", ".join(g) for g in groups)
        raise HarnessError(f"ratings: the battles fall into unconnected groups ({parts})")
