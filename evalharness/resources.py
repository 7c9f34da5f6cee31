"""Shipped data files, the one rule for "a shipped name or a file path", and reading one.

Rubrics, judge templates, prompt sets, labeled pairs (with their NOTICE files) and probe rule
files ship inside the package, read through :mod:`importlib.resources`. The checkout keeps
``rubrics/`` and ``prompts/`` at the top level as the source; the wheel maps them to
``evalharness/_data/rubrics`` and ``evalharness/_data/prompts`` (pyproject.toml,
``force-include``). An editable install or a checkout on ``PYTHONPATH`` has no ``_data``
folder and reads the top-level folders instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from evalharness.errors import ConfigError, did_you_mean

_CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Kind:
    """A kind of shipped file: where it lives and how it is named in messages."""

    top: str  # "rubrics" | "prompts" | "rules"
    sub: str  # a folder below ``top`` ("" for none)
    suffixes: tuple[str, ...]  # tried in order after a shipped name
    name: str  # "rubric": "unknown rubric 'x'"
    file: str  # "rubric file": "x.yaml: rubric file not found"
    any_suffix_is_path: bool = False  # "x.csv" is a path even for a suffix not listed


KINDS: dict[str, Kind] = {
    "rubrics": Kind("rubrics", "", (".yaml",), "rubric", "rubric file"),
    "templates": Kind("rubrics", "templates", (".yaml",), "template", "template file"),
    "prompts": Kind("prompts", "", (".jsonl",), "prompt set", "prompt set file", True),
    "pairs": Kind("prompts", "pairs", (".json", ".jsonl"), "pair set", "pairs file"),
    "rules": Kind("rules", "", (".yaml",), "probe rules file", "probe rules file"),
}


def _top_dir(top: str) -> Path:
    if top == "rules":
        folder = resources.files("evalharness.text") / "rule_files"
    else:
        folder = resources.files("evalharness") / "_data" / top
        if not folder.is_dir():  # a checkout or an editable install: the source folders
            return _CHECKOUT / top
    if not isinstance(folder, Path):
        raise ConfigError(f"evalharness's data files must be on disk, not in {folder}")
    return folder


def shipped_dir(kind: str) -> Path:
    """The folder holding the shipped files of ``kind`` (a key of :data:`KINDS`)."""
    spec = KINDS[kind]
    folder = _top_dir(spec.top)
    return folder / spec.sub if spec.sub else folder


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped files of ``kind`` (file names without suffix), sorted."""
    spec = KINDS[kind]
    folder = shipped_dir(kind)
    return sorted({p.stem for p in folder.iterdir() if p.suffix in spec.suffixes})


def looks_like_path(text: str, kind: str) -> bool:
    """Whether ``text`` is meant as a file path rather than a shipped name."""
    spec = KINDS[kind]
    if "/" in text or "\\" in text:
        return True
    if spec.any_suffix_is_path:
        return bool(Path(text).suffix)
    return text.endswith((*spec.suffixes, ".yml"))


def resolve(name_or_path: str, kind: str) -> Path:
    """A shipped name ("helpfulness") or a file path, as a Path to an existing file.

    A bare name is looked up among the shipped files first, then as a file in the current
    directory. Raises ConfigError: "unknown rubric 'x' (did you mean ...)" for an unknown name,
    "x.yaml: rubric file not found" for a missing path.
    """
    spec = KINDS[kind]
    if not looks_like_path(name_or_path, kind):
        for suffix in spec.suffixes:
            shipped = shipped_dir(kind) / f"{name_or_path}{suffix}"
            if shipped.is_file():
                return shipped
        if not Path(name_or_path).is_file():
            raise ConfigError(
                f"unknown {spec.name} {name_or_path!r}"
                + did_you_mean(name_or_path, shipped_names(kind))
            )
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"{name_or_path}: {spec.file} not found")
    return path


def read_text(path: str | Path, what: str) -> str:
    """The text of a file the user named (a byte-order mark dropped).

    ``what`` names the kind of file in errors: "x.jsonl: prompt set not found",
    "x.jsonl: cannot read prompt set: <reason>" (no permission, not UTF-8, a folder).
    """
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from None
