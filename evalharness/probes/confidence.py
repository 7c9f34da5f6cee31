"""The confidence rewriter: ``assertive`` and ``hedged`` versions with the same words.

* ``assertive``: hedges removed, one certainty opener and at most one certainty adverb added.
* ``hedged``: one hedge opener and possibly one hedge adverb added.

The assertive and hedged variants of one answer have the same number of words (split on
whitespace): the shorter of the two gets content-free lead-ins (``neutral_fillers`` in the
rules) before its sentences, so the CBR compares confidence, not length.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from evalharness.probes.base import variant_rng
from evalharness.text.edit import apply, mask, normalize, remove_phrases, tidy, unmask
from evalharness.text.markdown import Doc, Sentence, paragraph_gap, parse
from evalharness.text.markers import (
    certainty_phrases,
    hedge_phrases,
    inline_code_spans,
    phrase_regex,
    word_count,
)
from evalharness.text.rules import ProbeRules
from evalharness.text.sentences import FIRST_WORD, join, looks_declarative, recase

_ADVERB_SITE = re.compile(r"(?<![\w'’])(?:is|are|was|were|will|can|should|must)[ \t]+(?=[a-z])")


class ConfidenceRewriter:
    """More and less confident versions of a response, matched in length."""

    kinds: tuple[str, ...] = ("assertive", "hedged")

    def rewrite(
        self, kind: str, response: str, instruction: str, rules: ProbeRules, seed: int, key: str
    ) -> str:
        """The ``assertive`` or ``hedged`` variant of ``response``."""
        assertive, hedged = confidence_pair(response, rules, seed, key)
        return assertive if kind == "assertive" else hedged


def confidence_pair(response: str, rules: ProbeRules, seed: int, key: str = "") -> tuple[str, str]:
    """The assertive and hedged variants of ``response``, matched in whitespace words.

    Each is rewritten on its own; then the shorter gets neutral lead-ins before its
    sentences until both have as many words (when it has a sentence to put them before).
    """
    assertive = _assertive(response, rules, variant_rng(seed, key, "assertive"))
    hedged = _hedged(response, rules, variant_rng(seed, key, "hedged"))
    gap = len(hedged.split()) - len(assertive.split())
    rng = variant_rng(seed, key, "match")
    # Openers the rewrite added may be lower-cased after a lead-in ("Here, certainly, ...").
    added = rules.certainty_openers + rules.hedge_openers + rules.neutral_fillers
    known = " ".join(p.lower() for p in added)
    if gap > 0:
        assertive = _fill(assertive, gap, rules.neutral_fillers, rng, known)
    elif gap < 0:
        hedged = _fill(hedged, -gap, rules.neutral_fillers, rng, known)
    return assertive, hedged


def _pieces(words: int, fillers: Sequence[str], rng: random.Random) -> list[str]:
    """Fillers whose word counts add up to ``words`` (largest that fits first)."""
    by_size: dict[int, list[str]] = {}
    for filler in fillers:
        by_size.setdefault(len(filler.split()), []).append(filler)
    pieces: list[str] = []
    left = words
    while left > 0:
        fits = [size for size in by_size if size <= left]
        if not fits:
            break
        size = max(fits)
        pieces.append(rng.choice(by_size[size]))
        left -= size
    return pieces


def _fill(
    text: str, words: int, fillers: Sequence[str], rng: random.Random, known: str = ""
) -> str:
    """``text`` with neutral lead-ins adding ``words`` words, spread over its sentences."""
    doc = parse(text)
    sentences = [s for s in doc.sentences if FIRST_WORD.match(text, s.start)]
    if not sentences or not fillers:
        return text
    later = sentences[1:] or sentences
    pieces = _pieces(words, fillers, rng)
    leads: dict[int, list[str]] = {}
    for index, piece in enumerate(pieces):
        leads.setdefault(index % len(later), []).append(piece)
    edits = []
    for index, chosen in leads.items():
        sentence = later[index]
        original = text[sentence.start : sentence.end]
        for lead in reversed(chosen):
            original = join(lead, original, f"{text} {known}")
        edits.append((sentence.start, sentence.end, original))
    return apply(text, edits)


def remove_hedges(text: str, rules: ProbeRules) -> str:
    """``text`` without its hedges (listed ones replaced as the rules say, the rest deleted)."""
    listed = {normalize(phrase) for phrase, _ in rules.hedges}
    extra = tuple((p, "") for p in hedge_phrases(rules) if normalize(p) not in listed)
    pairs = rules.hedges + extra
    doc = parse(text)
    edits = []
    for sentence in doc.sentences:
        original = text[sentence.start : sentence.end]
        masked, codes = mask(text, sentence.start, sentence.end)
        removed = remove_phrases(masked, pairs)
        if removed == masked:
            continue
        edited = unmask(tidy(removed), codes)
        if word_count(edited) > 0:
            edits.append((sentence.start, sentence.end, recase(original, edited)))
    return apply(text, edits)


def _insert_adverb(
    text: str, adverbs: Sequence[str], avoid: tuple[str, ...], rng: random.Random
) -> str:
    """Insert one adverb after a verb such as "is" or "can", away from the opener if possible."""
    doc = parse(text)
    avoid_pattern = re.compile("|".join(phrase_regex(a) for a in avoid), re.IGNORECASE)
    opener_sentence = _opener_sentence(doc)
    sites: list[tuple[bool, int]] = []
    for sentence in doc.sentences:
        if text[sentence.start : sentence.end].rstrip("\"'”’)]").endswith("?"):
            continue
        code = inline_code_spans(text, sentence.start, sentence.end)
        for match in _ADVERB_SITE.finditer(text, sentence.start, sentence.end):
            if any(cs <= match.start() < ce for cs, ce in code):
                continue
            if avoid and avoid_pattern.match(text, match.end()):
                continue
            sites.append((sentence == opener_sentence, match.end()))
    preferred = [at for in_opener, at in sites if not in_opener] or [at for _, at in sites]
    if not preferred:
        return text
    at = rng.choice(preferred)
    return f"{text[:at]}{rng.choice(list(adverbs))} {text[at:]}"


def _opener_sentence(doc: Doc) -> Sentence | None:
    """The sentence an opener goes before: the first of the first non-heading paragraph."""
    first = next((i for i, b in enumerate(doc.blocks) if b.kind != "heading"), None)
    if first is None or doc.blocks[first].kind != "paragraph":
        return None
    return next(s for s in doc.sentences if s.block == first)


def _add_opener(
    text: str, openers: Sequence[str], known: tuple[str, ...], rng: random.Random
) -> str:
    """Start the first paragraph with an opener (or frame a response that has none).

    Nothing is added when that sentence already starts with one of the ``known`` phrases.
    """
    doc = parse(text)
    first_block = next((b for b in doc.blocks if b.kind != "heading"), None)
    sentence = _opener_sentence(doc)
    if first_block is None:
        return text
    if sentence is None:
        framing = join(rng.choice(list(openers)), "This is the answer:", text)
        gap = paragraph_gap(text)
        return f"{text[: first_block.start]}{framing}{gap}{text[first_block.start :]}"
    original = text[sentence.start : sentence.end]
    if known and re.match("|".join(phrase_regex(k) for k in known), original, re.IGNORECASE):
        return text
    pool = list(openers)
    if not looks_declarative(original, text):
        pool = [o for o in openers if o.rstrip()[-1] in ",:"] or pool
    opener = rng.choice(pool)
    return apply(text, [(sentence.start, sentence.end, join(opener, original, text))])


def _assertive(text: str, rules: ProbeRules, rng: random.Random) -> str:
    markers = certainty_phrases(rules) + hedge_phrases(rules)
    text = remove_hedges(text, rules)
    text = _add_opener(text, rules.certainty_openers, certainty_phrases(rules), rng)
    return _insert_adverb(text, rules.certainty_adverbs, markers, rng)


def _hedged(text: str, rules: ProbeRules, rng: random.Random) -> str:
    markers = certainty_phrases(rules) + hedge_phrases(rules)
    opened = _add_opener(text, rules.hedge_openers, hedge_phrases(rules), rng)
    if opened == text or rng.random() < 0.5:
        return _insert_adverb(opened, rules.hedge_adverbs, markers, rng)
    return opened
