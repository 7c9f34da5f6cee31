"""Probe rules: the editable data files behind the length and confidence rewriters.

The package ships ``rules/length.yaml`` and ``rules/confidence.yaml``. A user directory
holding either file replaces the shipped one; a file it lacks falls back to the shipped one.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evalharness.errors import ConfigError
from evalharness.resources import shipped_dir

PACKAGE_RULES_DIR = shipped_dir("rules")
LENGTH_FILE = "length.yaml"
CONFIDENCE_FILE = "confidence.yaml"

PhraseRule = tuple[str, str]
"""A phrase and its replacement (an empty replacement deletes the phrase)."""


@dataclass(frozen=True)
class ProbeRules:
    """Validated rule content for the length and confidence probes.

    ``length`` and ``confidence`` hold the normalized content of the two files (phrase
    entries as ``[phrase, replacement]`` pairs); ``source`` names the files they came from.
    """

    length: dict[str, Any]
    confidence: dict[str, Any]
    source: str

    def fingerprint(self) -> str:
        """SHA-256 of the canonical rule content (independent of file layout and comments)."""
        canonical = json.dumps(
            {"length": self.length, "confidence": self.confidence},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def restate(self) -> tuple[str, ...]:
        """Templates restating the question (``{instruction}`` / ``{topic}``)."""
        return tuple(self.length["restate"])

    @property
    def transitions(self) -> tuple[str, ...]:
        """Lead-in phrases placed before existing sentences."""
        return tuple(self.length["transitions"])

    @property
    def recap(self) -> tuple[str, ...]:
        """Templates repeating a sentence (``{sentence}`` / ``{first_sentence}``)."""
        return tuple(self.length["recap"])

    @property
    def target_ratio(self) -> tuple[float, float]:
        """Range the padded length target is drawn from, as a multiple of the original."""
        low, high = self.length["padding"]["target_ratio"]
        return float(low), float(high)

    @property
    def max_ratio(self) -> float:
        """Upper bound on padded length, as a multiple of the original."""
        return float(self.length["padding"]["max_ratio"])

    @property
    def keep_fraction(self) -> float:
        """Share of the words the shortened variant aims to keep."""
        return float(self.length["shorten"]["keep_fraction"])

    @property
    def drop_parentheticals(self) -> bool:
        """Whether single-sentence shortening drops ``(...)`` asides."""
        return bool(self.length["shorten"]["drop_parentheticals"])

    @property
    def filler(self) -> tuple[PhraseRule, ...]:
        """Filler phrases single-sentence shortening deletes or replaces."""
        return _pairs(self.length["shorten"]["filler"])

    @property
    def hedges(self) -> tuple[PhraseRule, ...]:
        """Hedge phrases the assertive variant deletes or replaces."""
        return _pairs(self.confidence["hedges"])

    @property
    def certainty_openers(self) -> tuple[str, ...]:
        """Openers that make a sentence sound certain."""
        return tuple(self.confidence["certainty_openers"])

    @property
    def certainty_adverbs(self) -> tuple[str, ...]:
        """Adverbs that make a claim sound certain."""
        return tuple(self.confidence["certainty_adverbs"])

    @property
    def hedge_openers(self) -> tuple[str, ...]:
        """Openers that make a sentence sound unsure."""
        return tuple(self.confidence["hedge_openers"])

    @property
    def hedge_adverbs(self) -> tuple[str, ...]:
        """Adverbs that make a claim sound unsure."""
        return tuple(self.confidence["hedge_adverbs"])

    @property
    def neutral_fillers(self) -> tuple[str, ...]:
        """Content-free lead-ins that even out the lengths of the confidence variants."""
        return tuple(self.confidence.get("neutral_fillers", DEFAULT_NEUTRAL_FILLERS))


def load_rules(directory: str | Path | None = None) -> ProbeRules:
    """Load and validate the probe rules.

    ``None`` loads the shipped rules. A directory replaces each shipped file it contains;
    it must exist and hold at least one of ``length.yaml`` and ``confidence.yaml``.
    Malformed content raises :class:`ConfigError` naming the file and key.
    """
    length_path = PACKAGE_RULES_DIR / LENGTH_FILE
    confidence_path = PACKAGE_RULES_DIR / CONFIDENCE_FILE
    if directory is not None:
        user_dir = Path(directory)
        if not user_dir.is_dir():
            raise ConfigError(f"probe rules directory {user_dir} does not exist")
        user_length, user_confidence = user_dir / LENGTH_FILE, user_dir / CONFIDENCE_FILE
        if not user_length.is_file() and not user_confidence.is_file():
            raise ConfigError(
                f"probe rules directory {user_dir} holds neither {LENGTH_FILE} "
                f"nor {CONFIDENCE_FILE}"
            )
        if user_length.is_file():
            length_path = user_length
        if user_confidence.is_file():
            confidence_path = user_confidence
    length = _validate_length(_read_mapping(length_path), length_path)
    confidence = _validate_confidence(_read_mapping(confidence_path), confidence_path)
    return ProbeRules(
        length=length, confidence=confidence, source=f"{length_path}, {confidence_path}"
    )


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read probe rules file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"probe rules file {path}{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"probe rules file {path}: expected a mapping of keys at the top level")
    return data


def _check_keys(data: dict[str, Any], allowed: tuple[str, ...], path: Path, where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"probe rules file {path}: unknown key {(where + key)!r} "
                f"(valid keys: {', '.join(allowed)})"
            )
    for key in allowed:
        if key not in data:
            raise ConfigError(f"probe rules file {path}: missing key {(where + key)!r}")


def _string_list(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"probe rules file {path}: key {key!r} must be a non-empty list")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(
                f"probe rules file {path}: key {key!r} item {index + 1} must be a non-empty string"
            )
        out.append(item.strip())
    return out


def _phrase_list(value: Any, path: Path, key: str) -> list[list[str]]:
    """Entries are ``"phrase"`` or ``{"phrase": "replacement"}``; normalized to pairs."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"probe rules file {path}: key {key!r} must be a non-empty list")
    out: list[list[str]] = []
    for index, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append([item.strip(), ""])
            continue
        if (
            isinstance(item, dict)
            and len(item) == 1
            and all(isinstance(k, str) and isinstance(v, str) for k, v in item.items())
            and next(iter(item)).strip()
        ):
            ((phrase, replacement),) = item.items()
            out.append([phrase.strip(), replacement.strip()])
            continue
        raise ConfigError(
            f"probe rules file {path}: key {key!r} item {index + 1} must be a phrase "
            "or a one-entry mapping {phrase: replacement}"
        )
    return out


