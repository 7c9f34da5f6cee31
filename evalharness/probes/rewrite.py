"""Deterministic counterfactual rewrites of a judged response.

Each variant keeps the content of the response and changes one property:

* ``padded``: about twice the words, from a restatement of the question, lead-ins before
  existing sentences and a recap that repeats sentences of the response. Original sentences
  stay in order and verbatim, except that a sentence after a lead-in may start lower-case.
* ``shortened``: the leading sentences (list items, code blocks) holding about
  ``keep_fraction`` of the words, a prefix of the original text. A single sentence loses its
  parenthetical asides and filler phrases instead, or stays as it is.
* ``assertive``: hedges removed, one certainty opener and at most one certainty adverb added.
* ``hedged``: one hedge opener and possibly one hedge adverb added.

The assertive and hedged variants of one answer have the same number of words (split on
whitespace): the shorter of the two gets content-free lead-ins (``neutral_fillers`` in the
rules) before its sentences, so the CBR compares confidence, not length.

Text inside fenced code blocks and inline code is never changed; headings, block quotes and
tables are left alone. A variant whose text equals the original (an empty response, a single
sentence with nothing to trim) is a no-op: :func:`is_noop` says so, and the analysis drops
such pairs because they carry no information about the judge.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from evalharness.errors import ConfigError, did_you_mean
from evalharness.text.markers import (
    certainty_phrases,
    fenced_code_spans,
    hedge_phrases,
    inline_code_spans,
    phrase_regex,
    word_count,
)
from evalharness.text.rules import PhraseRule, ProbeRules

__all__ = [
    "VARIANTS",
    "Variant",
    "confidence_pair",
    "is_noop",
    "make_variant",
    "make_variants",
    "rules_rewriter_name",
    "split_sentences",
    "word_count",
]

VARIANTS = ("padded", "shortened", "assertive", "hedged")


@dataclass(frozen=True)
class Variant:
    """One rewrite of a response: its kind, text, and the rewriter that produced it."""

    kind: str
    text: str
    rewriter: str  # "rules@<fingerprint[:12]>", "model:<spec>" or "rules-fallback"


def rules_rewriter_name(rules: ProbeRules) -> str:
    """The ``rewriter`` label of variants made by the rules."""
    return f"rules@{rules.fingerprint()[:12]}"


def make_variant(
    kind: str, response: str, instruction: str, rules: ProbeRules, seed: int, key: str = ""
) -> Variant:
    """Build one variant; the same (response, instruction, rules, seed, key) gives the same text."""
    if kind not in VARIANTS:
        raise ConfigError(f"unknown probe variant {kind!r}{did_you_mean(kind, list(VARIANTS))}")
    name = rules_rewriter_name(rules)
    if not response.strip():
        return Variant(kind, response, name)
    rng = _rng(seed, key, kind)
    if kind == "padded":
        text = _padded(response, instruction, rules, rng)
    elif kind == "shortened":
        text = _shortened(response, rules)
    else:
        assertive, hedged = confidence_pair(response, rules, seed, key)
        text = assertive if kind == "assertive" else hedged
    return Variant(kind, text, name)


def confidence_pair(response: str, rules: ProbeRules, seed: int, key: str = "") -> tuple[str, str]:
    """The assertive and hedged variants of ``response``, matched in whitespace words.

    Each is rewritten on its own; then the shorter gets neutral lead-ins before its
    sentences until both have as many words (when it has a sentence to put them before).
    """
    assertive = _assertive(response, rules, _rng(seed, key, "assertive"))
    hedged = _hedged(response, rules, _rng(seed, key, "hedged"))
    gap = len(hedged.split()) - len(assertive.split())
    rng = _rng(seed, key, "match")
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
    doc = _parse(text)
    sentences = [s for s in doc.sentences if _FIRST_WORD.match(text, s.start)]
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
            original = _join(lead, original, f"{text} {known}")
        edits.append((sentence.start, sentence.end, original))
    return _apply(text, edits)


def make_variants(
    response: str, instruction: str, rules: ProbeRules, seed: int, key: str = ""
) -> dict[str, Variant]:
    """All four variants of one response, keyed by kind."""
    return {kind: make_variant(kind, response, instruction, rules, seed, key) for kind in VARIANTS}


def is_noop(original: str, variant: Variant | str) -> bool:
    """True when the variant's text equals the original up to whitespace (nothing to compare)."""
    text = variant.text if isinstance(variant, Variant) else variant
    return original.split() == text.split()


