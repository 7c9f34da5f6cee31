"""YAML files read for people: safe parsing, the line of an entry, repeated keys.

The ground floor under rubrics, templates and run configs, so each reports a problem as
``file:line: what``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from evalharness.errors import ConfigError
from evalharness.resources import read_text

Key = str | int
"""A step into a YAML tree: a mapping key or a list index."""


def read_yaml(path: str | Path, what: str) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file safely, returning (data, node tree) for locating problems by line.

    Raises ConfigError naming the file (and line, for syntax errors) if the file is missing,
    unreadable or not valid YAML.
    """
    path = Path(path)
    text = read_text(path, what)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return data, node


def yaml_line(root: yaml.Node | None, keys: tuple[Key, ...]) -> int | None:
    """Return the 1-based line of the entry at ``keys`` (or of its deepest existing parent).

    For a mapping entry this is the line of its key, for a list item the line of the item.
    """
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(key):
                    child, line = value_node, key_node.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(key, int)
            and 0 <= key < len(node.value)
        ):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def duplicate_keys(root: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """Yield (line, key) for every mapping key repeated within the same mapping."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        yield key_node.start_mark.line + 1, key_node.value
                    seen.add(key_node.value)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