def _templates(value: Any, path: Path, key: str, allowed: set[str]) -> list[str]:
    """Template strings whose variables are all in ``allowed`` and include at least one."""
    templates = _string_list(value, path, key)
    for index, template in enumerate(templates):
        try:
            fields = string.Formatter().parse(template)
            names = {name for _, name, _, _ in fields if name is not None}
        except ValueError as exc:
            raise ConfigError(
                f"probe rules file {path}: key {key!r} item {index + 1}: {exc}"
            ) from exc
        unknown = names - allowed
        if unknown or not names:
            wanted = " or ".join("{" + name + "}" for name in sorted(allowed))
            problem = f"unknown variable {{{sorted(unknown)[0]}}}" if unknown else "no variable"
            raise ConfigError(
                f"probe rules file {path}: key {key!r} item {index + 1} has {problem}; use {wanted}"
            )
    return templates


def _number(value: Any, path: Path, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(
            f"probe rules file {path}: key {key!r} must be a number in [{low}, {high}]"
        )
    return float(value)


def _validate_length(data: dict[str, Any], path: Path) -> dict[str, Any]:
    _check_keys(data, ("restate", "transitions", "recap", "padding", "shorten"), path, "")
    padding, shorten = data["padding"], data["shorten"]
    if not isinstance(padding, dict):
        raise ConfigError(f"probe rules file {path}: key 'padding' must be a mapping")
    if not isinstance(shorten, dict):
        raise ConfigError(f"probe rules file {path}: key 'shorten' must be a mapping")
    _check_keys(padding, ("target_ratio", "max_ratio"), path, "padding.")
    _check_keys(shorten, ("keep_fraction", "drop_parentheticals", "filler"), path, "shorten.")
    ratio = padding["target_ratio"]
    if not isinstance(ratio, list) or len(ratio) != 2:
        raise ConfigError(
            f"probe rules file {path}: key 'padding.target_ratio' must be a list [low, high]"
        )
    low = _number(ratio[0], path, "padding.target_ratio", 1.0, 10.0)
    high = _number(ratio[1], path, "padding.target_ratio", low, 10.0)
    max_ratio = _number(padding["max_ratio"], path, "padding.max_ratio", high, 10.0)
    if not isinstance(shorten["drop_parentheticals"], bool):
        raise ConfigError(
            f"probe rules file {path}: key 'shorten.drop_parentheticals' must be true or false"
        )
    transitions = _string_list(data["transitions"], path, "transitions")
    for index, transition in enumerate(transitions):
        if "{" in transition or "}" in transition:
            raise ConfigError(
                f"probe rules file {path}: key 'transitions' item {index + 1} "
                "must not contain variables"
            )
    return {
        "restate": _templates(data["restate"], path, "restate", {"instruction", "topic"}),
        "transitions": transitions,
        "recap": _templates(data["recap"], path, "recap", {"sentence", "first_sentence"}),
        "padding": {"target_ratio": [low, high], "max_ratio": max_ratio},
        "shorten": {
            "keep_fraction": _number(
                shorten["keep_fraction"], path, "shorten.keep_fraction", 0.05, 0.95
            ),
            "drop_parentheticals": shorten["drop_parentheticals"],
            "filler": _phrase_list(shorten["filler"], path, "shorten.filler"),
        },
    }


# Lead-ins that carry no content and no confidence, used to give the assertive and hedged
# variants of an answer the same number of words (a file may leave the key out).
DEFAULT_NEUTRAL_FILLERS = (
    "Here,", "Now,", "Overall,", "In short,", "In brief,", "Put simply,",
    "In other words,", "On this point,", "To put it simply,", "To put it another way,",
)  # fmt: skip


def _validate_confidence(data: dict[str, Any], path: Path) -> dict[str, Any]:
    keys = (
        "hedges", "certainty_openers", "certainty_adverbs", "hedge_openers", "hedge_adverbs",
        "neutral_fillers",
    )  # fmt: skip
    data = {"neutral_fillers": list(DEFAULT_NEUTRAL_FILLERS), **data}
    _check_keys(data, keys, path, "")
    readers: dict[str, Callable[[Any, Path, str], Any]] = {
        "hedges": _phrase_list,
        "certainty_openers": _string_list,
        "certainty_adverbs": _string_list,
        "hedge_openers": _string_list,
        "hedge_adverbs": _string_list,
        "neutral_fillers": _string_list,
    }
    return {key: readers[key](data[key], path, key) for key in keys}


def _pairs(entries: list[list[str]]) -> tuple[PhraseRule, ...]:
    return tuple((phrase, replacement) for phrase, replacement in entries)
