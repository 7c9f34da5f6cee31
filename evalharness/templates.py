"""Judge prompt templates: versioned YAML with ``{name}`` fields, rendered to chat messages."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.config import RunConfig
from evalharness.errors import ConfigError
from evalharness.records import ORDERS, PairwiseRecord, PointwiseRecord
from evalharness.resources import resolve, shipped_dir, shipped_names
from evalharness.rubrics import Rubric, load_rubric
from evalharness.yamlio import duplicate_keys, read_yaml, yaml_line

TEMPLATES_DIR: Path = shipped_dir("templates")

_KEYS = ("id", "version", "system", "user", "answer_prefix", "choices")
_OPTIONAL_KEYS = ("choice_instruction",)
_TEXT_KEYS = ("system", "user")


def default_choice_instruction(answer_prefix: str) -> str:
    """The choice instruction of a template that names none, from its answer prefix."""
    label = answer_prefix.strip().rstrip(":").strip()
    what = f'your "{label}"' if label else "your answer"
    return f"Reply with {what} only: exactly one of {{choices}}, and nothing else."


def _fields(text: str, where: str) -> list[str]:
    """Return the field names of a format string; ConfigError for malformed or complex fields."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: bad template text: {exc} (write literal braces as {{{{ }}}})"
        ) from None
    names: list[str] = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise ConfigError(
                f"{where}: field {shown} must be a plain name such as {{instruction}} "
                "(write literal braces as {{ }})"
            )
        names.append(field)
    return names


@dataclass(frozen=True)
class PromptTemplate:
    """A judge (or rewriter) prompt: system and user text with fields, and the allowed answers."""

    id: str
    version: str
    system: str
    user: str
    answer_prefix: str
    choices: tuple[str, ...]
    path: str
    choice_instruction: str = ""
    """The line that asks for the bare choice (``{choices}`` lists them), for a judge whose
    backend cannot open the answer with ``answer_prefix`` (a chat server): appended to the
    last user message. Empty: :func:`default_choice_instruction` of the answer prefix."""

    @property
    def key(self) -> str:
        """Return the template's identity, ``id@version``."""
        return f"{self.id}@{self.version}"

    def choice_line(self) -> str:
        """The choice instruction with the choices filled in."""
        text = self.choice_instruction or default_choice_instruction(self.answer_prefix)
        return text.replace("{choices}", ", ".join(self.choices))

    def variables(self) -> set[str]:
        """Return the names of the fields used in the system and user text."""
        names: set[str] = set()
        for key in _TEXT_KEYS:
            names.update(_fields(getattr(self, key), f"{self.path}: {key}"))
        return names

    def render(self, **values: str) -> tuple[dict[str, str], ...]:
        """Fill in the fields and return the chat messages (system first, omitted if empty).

        Values are inserted verbatim; braces inside them are not interpreted. Extra values
        are ignored; a missing one raises ConfigError naming it and the template file.
        """
        check_template(self, set(values))
        messages: list[dict[str, str]] = []
        if self.system.strip():
            messages.append({"role": "system", "content": self.system.format_map(values)})
        messages.append({"role": "user", "content": self.user.format_map(values)})
        return tuple(messages)


def check_template(template: PromptTemplate, provided: set[str]) -> None:
    """Raise ConfigError naming every field the template uses that is not in ``provided``."""
    missing = sorted(template.variables() - provided)
    if missing:
        names = ", ".join("{" + name + "}" for name in missing)
        raise ConfigError(
            f"{template.path}: template {template.key} needs {names}, which the caller does not "
            f"provide (provided: {', '.join(sorted(provided)) or 'none'})"
        )


def template_names() -> list[str]:
    """Return the names of the shipped templates."""
    return shipped_names("templates")


def resolve_template(name_or_path: str) -> Path:
    """Map a shipped template name ("pointwise") or a file path to a Path."""
    return resolve(name_or_path, "templates")


def _validate(data: Any, path: Path, root: Any) -> None:
    """Raise ConfigError (file:line: field: problem) for the first schema problem found."""

    def fail(key: str | None, message: str) -> None:
        line = yaml_line(root, (key,) if key else ())
        where = f"{path}:{line}" if line is not None else str(path)
        raise ConfigError(f"{where}: {key + ': ' if key else ''}{message}")

    for line, key in duplicate_keys(root):
        raise ConfigError(f"{path}:{line}: duplicate key {key!r}")
    if not isinstance(data, dict):
        fail(None, "a template must be a mapping")
    for key in data:
        if key not in _KEYS + _OPTIONAL_KEYS:
            fail(key, f"unknown key {key!r} (allowed: {', '.join(_KEYS + _OPTIONAL_KEYS)})")
    for key in _KEYS:
        if key not in data:
            fail(None, f"missing field {key!r}")
    if not isinstance(data["id"], str) or not data["id"].strip():
        fail("id", "must be a non-empty string")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, str | int) or not str(version):
        fail("version", "must be a string or an integer")
    for key in ("system", "user", "answer_prefix", *_OPTIONAL_KEYS):
        if key in data and not isinstance(data[key], str):
            fail(key, f"must be a string, got {type(data[key]).__name__}")
    if "choice_instruction" in data and "{choices}" not in data["choice_instruction"]:
        fail("choice_instruction", "must contain {choices} (where the choices are listed)")
    if not data["user"].strip():
        fail("user", "must not be empty")
    choices = data["choices"]
    if not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices):
        fail("choices", "must be a list of non-empty strings")
    if len(set(choices)) != len(choices):
        fail("choices", "must not repeat a choice")
    for key in _TEXT_KEYS:
        _fields(data[key], f"{path}:{yaml_line(root, (key,))}: {key}")