def split_sentences(text: str) -> list[str]:
    """The sentences of the paragraphs and list items of ``text`` (code and headings excluded)."""
    doc = _parse(text)
    return [text[s.start : s.end] for s in doc.sentences]


def _rng(seed: int, key: str, kind: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{key}\x1f{kind}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# --------------------------------------------------------------------------- parsing

_RULE_LINE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_TABLE = re.compile(r"^[ \t]*\|")
_QUOTE = re.compile(r"^ {0,3}>")
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_SENTENCE_START = re.compile(r"[A-Z0-9\"'“‘(\[*_`#]")
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\w+",
        "dr mr mrs ms prof sr jr st vs al fig figs approx cf inc ltd co corp dept est vol eq eqs "
        "sec ch pp mt gen col lt sgt rev ave blvd jan feb mar apr jun jul aug sep sept oct nov dec",
    )
)


@dataclass(frozen=True)
class _Block:
    kind: str  # paragraph | item | heading | quote | table | rule | code
    start: int
    end: int
    body: int  # where the text starts (after a list marker)


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    block: int


@dataclass(frozen=True)
class _Doc:
    text: str
    blocks: tuple[_Block, ...]
    sentences: tuple[_Sentence, ...]

    def block_of(self, sentence: _Sentence) -> _Block:
        return self.blocks[sentence.block]


def _parse(text: str) -> _Doc:
    blocks: list[_Block] = []
    pos = 0
    for start, end in [*fenced_code_spans(text), (len(text), len(text))]:
        blocks.extend(_line_blocks(text, pos, start))
        if start < end:
            blocks.append(_Block("code", start, end, start))
        pos = end
    sentences = [
        _Sentence(start, end, index)
        for index, block in enumerate(blocks)
        if block.kind in ("paragraph", "item")
        for start, end in _sentence_spans(text, block.body, block.end)
    ]
    return _Doc(text, tuple(blocks), tuple(sentences))


def _line_blocks(text: str, start: int, end: int) -> list[_Block]:
    blocks: list[_Block] = []
    open_block: _Block | None = None
    offset = start
    for line in text[start:end].splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        indent = len(bare) - len(bare.lstrip())
        line_start, line_end = offset + indent, offset + len(bare)
        offset += len(line)
        kind = _line_kind(bare)
        if kind == "continuation" and open_block and open_block.kind in ("paragraph", "item"):
            open_block = _Block(open_block.kind, open_block.start, line_end, open_block.body)
            continue
        if kind in ("table", "quote") and open_block and open_block.kind == kind:
            open_block = _Block(kind, open_block.start, line_end, open_block.body)
            continue
        if open_block is not None:
            blocks.append(open_block)
            open_block = None
        if kind in ("blank", "rule", "heading"):
            if kind != "blank":
                blocks.append(_Block(kind, line_start, line_end, line_start))
            continue
        item = _ITEM.match(bare) if kind == "item" else None
        body = offset - len(line) + item.end() if item else line_start
        kind = "paragraph" if kind == "continuation" else kind
        open_block = _Block(kind, line_start, line_end, body)
    if open_block is not None:
        blocks.append(open_block)
    return blocks


def _line_kind(line: str) -> str:
    if not line.strip():
        return "blank"
    if _RULE_LINE.match(line):
        return "rule"
    if _HEADING.match(line):
        return "heading"
    if _ITEM.match(line):
        return "item"
    if _TABLE.match(line):
        return "table"
    if _QUOTE.match(line):
        return "quote"
    return "continuation"


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    code = inline_code_spans(text, start, end)
    spans: list[tuple[int, int]] = []
    current = _skip_space(text, start, end)
    for match in _BOUNDARY.finditer(text, start, end):
        if match.start() < current or any(cs <= match.start() < ce for cs, ce in code):
            continue
        following = _skip_space(text, match.end(), end)
        if following < end and not _SENTENCE_START.match(text, following):
            continue
        single_dot = match.group().startswith(".") and not match.group().startswith("..")
        if single_dot and _is_abbreviation(text[current : match.start()]):
            continue
        spans.append((current, match.end()))
        current = following
    if current < end and text[current:end].strip():
        spans.append((current, len(text[:end].rstrip())))
    return spans


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def _is_abbreviation(before: str) -> bool:
    tokens = before.split()
    if not tokens:
        return False
    token = tokens[-1].lstrip("(\"'“‘[*_")
    if token == "I":
        return False
    lowered = token.lower()
    return lowered in _ABBREVIATIONS or re.fullmatch(r"[a-z](?:\.[a-z])*", lowered) is not None


