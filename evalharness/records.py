"""Typed records written by the stages, each with a schema version and a natural key.

Records are plain dataclasses serialised to one JSON object per line. ``key()`` is the
record's identity: a stage skips work whose key is already on disk (resume), and readers
keep the first record of a key (so a duplicate can never be counted twice).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

SCHEMA_VERSION = 1

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

R = TypeVar("R", bound="Record")


# The comparison name of the main pairwise judgments (tuned vs base, both orders).
MAIN_COMPARISON = "tuned_vs_base"
# The comparison name of labeled pairs judged by `judge-validate` (X = output_1).
VALIDATE_COMPARISON = "validate"
# The probe comparison of an assertive variant against a hedged one.
CONFIDENCE_COMPARISON = "assertive_vs_hedged"
# The two orders of a pairwise judgment: X in slot A, then X in slot B.
ORDERS = ("xy", "yx")

_PROBE = "probe:"


def probe_comparison(kind: str, source: str | None = None) -> str:
    """The comparison name of a probe: ``probe:<kind>:<source>`` in a run (the variant of
    ``source``'s answer against it), ``probe:<kind>`` in a validation (output_1's variant)."""
    return f"{_PROBE}{kind}" if source is None else f"{_PROBE}{kind}:{source}"


def parse_probe_comparison(name: str) -> tuple[str, str | None] | None:
    """``(kind, source)`` of a probe comparison name (source None without one); None for a
    comparison that is not a probe."""
    if not name.startswith(_PROBE):
        return None
    kind, _, source = name.removeprefix(_PROBE).partition(":")
    return kind, source or None


def is_probe_comparison(name: str) -> bool:
    """Whether a comparison name is a probe's."""
    return parse_probe_comparison(name) is not None


def variant_subject(source: str, kind: str) -> str:
    """The subject of a probe variant in pointwise and pairwise records: ``<source>/<kind>``."""
    return f"{source}/{kind}"


def is_variant_subject(subject: str) -> bool:
    """Whether a subject is a probe variant (``tuned/padded``) rather than an answer."""
    return "/" in subject


@dataclass
class Record:
    """Base of every record: schema version plus (de)serialisation."""

    FILE: ClassVar[str] = ""
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ()

    def key(self) -> tuple[Any, ...]:
        """The natural key: one record per key in a run."""
        return tuple(getattr(self, name) for name in self.KEY_FIELDS)

    @classmethod
    def key_of(cls, **values: Any) -> tuple[Any, ...]:
        """The key a record with these values would have (every key field by name)."""
        missing = set(cls.KEY_FIELDS) - values.keys()
        if missing or len(values) != len(cls.KEY_FIELDS):
            raise TypeError(f"{cls.__name__}.key_of takes exactly {', '.join(cls.KEY_FIELDS)}")
        return tuple(values[name] for name in cls.KEY_FIELDS)

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
    history: list[Message] | None = None  # earlier turns: user and this model's answers
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

    @property
    def is_probe(self) -> bool:
        """Whether the score is of a probe variant (made by the bias stage)."""
        return is_variant_subject(self.subject)


@dataclass
class PairwiseRecord(Record):
    """A judge's verdict on X vs Y in one order ("xy": X in slot A, "yx": X in slot B)."""

    FILE: ClassVar[str] = "pairwise.jsonl"
    KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "prompt_id", "comparison", "judge", "rubric", "template", "order",
    )  # fmt: skip

    prompt_id: str
    comparison: str  # MAIN_COMPARISON, probe_comparison("padded", "tuned"), "validate"...
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

    @property
    def is_probe(self) -> bool:
        """Whether the verdict compares probe variants (made by the bias stage)."""
        return is_probe_comparison(self.comparison)


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

    @property
    def subject(self) -> str:
        """The variant's subject in judgments: ``<source>/<kind>``."""
        return variant_subject(self.source, self.kind)

    @property
    def comparison(self) -> str:
        """The comparison name of the variant judged against its original."""
        return probe_comparison(self.kind, self.source)
