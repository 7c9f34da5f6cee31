"""Typed records written by the stages, each with a schema version and a natural key.

Records are plain dataclasses serialised to one JSON object per line. ``key()`` is the
record's identity: a stage skips work whose key is already on disk (resume), and readers
keep the first record of a key (so a duplicate can never be counted twice).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

SCHEMA_VERSION = 1

R = TypeVar("R", bound="Record")


# The comparison name of the main pairwise judgments (tuned vs base, both orders).
MAIN_COMPARISON = "tuned_vs_base"


@dataclass
class Record:
    """Base of every record: schema version plus (de)serialisation."""

    FILE: ClassVar[str] = ""
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ()

    def key(self) -> tuple[Any, ...]:
        """The natural key: one record per key in a run."""
        return tuple(getattr(self, name) for name in self.KEY_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the record."""
        return asdict(self)

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """Build a record from a dict, ignoring unknown fields from newer schema versions."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class GenerationRecord(Record):
    """One model's answer to one prompt."""

    FILE: ClassVar[str] = "generations.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ("prompt_id", "role")

    prompt_id: str
    role: str  # "base" | "tuned"
    model: str  # the spec as written
    resolved: str  # file hash, directory or revision
    prompt: str  # the prompt set's text
    rendered_prompt: str  # exactly what the model saw
    output: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length" | "error"
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    category: str | None = None
    error: str | None = None
    device: str | None = None  # where a local model ran ("cpu", "cuda:0"); None for servers
    dtype: str | None = None  # its precision ("float32", "bfloat16"); None for servers
    turn: int = 1  # the user turn answered (multi-turn prompts; prompt_id "<id>/turn-k")
    history: list[dict[str, str]] | None = None  # earlier turns: user and this model's answers
    reference: str | None = None  # this turn's reference answer, if the prompt set has one
    schema_version: int = SCHEMA_VERSION


@dataclass
class PointwiseRecord(Record):
    """A judge's score of one response on one rubric criterion."""

    FILE: ClassVar[str] = "pointwise.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "prompt_id", "subject", "judge", "rubric", "template", "criterion",
    )  # fmt: skip

    prompt_id: str
    subject: str  # "base", "tuned", or a probe variant such as "tuned/padded"
    judge: str
    rubric: str  # id@version
    template: str  # id@version
    criterion: str
    rendered_prompt: str
    probs: dict[str, float]  # raw next-token probability of each level "1".."5"
    mass: float  # probability on the allowed levels
    expected: float | None  # sum s*p(s) / sum p(s)
    argmax: int | None
    low_mass: bool
    mode: str  # "logprobs" | "text"
    raw_text: str | None = None
    error: str | None = None
    seconds: float = 0.0
    device: str | None = None  # where a local judge ran; None for servers
    dtype: str | None = None  # the local judge's precision; None for servers
    schema_version: int = SCHEMA_VERSION


@dataclass
class PairwiseRecord(Record):
    """A judge's verdict on X vs Y in one order ("xy": X in slot A, "yx": X in slot B)."""

    FILE: ClassVar[str] = "pairwise.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "prompt_id", "comparison", "judge", "rubric", "template", "order",
    )  # fmt: skip

    prompt_id: str
    comparison: str  # "tuned_vs_base", "probe:length:tuned", "validate"...
    x: str  # subject in the X role (e.g. "tuned")
    y: str  # subject in the Y role (e.g. "base")
    order: str  # "xy" | "yx"
    judge: str
    rubric: str
    template: str
    rendered_prompt: str
    probs: dict[str, float]  # raw P("A"), P("B")
    mass: float
    p_first: float | None  # P(A) / (P(A) + P(B))
    p_x: float | None  # probability that X is better, in this order
    low_mass: bool
    mode: str
    raw_text: str | None = None
    error: str | None = None
    seconds: float = 0.0
    device: str | None = None  # where a local judge ran; None for servers
    dtype: str | None = None  # the local judge's precision; None for servers
    schema_version: int = SCHEMA_VERSION


@dataclass
class ProbeRecord(Record):
    """A counterfactual variant of a response (same content, one property changed)."""

    FILE: ClassVar[str] = "probes.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ("prompt_id", "source", "kind")

    prompt_id: str
    source: str  # the subject the variant was made from, e.g. "tuned"
    kind: str  # "padded" | "shortened" | "assertive" | "hedged"
    rewriter: str
    text: str
    original_tokens: int
    variant_tokens: int
    noop: bool
    schema_version: int = SCHEMA_VERSION