# --------------------------------------------------------------------------- casing

_COMMON_STARTS = frozenset(
    re.findall(
        r"[\w']+",
        """a an the this that these those it its there here you your we our they their he she his
    her in on at for to from with by of as if when while since because although though after
    before once each every all some many most any no not one both either neither first second
    third then next finally also however so yes use try make run add set check note remember
    consider start open install create call keep avoid do don't does is are was were can
    could should would will what which who how why where let let's more less other another
    such only just even instead overall generally typically usually often sometimes otherwise
    therefore thus similarly additionally moreover furthermore again now today everything
    something nothing anything everyone someone people using adding setting writing making
    taking choosing given based whether unlike like without within during per over under
    above below between probably perhaps maybe possibly certainly clearly definitely actually
    basically usually generally surely obviously""",
    )
)
_SUBJECT_STARTS = frozenset(
    re.findall(
        r"\w+",
        """the a an this that these those it its there you your we our they their he she his her
        my i most all some many each every no one both either neither such another other in on
        at for from with by after before when if since because although while during""",
    )
)
_FIRST_WORD = re.compile(r"([*_\"“‘(\[]*)([A-Za-z][\w'’\-]*)")
_FIRST_LETTER = re.compile(r"[*_\"“‘(\[]*([^\W\d_])")


def _should_lower(word: str, context: str) -> bool:
    if not word[0].isupper() or word[1:] != word[1:].lower():
        return False
    if re.split(r"['’]", word)[0] == "I":
        return False
    lowered = word.lower()
    if lowered in _COMMON_STARTS:
        return True
    return re.search(phrase_regex(lowered), context) is not None


def _lower_first(sentence: str, context: str) -> str:
    match = _FIRST_WORD.match(sentence)
    if not match or not _should_lower(match.group(2), context):
        return sentence
    at = match.start(2)
    return sentence[:at] + sentence[at].lower() + sentence[at + 1 :]


def _upper_first(sentence: str) -> str:
    match = _FIRST_LETTER.match(sentence)
    if not match:
        return sentence
    at = match.start(1)
    return sentence[:at] + sentence[at].upper() + sentence[at + 1 :]


def _join(prefix: str, sentence: str, context: str) -> str:
    """``prefix`` followed by ``sentence``, lower-casing its first word after a lead-in."""
    prefix = prefix.strip()
    if prefix[-1] in ".:!?":
        return f"{prefix} {sentence}"
    return f"{prefix} {_lower_first(sentence, context)}"