def load_template(name_or_path: str) -> PromptTemplate:
    """Load and validate a template by shipped name or path; ConfigError on any problem."""
    path = resolve_template(name_or_path)
    data, root = read_yaml(path, "template file")
    _validate(data, path, root)
    return PromptTemplate(
        id=data["id"],
        version=str(data["version"]),
        system=data["system"],
        user=data["user"],
        answer_prefix=data["answer_prefix"],
        choices=tuple(data["choices"]),
        path=str(path),
        choice_instruction=data.get("choice_instruction", ""),
    )


@dataclass(frozen=True)
class JudgeSetup:
    """What a run is judged with, resolved once per command: the judge spec, the rubric,
    the two templates, the mode and the low-mass threshold.

    Every stage, the analysis and the views take this one object, so that the rubric and
    the templates are read from disk once, and the keys of the judgments it owns are built
    in one place.
    """

    spec: str
    rubric: Rubric
    pointwise: PromptTemplate
    pairwise: PromptTemplate
    mode: str = "logprobs"
    low_mass: float = 0.5
    judges_itself: tuple[str, ...] = ()  # the roles whose model is also the judge
    text_tokens: int = 24  # tokens written when a verdict is read as text

    @property
    def criteria(self) -> list[str]:
        """The rubric's criterion names, in order."""
        return [c.name for c in self.rubric.criteria]

    def template_for(self, record: PointwiseRecord | PairwiseRecord) -> str:
        """The template key a judgment of the record's kind is made with."""
        return self.pointwise.key if isinstance(record, PointwiseRecord) else self.pairwise.key

    def owns(self, record: PointwiseRecord | PairwiseRecord) -> bool:
        """Whether a judgment was made by this judge, rubric and template."""
        return (record.judge, record.rubric, record.template) == (
            self.spec,
            self.rubric.key,
            self.template_for(record),
        )

    def pointwise_keys(self, prompt_id: str, subject: str) -> set[tuple[Any, ...]]:
        """The keys of a subject's pointwise records, one per criterion."""
        base = self._key_base(prompt_id, self.pointwise) | {"subject": subject}
        return {PointwiseRecord.key_of(**base, criterion=name) for name in self.criteria}

    def pairwise_keys(self, prompt_id: str, comparison: str) -> set[tuple[Any, ...]]:
        """The keys of a comparison's pairwise records, one per order."""
        base = self._key_base(prompt_id, self.pairwise) | {"comparison": comparison}
        return {PairwiseRecord.key_of(**base, order=order) for order in ORDERS}

    def _key_base(self, prompt_id: str, template: PromptTemplate) -> dict[str, str]:
        return {
            "prompt_id": prompt_id,
            "judge": self.spec,
            "rubric": self.rubric.key,
            "template": template.key,
        }


def load_judge_setup(
    spec: str,
    rubric: str,
    pointwise: str = "pointwise",
    pairwise: str = "pairwise",
    *,
    mode: str = "logprobs",
    low_mass: float = 0.5,
    judges_itself: tuple[str, ...] = (),
    text_tokens: int = 24,
) -> JudgeSetup:
    """A judge setup from a rubric and two templates (shipped names or paths): the one place
    where a judging rubric and its templates are read from disk."""
    return JudgeSetup(
        spec=spec,
        rubric=load_rubric(rubric),
        pointwise=load_template(pointwise),
        pairwise=load_template(pairwise),
        mode=mode,
        low_mass=low_mass,
        judges_itself=judges_itself,
        text_tokens=text_tokens,
    )


def resolve_judge_setup(config: RunConfig) -> JudgeSetup:
    """The judge setup a run config names (resolve it once per command and hand it on)."""
    return load_judge_setup(
        config.judge,
        config.rubric,
        config.pointwise_template,
        config.pairwise_template,
        mode=config.judge_mode,
        low_mass=config.low_mass,
        judges_itself=tuple(
            role
            for role, spec in config.model_specs().items()
            if spec == config.judge
        ),
        text_tokens=config.text_mode_tokens,
    )
