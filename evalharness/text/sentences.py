"""Sentences: where they end (abbreviations and inline code respected) and how they start.

:func:`sentence_spans` finds the sentences of one paragraph or list item. The casing helpers
change a sentence's first word when a lead-in goes before it: "Use a list." after "Here,"
becomes "Here, use a list.", while names, acronyms and "I" keep their capital.
"""

from __future__ import annotations

import re

from evalharness.text.markers import inline_code_spans, phrase_regex

_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_SENTENCE_START = re.compile(r"[A-Z0-9\"'“‘(\[*_`#]")
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\w+",
        "dr mr mrs ms prof sr jr st vs al fig figs approx cf inc ltd co corp dept est vol eq eqs "
        "sec ch pp mt gen col lt sgt rev ave blvd jan feb mar apr jun jul aug sep sept oct nov dec",
    )
)

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
FIRST_WORD = re.compile(r"([*_\"“‘(\[]*)([A-Za-z][\w'’\-]*)")
"""The first word of a sentence (group 2), after any opening marks (group 1)."""
_FIRST_LETTER = re.compile(r"[*_\"“‘(\[]*([^\W\d_])")


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text[start:end]`` (one paragraph or list item).

    A sentence ends at ``.``, ``!`` or ``?`` (closing quotes and brackets included) followed
    by a capital, a digit or an opening mark; not inside inline code, not after a known
    abbreviation ("Dr.", "e.g.").
    """
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


def should_lower(word: str, context: str) -> bool:
    """Whether a capitalized first ``word`` may go lower-case after a lead-in.

    Common sentence starters may; so may a word that ``context`` also holds lower-case.
    Names, acronyms and "I" may not.
    """
    if not word[0].isupper() or word[1:] != word[1:].lower():
        return False
    if re.split(r"['’]", word)[0] == "I":
        return False
    lowered = word.lower()
    if lowered in _COMMON_STARTS:
        return True
    return re.search(phrase_regex(lowered), context) is not None


def lower_first(sentence: str, context: str) -> str:
    """``sentence`` with its first word lower-cased where :func:`should_lower` allows."""
    match = FIRST_WORD.match(sentence)
    if not match or not should_lower(match.group(2), context):
        return sentence
    at = match.start(2)
    return sentence[:at] + sentence[at].lower() + sentence[at + 1 :]


def upper_first(sentence: str) -> str:
    """``sentence`` with its first letter (after any opening marks) upper-cased."""
    match = _FIRST_LETTER.match(sentence)
    if not match:
        return sentence
    at = match.start(1)
    return sentence[:at] + sentence[at].upper() + sentence[at + 1 :]


def recase(original: str, edited: str) -> str:
    """``edited`` starting with a capital when ``original`` did."""
    first = _FIRST_LETTER.match(original)
    if first and first.group(1).isupper():
        return upper_first(edited)
    return edited


def join(prefix: str, sentence: str, context: str) -> str:
    """``prefix`` followed by ``sentence``, lower-casing its first word after a lead-in."""
    prefix = prefix.strip()
    if prefix[-1] in ".:!?":
        return f"{prefix} {sentence}"
    return f"{prefix} {lower_first(sentence, context)}"


def looks_declarative(sentence: str, context: str) -> bool:
    """Whether a clause opener ("I think", "It is certain that") can precede the sentence.

    Sentences starting with a subject (a pronoun, a determiner, a name) qualify; those
    starting with an imperative or an interjection ("Use ...", "Yes, ...") do not.
    """
    match = FIRST_WORD.match(sentence)
    if not match:
        return True
    word = match.group(2)
    return word.lower() in _SUBJECT_STARTS or not should_lower(word, context)