def _apply(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _cycle(items: Sequence[str], rng: random.Random) -> Iterator[str]:
    """Items in a shuffled order, reshuffled each time they run out."""
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


# --------------------------------------------------------------------------- padded


def _padded(text: str, instruction: str, rules: ProbeRules, rng: random.Random) -> str:
    words = word_count(text)
    if words == 0:
        return text
    doc = _parse(text)
    low, high = rules.target_ratio
    target = words * rng.uniform(low, high)
    ceiling = words * rules.max_ratio
    total = float(words)

    restate = _restatement(instruction, rules, rng, room=target - total)
    if restate:
        total += word_count(restate)

    gaps = _transition_gaps(doc)
    rng.shuffle(gaps)
    transitions = _cycle(rules.transitions, rng)
    recaps = _recap_sources(doc)
    share = 0.4 if recaps else 1.0
    chosen: list[tuple[_Sentence, str]] = []
    budget = max((target - total) * share, 1.0)
    spent = 0
    while gaps:
        lead = next(transitions)
        cost = word_count(lead)
        if chosen and spent + cost > budget:
            break
        if total + cost > ceiling:
            break
        chosen.append((gaps.pop(), lead))
        spent += cost
        total += cost

    parts: list[str] = []
    templates = _cycle(rules.recap, rng)
    for index, sentence in enumerate(recaps):
        if total >= target:
            break
        part = _recap_part(templates, sentence, recaps[0], first=index == 0, count=len(rules.recap))
        cost = word_count(part) if part else 0
        if part and total + cost <= ceiling:
            parts.append(part)
            total += cost

    while gaps and total < target:
        lead = next(transitions)
        cost = word_count(lead)
        if total + cost > ceiling:
            break
        chosen.append((gaps.pop(), lead))
        total += cost

    edits = [(s.start, s.end, _join(lead, text[s.start : s.end], text)) for s, lead in chosen]
    body = _apply(text, edits)
    gap = _paragraph_gap(text)
    if parts:
        body = _append_paragraph(body, " ".join(parts), gap)
    return f"{restate}{gap}{body}" if restate else body


def _restatement(instruction: str, rules: ProbeRules, rng: random.Random, room: float) -> str:
    question = " ".join(instruction.split())
    topic = _topic(question)
    options = []
    for template in rules.restate:
        if "{instruction}" in template and not (question and word_count(question) <= 25):
            continue
        if "{topic}" in template and not topic:
            continue
        options.append(template.format(instruction=question, topic=topic))
    rng.shuffle(options)
    for option in options:
        if word_count(option) <= room:
            return option
    return ""


def _topic(question: str, max_words: int = 10) -> str:
    first = re.split(r"(?<=[.!?])\s+|\n", question, maxsplit=1)[0].strip().rstrip(".!?:;,")
    tokens = first.split()
    if len(tokens) > max_words:
        return " ".join(tokens[:max_words]) + "..."
    return first


def _transition_gaps(doc: _Doc) -> list[_Sentence]:
    gaps = []
    for index, sentence in enumerate(doc.sentences):
        if index == 0 or doc.block_of(sentence).kind != "paragraph":
            continue
        previous = doc.sentences[index - 1]
        if previous.block == sentence.block and doc.text[previous.start : previous.end].endswith(
            ":"
        ):
            continue
        if _FIRST_WORD.match(doc.text, sentence.start) is None:
            continue
        gaps.append(sentence)
    return gaps


def _recap_sources(doc: _Doc) -> list[str]:
    sources = []
    for sentence in doc.sentences:
        flat = " ".join(doc.text[sentence.start : sentence.end].split())
        if word_count(flat) < 4 or flat.endswith((":", "?")):
            continue
        if not re.search(r"[.!][\"'”’)\]]*$", flat):
            flat += "."
        sources.append(_upper_first(flat))
    return sources


def _recap_part(
    templates: Iterator[str], sentence: str, first_sentence: str, first: bool, count: int
) -> str:
    for _ in range(count):
        template = next(templates)
        if "{first_sentence}" in template and not first:
            continue
        variable = "{sentence}" if "{sentence}" in template else "{first_sentence}"
        lead = template[: template.index(variable)].rstrip()
        if lead and lead[-1] not in ".:!?":
            sentence = _lower_first(sentence, first_sentence + " " + sentence)
            first_sentence = _lower_first(first_sentence, first_sentence)
        return template.format(sentence=sentence, first_sentence=first_sentence)
    return ""


def _paragraph_gap(text: str) -> str:
    return "\r\n\r\n" if "\r\n" in text else "\n\n"


def _append_paragraph(text: str, paragraph: str, gap: str) -> str:
    """Add a closing paragraph, outside any code block left open at the end."""
    spans = fenced_code_spans(text)
    if spans and spans[-1][1] == len(text) and not _closes_fence(text, spans[-1]):
        start = spans[-1][0]
        return f"{text[:start]}{paragraph}{gap}{text[start:]}"
    return f"{text.rstrip()}{gap}{paragraph}"


def _closes_fence(text: str, span: tuple[int, int]) -> bool:
    lines = text[span[0] : span[1]].rstrip("\n").splitlines()
    return len(lines) > 1 and set(lines[-1].strip()) == {lines[0].strip()[0]}


# --------------------------------------------------------------------------- shortened

_PARENTHETICAL = re.compile(r"[ \t]+\([^()\n]*\)")


def _shortened(text: str, rules: ProbeRules) -> str:
    total = word_count(text)
    doc = _parse(text)
    units = _units(doc)
    if total == 0 or not units:
        return text
    if len(units) == 1:
        return _trim_single(text, doc, rules)
    target = rules.keep_fraction
    best = min(
        range(1, len(units)),
        key=lambda k: (abs(word_count(text[: units[k - 1][1]]) / total - target), k),
    )
    while best > 1 and (
        units[best - 1][2] == "heading" or text[: units[best - 1][1]].rstrip().endswith(":")
    ):
        best -= 1
    return text[: units[best - 1][1]].rstrip()


def _units(doc: _Doc) -> list[tuple[int, int, str]]:
    """Shortening units in order: paragraph sentences, and whole items, code blocks, etc."""
    units: list[tuple[int, int, str]] = []
    for index, block in enumerate(doc.blocks):
        if block.kind == "paragraph":
            units.extend((s.start, s.end, "sentence") for s in doc.sentences if s.block == index)
        else:
            units.append((block.start, block.end, block.kind))
    return units


def _trim_single(text: str, doc: _Doc, rules: ProbeRules) -> str:
    if not doc.sentences:
        return text
    edits = []
    for sentence in doc.sentences:
        original = text[sentence.start : sentence.end]
        masked, codes = _mask(text, sentence.start, sentence.end)
        trimmed = _remove_phrases(masked, rules.filler)
        if rules.drop_parentheticals:
            trimmed = _PARENTHETICAL.sub("", trimmed)
        trimmed = _unmask(_tidy(trimmed), codes)
        if trimmed != original and word_count(trimmed) > 0:
            edits.append((sentence.start, sentence.end, _recase(original, trimmed)))
    return _apply(text, edits)


# --------------------------------------------------------------------------- confidence

_CLAUSE_START = (
    "the|a|an|it|its|this|these|those|there|you|your|we|our|they|their|he|she|his|her|i|my|"
    "most|all|some|each|every|no|any|one|many|such"
)
_ADVERB_SITE = re.compile(r"(?<![\w'’])(?:is|are|was|were|will|can|should|must)[ \t]+(?=[a-z])")
_PLACEHOLDER = 0xE100


def _mask(text: str, start: int, end: int) -> tuple[str, list[str]]:
    """``text[start:end]`` with each inline code span replaced by one private-use character."""
    codes: list[str] = []
    pieces = []
    pos = start
    for code_start, code_end in inline_code_spans(text, start, end):
        pieces.append(text[pos:code_start])
        pieces.append(chr(_PLACEHOLDER + len(codes)))
        codes.append(text[code_start:code_end])
        pos = code_end
    pieces.append(text[pos:end])
    return "".join(pieces), codes


def _unmask(text: str, codes: list[str]) -> str:
    for index, code in enumerate(codes):
        text = text.replace(chr(_PLACEHOLDER + index), code)
    return text


def _normalize(phrase: str) -> str:
    return " ".join(phrase.lower().replace("’", "'").split())


@lru_cache(maxsize=32)
def _phrase_matcher(pairs: tuple[PhraseRule, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    ordered = sorted({p for p, _ in pairs}, key=lambda p: (-len(p), p))
    alternation = "|".join(phrase_regex(p) for p in ordered)
    pattern = re.compile(
        rf"(?P<pre>,[ \t]*)?(?P<core>{alternation})"
        rf"(?P<that>[ \t]+that(?=[ \t]+(?:{_CLAUSE_START})(?![\w'’])))?(?P<post>[ \t]*,)?",
        re.IGNORECASE,
    )
    return pattern, {_normalize(p): r for p, r in pairs}


def _remove_phrases(text: str, pairs: tuple[PhraseRule, ...]) -> str:
    """Delete (or replace) each phrase, mending the commas around it."""
    if not pairs:
        return text
    pattern, replacements = _phrase_matcher(pairs)

    def replace(match: re.Match[str]) -> str:
        pre, post = match.group("pre") or "", match.group("post") or ""
        replacement = replacements.get(_normalize(match.group("core")), "")
        if replacement:
            if match.group("core")[0].isupper():
                replacement = replacement[0].upper() + replacement[1:]
            return pre + replacement + (match.group("that") or "") + post
        if pre and post:
            return " "
        if pre:
            following = match.string[match.end() :].lstrip()
            return "" if not following or following[0] in ".!?;:" else pre
        return ""

    return pattern.sub(replace, text)


def _tidy(text: str) -> str:
    text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)
    text = re.sub(r"[ \t]+(?=[,.;:!?])", "", text)
    text = re.sub(r",(?:[ \t]*,)+", ",", text)
    text = re.sub(r"([.;:!?])[ \t]*,", r"\1", text)
    text = re.sub(r",(?=[.!?;:])", "", text)
    text = re.sub(r",?[ \t]+(?:but|and|or|so)(?=[.!?;:])", "", text)
    return text.lstrip(" \t,")


def _recase(original: str, edited: str) -> str:
    first = _FIRST_LETTER.match(original)
    if first and first.group(1).isupper():
        return _upper_first(edited)
    return edited


def _remove_hedges(text: str, rules: ProbeRules) -> str:
    listed = {_normalize(phrase) for phrase, _ in rules.hedges}
    extra = tuple((p, "") for p in hedge_phrases(rules) if _normalize(p) not in listed)
    pairs = rules.hedges + extra
    doc = _parse(text)
    edits = []
    for sentence in doc.sentences:
        original = text[sentence.start : sentence.end]
        masked, codes = _mask(text, sentence.start, sentence.end)
        removed = _remove_phrases(masked, pairs)
        if removed == masked:
            continue
        edited = _unmask(_tidy(removed), codes)
        if word_count(edited) > 0:
            edits.append((sentence.start, sentence.end, _recase(original, edited)))
    return _apply(text, edits)


def _insert_adverb(
    text: str, adverbs: Sequence[str], avoid: tuple[str, ...], rng: random.Random
) -> str:
    """Insert one adverb after a verb such as "is" or "can", away from the opener if possible."""
    doc = _parse(text)
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


def _opener_sentence(doc: _Doc) -> _Sentence | None:
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
    doc = _parse(text)
    first_block = next((b for b in doc.blocks if b.kind != "heading"), None)
    sentence = _opener_sentence(doc)
    if first_block is None:
        return text
    if sentence is None:
        framing = _join(rng.choice(list(openers)), "This is the answer:", text)
        gap = _paragraph_gap(text)
        return f"{text[: first_block.start]}{framing}{gap}{text[first_block.start :]}"
    original = text[sentence.start : sentence.end]
    if known and re.match("|".join(phrase_regex(k) for k in known), original, re.IGNORECASE):
        return text
    pool = list(openers)
    if not _looks_declarative(original, text):
        pool = [o for o in openers if o.rstrip()[-1] in ",:"] or pool
    opener = rng.choice(pool)
    return _apply(text, [(sentence.start, sentence.end, _join(opener, original, text))])


def _looks_declarative(sentence: str, context: str) -> bool:
    """Whether a clause opener ("I think", "It is certain that") can precede the sentence.

    Sentences starting with a subject (a pronoun, a determiner, a name) qualify; those
    starting with an imperative or an interjection ("Use ...", "Yes, ...") do not.
    """
    match = _FIRST_WORD.match(sentence)
    if not match:
        return True
    word = match.group(2)
    return word.lower() in _SUBJECT_STARTS or not _should_lower(word, context)


def _assertive(text: str, rules: ProbeRules, rng: random.Random) -> str:
    markers = certainty_phrases(rules) + hedge_phrases(rules)
    text = _remove_hedges(text, rules)
    text = _add_opener(text, rules.certainty_openers, certainty_phrases(rules), rng)
    return _insert_adverb(text, rules.certainty_adverbs, markers, rng)


def _hedged(text: str, rules: ProbeRules, rng: random.Random) -> str:
    markers = certainty_phrases(rules) + hedge_phrases(rules)
    opened = _add_opener(text, rules.hedge_openers, hedge_phrases(rules), rng)
    if opened == text or rng.random() < 0.5:
        return _insert_adverb(opened, rules.hedge_adverbs, markers, rng)
    return opened
