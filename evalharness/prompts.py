"""Prompt sets: JSONL files of instructions to send to the models under test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError
from evalharness.jsonl import read_objects
from evalharness.resources import resolve, shipped_dir, shipped_names

PROMPTS_DIR: Path = shipped_dir("prompts")

_KEYS = ("id", "prompt", "turns", "messages", "category", "reference", "references")
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class PromptItem:
    """One prompt of a prompt set, with an optional category and reference answer.

    A multi-turn conversation has ``turns`` (every user turn, ``prompt`` is the first) and
    per-turn ``references``; the models answer it turn by turn. ``system`` is the
    conversation's own system message, if it has one.
    """

    id: str
    prompt: str
    category: str | None = None
    reference: str | None = None
    turns: tuple[str, ...] = ()
    references: tuple[str | None, ...] = ()
    system: str | None = None

    @property
    def turn_count(self) -> int:
        """Number of user turns (1 for a single prompt)."""
        return max(1, len(self.turns))

    def reference_for(self, turn: int) -> str | None:
        """The reference answer of turn ``turn`` (1-based), if any."""
        if self.references:
            return self.references[turn - 1] if turn <= len(self.references) else None
        return self.reference if turn == 1 else None


def conversation(value: Any, where: str) -> tuple[tuple[str, ...], str | None]:
    """User turns and the system message of a ``messages`` list (assistant messages in the
    data are not used: the models answer every user turn themselves)."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: messages must be a non-empty list of {{role, content}}")
    turns, system = [], None
    for n, message in enumerate(value):
        if (
            not isinstance(message, dict)
            or message.get("role") not in _ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise ConfigError(
                f"{where}: messages[{n}] must be {{role: system|user|assistant, content: text}}"
            )
        if message["role"] == "system":
            if n:
                raise ConfigError(f"{where}: messages[{n}]: a system message must come first")
            system = message["content"]
        elif message["role"] == "user":
            turns.append(message["content"])
    if not turns:
        raise ConfigError(f"{where}: messages hold no user message")
    return tuple(turns), system


def make_item(
    where: str,
    id: str,
    prompt: Any,
    category: str | None = None,
    reference: Any = None,
) -> PromptItem:
    """A PromptItem from a prompt (text, list of user turns, or messages) and a reference
    (text, or one per turn); ConfigError naming ``where`` for anything else."""
    system = None
    if isinstance(prompt, str):
        turns: tuple[str, ...] = (prompt,)
    elif isinstance(prompt, list) and prompt and all(isinstance(t, dict) for t in prompt):
        turns, system = conversation(prompt, where)
    elif isinstance(prompt, list | tuple) and prompt and all(isinstance(t, str) for t in prompt):
        turns = tuple(prompt)
    else:
        raise ConfigError(
            f"{where}: the prompt must be text, a list of user turns or a list of messages, "
            f"got {type(prompt).__name__}"
        )
    if any(not t.strip() for t in turns):
        raise ConfigError(f"{where}: empty prompt for id {id!r}")
    references: tuple[str | None, ...] = ()
    if isinstance(reference, list | tuple):
        if not all(r is None or isinstance(r, str) for r in reference):
            raise ConfigError(f"{where}: references must be strings")
        references = tuple(reference)
        reference = references[0] if references else None
    elif reference is not None and not isinstance(reference, str):
        raise ConfigError(
            f"{where}: field 'reference' must be a string, got {type(reference).__name__}"
        )
    return PromptItem(
        id=id,
        prompt=turns[0],
        category=category,
        reference=reference,
        turns=turns if len(turns) > 1 else (),
        references=references if len(turns) > 1 else (),
        system=system,
    )


def _prompt_item(obj: dict[str, Any], where: str) -> PromptItem:
    """Validate one row of a JSONL prompt set and build its PromptItem."""
    for key in obj:
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(_KEYS)})")
    if "id" not in obj:
        raise ConfigError(f"{where}: missing field 'id'")
    given = [k for k in ("prompt", "turns", "messages") if k in obj]
    if not given:
        raise ConfigError(f"{where}: missing field 'prompt'")
    if len(given) > 1:
        raise ConfigError(f"{where}: give one of prompt, turns and messages, not {given}")
    for key in ("id", "category") if "prompt" not in obj else ("id", "prompt", "category"):
        value = obj.get(key)
        if key == "category" and value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(
                f"{where}: field {key!r} must be a string, got {type(value).__name__}"
            )
    if not obj["id"].strip():
        raise ConfigError(f"{where}: empty id")
    if "turns" in obj and (
        not isinstance(obj["turns"], list)
        or not obj["turns"]
        or not all(isinstance(t, str) for t in obj["turns"])
    ):
        raise ConfigError(f"{where}: turns must be a non-empty list of strings")
    if "reference" in obj and "references" in obj:
        raise ConfigError(f"{where}: give reference or references, not both")
    return make_item(
        where,
        obj["id"],
        obj[given[0]],
        obj.get("category"),
        obj["references"] if "references" in obj else obj.get("reference"),
    )


def load_prompts(path: str | Path) -> list[PromptItem]:
    """Load and validate a JSONL prompt set; raises ConfigError naming file and line."""
    items: list[PromptItem] = []
    first_line: dict[str, int] = {}
    for lineno, obj in read_objects(path, "prompt set"):
        where = f"{path}:{lineno}"
        item = _prompt_item(obj, where)
        if item.id in first_line:
            raise ConfigError(
                f"{where}: duplicate id {item.id!r} (first used on line {first_line[item.id]})"
            )
        first_line[item.id] = lineno
        items.append(item)
    return items


def prompt_set_names() -> list[str]:
    """Return the names of the shipped prompt sets."""
    return shipped_names("prompts")


def resolve_prompt_set(name_or_path: str) -> Path:
    """Map a shipped prompt-set name ("default", "mt_bench") or a file path to a Path.

    Raises ConfigError for a path that does not exist or an unknown name.
    """
    return resolve(name_or_path, "prompts")
