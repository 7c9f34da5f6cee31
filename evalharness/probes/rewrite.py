"""Deterministic counterfactual rewrites of a judged response, behind a registry of rewriters.

Each variant keeps the content of the response and changes one property. The rewriters:

* ``length`` (:mod:`evalharness.probes.length`): ``padded`` and ``shortened``;
* ``confidence`` (:mod:`evalharness.probes.confidence`): ``assertive`` and ``hedged``,
  matched in words.

Text inside fenced code blocks and inline code is never changed; headings, block quotes and
tables are left alone (the parsing and editing live in :mod:`evalharness.text`). A variant
whose text equals the original (an empty response, a single sentence with nothing to trim)
is a no-op: :func:`is_noop` says so, and the analysis drops such pairs because they carry no
information about the judge.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.errors import ConfigError, did_you_mean
from evalharness.probes.base import Rewriter
from evalharness.probes.confidence import ConfidenceRewriter
from evalharness.probes.length import LengthRewriter
from evalharness.text.rules import ProbeRules

__all__ = [
    "REWRITERS",
    "VARIANTS",
    "Variant",
    "is_noop",
    "make_variant",
    "make_variants",
    "rewriter",
    "rewriter_for",
    "rules_rewriter_name",
]

REWRITERS: dict[str, Rewriter] = {"length": LengthRewriter(), "confidence": ConfidenceRewriter()}
"""The rule-based rewriters by name, each making the variants of one bias."""

VARIANTS: tuple[str, ...] = tuple(kind for r in REWRITERS.values() for kind in r.kinds)
"""Every variant kind, in probe order: padded, shortened, assertive, hedged."""


@dataclass(frozen=True)
class Variant:
    """One rewrite of a response: its kind, text, and the rewriter that produced it."""

    kind: str
    text: str
    rewriter: str  # "rules@<fingerprint[:12]>", "model:<spec>" or "rules-fallback"


def rewriter(name: str) -> Rewriter:
    """The rewriter called ``name``; ConfigError with the valid names for an unknown one."""
    if name not in REWRITERS:
        raise ConfigError(f"unknown rewriter {name!r}{did_you_mean(name, list(REWRITERS))}")
    return REWRITERS[name]


def rewriter_for(kind: str) -> Rewriter:
    """The rewriter that makes variant ``kind``; ConfigError with the valid kinds otherwise."""
    for candidate in REWRITERS.values():
        if kind in candidate.kinds:
            return candidate
    raise ConfigError(f"unknown probe variant {kind!r}{did_you_mean(kind, list(VARIANTS))}")


def rules_rewriter_name(rules: ProbeRules) -> str:
    """The ``rewriter`` label of variants made by the rules."""
    return f"rules@{rules.fingerprint()[:12]}"


def make_variant(
    kind: str, response: str, instruction: str, rules: ProbeRules, seed: int, key: str = ""
) -> Variant:
    """Build one variant; the same (response, instruction, rules, seed, key) gives the same text."""
    chosen = rewriter_for(kind)
    name = rules_rewriter_name(rules)
    if not response.strip():
        return Variant(kind, response, name)
    return Variant(kind, chosen.rewrite(kind, response, instruction, rules, seed, key), name)


def make_variants(
    response: str, instruction: str, rules: ProbeRules, seed: int, key: str = ""
) -> dict[str, Variant]:
    """All four variants of one response, keyed by kind."""
    return {kind: make_variant(kind, response, instruction, rules, seed, key) for kind in VARIANTS}


def is_noop(original: str, variant: Variant | str) -> bool:
    """True when the variant's text equals the original up to whitespace (nothing to compare)."""
    text = variant.text if isinstance(variant, Variant) else variant
    return original.split() == text.split()
