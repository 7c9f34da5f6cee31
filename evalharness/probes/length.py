"""The length rewriter: ``padded`` (about twice the words) and ``shortened`` (a prefix).

* ``padded``: a restatement of the question, lead-ins before existing sentences and a recap
  that repeats sentences of the response. Original sentences stay in order and verbatim,
  except that a sentence after a lead-in may start lower-case.
* ``shortened``: the leading sentences (list items, code blocks) holding about
  ``keep_fraction`` of the words, a prefix of the original text. A single sentence loses its
  parenthetical asides and filler phrases instead, or stays as it is.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence

from evalharness.probes.base import variant_rng
from evalharness.text.edit import apply, mask, remove_phrases, tidy, unmask
from evalharness.text.markdown import Doc, Sentence, append_paragraph, paragraph_gap, parse
from evalharness.text.markers import word_count
from evalharness.text.rules import ProbeRules
from evalharness.text.sentences import FIRST_WORD, join, lower_first, recase, upper_first

_PARENTHETICAL = re.compile(r"[ \t]+\([^()\n]*\)")


class LengthRewriter:
    """Longer and shorter versions of a response with the same content."""

    kinds: tuple[str, ...] = ("padded", "shortened")

    def rewrite(
        self, kind: str, response: str, instruction: str, rules: ProbeRules, seed: int, key: str
    ) -> str:
        """The ``padded`` or ``shortened`` variant of ``response``."""
        if kind == "padded":
            return padded(response, instruction, rules, variant_rng(seed, key, kind))
        return shortened(response, rules)


def _cycle(items: Sequence[str], rng: random.Random) -> Iterator[str]:
    """Items in a shuffled order, reshuffled each time they run out."""
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


# --------------------------------------------------------------------------- padded


def padded(text: str, instruction: str, rules: ProbeRules, rng: random.Random) -> str:
    """``text`` grown towards ``rules.target_ratio`` times its words, never past ``max_ratio``."""
    words = word_count(text)
    if words == 0:
        return text
    doc = parse(text)
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
    chosen: list[tuple[Sentence, str]] = []
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

    edits = [(s.start, s.end, join(lead, text[s.start : s.end], text)) for s, lead in chosen]
    body = apply(text, edits)
    gap = paragraph_gap(text)
    if parts:
        body = append_paragraph(body, " ".join(parts), gap)
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


def _transition_gaps(doc: Doc) -> list[Sentence]:
    gaps = []
    for index, sentence in enumerate(doc.sentences):
        if index == 0 or doc.block_of(sentence).kind != "paragraph":
            continue
        previous = doc.sentences[index - 1]
        if previous.block == sentence.block and doc.text[previous.start : previous.end].endswith(
            ":"
        ):
            continue
        if FIRST_WORD.match(doc.text, sentence.start) is None:
            continue
        gaps.append(sentence)
    return gaps


def _recap_sources(doc: Doc) -> list[str]:
    sources = []
    for sentence in doc.sentences:
        flat = " ".join(doc.text[sentence.start : sentence.end].split())
        if word_count(flat) < 4 or flat.endswith((":", "?")):
            continue
        if not re.search(r"[.!][\"'”’)\]]*$", flat):
            flat += "."
        sources.append(upper_first(flat))
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
            sentence = lower_first(sentence, first_sentence + " " + sentence)
            first_sentence = lower_first(first_sentence, first_sentence)
        return template.format(sentence=sentence, first_sentence=first_sentence)
    return ""


# --------------------------------------------------------------------------- shortened


def shortened(text: str, rules: ProbeRules) -> str:
    """The prefix of ``text`` closest to ``rules.keep_fraction`` of its words."""
    total = word_count(text)
    doc = parse(text)
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


def _units(doc: Doc) -> list[tuple[int, int, str]]:
    """Shortening units in order: paragraph sentences, and whole items, code blocks, etc."""
    units: list[tuple[int, int, str]] = []
    for index, block in enumerate(doc.blocks):
        if block.kind == "paragraph":
            units.extend((s.start, s.end, "sentence") for s in doc.sentences if s.block == index)
        else:
            units.append((block.start, block.end, block.kind))
    return units


def _trim_single(text: str, doc: Doc, rules: ProbeRules) -> str:
    if not doc.sentences:
        return text
    edits = []
    for sentence in doc.sentences:
        original = text[sentence.start : sentence.end]
        masked, codes = mask(text, sentence.start, sentence.end)
        trimmed = remove_phrases(masked, rules.filler)
        if rules.drop_parentheticals:
            trimmed = _PARENTHETICAL.sub("", trimmed)
        trimmed = unmask(tidy(trimmed), codes)
        if trimmed != original and word_count(trimmed) > 0:
            edits.append((sentence.start, sentence.end, recase(original, trimmed)))
    return apply(text, edits)
