"""Prompt sets from tables: CSV, Parquet, saved ``datasets`` folders and hub datasets.

:func:`load_prompt_set` reads any source: a shipped prompt set or a JSONL prompt-set file
(:mod:`evalharness.prompts`), or one of these (``--prompts``):

* ``FILE.csv`` (a header row), ``FILE.parquet`` (read with pyarrow);
* a folder written by ``datasets``' ``save_to_disk`` (one split; for a ``DatasetDict`` with
  several splits, point at the split's subfolder);
* ``hf:NAME[:SPLIT]`` or ``hf:NAME:CONFIG:SPLIT``: a Hugging Face hub dataset, downloaded only
  when hub access is allowed (``--allow-hub``);
* a JSONL file with ``--prompt-field`` (otherwise JSONL follows the prompt-set schema).

Columns: the prompt is ``--prompt-field``, else the first of :data:`PROMPT_COLUMNS` present.
Its value is text, a list of user turns (MT-Bench's ``turns``) or a list of chat messages
(``messages``: the models answer every user turn, turn by turn). ``id`` (or
``question_id``), ``category`` and ``reference`` (text, or one per turn) are read when present;
other columns are ignored. Rows without an id get ``<source name>-<row number>``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError, did_you_mean
from evalharness.jsonl import read_objects
from evalharness.prompts import (
    PromptItem,
    load_prompts,
    make_item,
    prompt_set_names,
    resolve_prompt_set,
)

PROMPT_COLUMNS = ("prompt", "instruction", "question", "input", "turns", "messages")
ID_COLUMNS = ("id", "question_id")
REFERENCE_COLUMNS = ("reference", "references", "reference_answer")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")

Row = tuple[str, dict[str, Any]]
"""Where a row came from (file:line or source:row) and its columns."""


def is_external(source: str, prompt_field: str | None) -> bool:
    """Whether ``source`` is read here (a table, a datasets folder, the hub) rather than as a
    JSONL prompt set."""
    if source.startswith("hf:"):
        return True
    if source in prompt_set_names():  # a shipped name wins over a folder of that name
        return False
    path = Path(source)
    if path.suffix.lower() in TABLE_SUFFIXES or path.is_dir():
        return True
    return prompt_field is not None and path.suffix.lower() == ".jsonl"


def load_prompt_set(
    source: str, prompt_field: str | None = None, allow_hub: bool | None = None
) -> list[PromptItem]:
    """Load a prompt set from any source: a shipped name, a JSONL, CSV or Parquet file, a
    saved ``datasets`` folder, or ``hf:NAME[:CONFIG]:SPLIT``.

    A JSONL file follows the prompt-set schema unless ``prompt_field`` names its prompt column.
    ``allow_hub`` lets an ``hf:`` set download (None: the environment's switch decides).
    """
    if is_external(source, prompt_field):
        return load(source, prompt_field, allow_hub)
    return load_prompts(resolve_prompt_set(source))


def load(
    source: str, prompt_field: str | None = None, allow_hub: bool | None = None
) -> list[PromptItem]:
    """Read every row of ``source`` into PromptItems; ConfigError naming source and row."""
    rows, name = _rows(source, allow_hub)
    rows = list(rows)
    if not rows:
        raise ConfigError(f"{source}: empty prompt set (no rows)")
    columns = list(rows[0][1])
    field = _prompt_column(source, columns, prompt_field)
    items: list[PromptItem] = []
    first: dict[str, str] = {}
    for index, (where, row) in enumerate(rows):
        item = _item(where, row, field, f"{name}-{index}")
        if item.id in first:
            raise ConfigError(f"{where}: duplicate id {item.id!r} (first at {first[item.id]})")
        first[item.id] = where
        items.append(item)
    return items


def _prompt_column(source: str, columns: list[str], prompt_field: str | None) -> str:
    if prompt_field is not None:
        if prompt_field not in columns:
            raise ConfigError(
                f"{source}: no column {prompt_field!r}{did_you_mean(prompt_field, columns)}"
            )
        return prompt_field
    for name in PROMPT_COLUMNS:
        if name in columns:
            return name
    raise ConfigError(
        f"{source}: no prompt column (looked for {', '.join(PROMPT_COLUMNS)}); pass "
        f"--prompt-field (columns: {', '.join(columns)})"
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _item(where: str, row: dict[str, Any], field: str, default_id: str) -> PromptItem:
    prompt = row.get(field)
    if _missing(prompt):
        raise ConfigError(f"{where}: empty prompt in column {field!r}")
    id_value = next((row[c] for c in ID_COLUMNS if not _missing(row.get(c))), default_id)
    if isinstance(id_value, float) and id_value.is_integer():
        id_value = int(id_value)
    category = row.get("category")
    reference = next((row[c] for c in REFERENCE_COLUMNS if not _missing(row.get(c))), None)
    return make_item(
        where,
        str(id_value),
        _plain(prompt),
        None if _missing(category) else str(category),
        _plain(reference),
    )


def _plain(value: Any) -> Any:
    """Lists and tuples from pyarrow/datasets (numpy arrays included) as Python lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rows(source: str, allow_hub: bool | None) -> tuple[Iterable[Row], str]:
    if source.startswith("hf:"):
        return _hub_rows(source[3:], allow_hub), source[3:].split(":")[0].rsplit("/", 1)[-1]
    path = Path(source)
    if path.is_dir():
        return _dataset_rows(_load_from_disk(path), str(path)), path.name
    if not path.is_file():
        raise ConfigError(f"{source}: prompt set file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path), path.stem
    if suffix in (".parquet", ".pq"):
        return _parquet_rows(path), path.stem
    rows = [(f"{path}:{line}", obj) for line, obj in read_objects(path, "prompt set")]
    return rows, path.stem


def _csv_rows(path: Path) -> list[Row]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [(f"{path}:{reader.line_num}", dict(row)) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read CSV: {exc}") from None
    for where, row in rows:
        if None in row:
            raise ConfigError(f"{where}: more values than header columns")
    return rows


def _parquet_rows(path: Path) -> list[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "reading Parquet needs pyarrow: pip install 'evalharness[datasets]'"
        ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ConfigError(f"{path}: cannot read Parquet: {exc}") from None
    return [(f"{path}:row {i}", row) for i, row in enumerate(table.to_pylist())]


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "datasets sources need the datasets package: pip install 'evalharness[datasets]'"
        ) from None
    datasets.disable_progress_bars()
    return datasets


def _load_from_disk(path: Path) -> Any:
    if not any((path / name).exists() for name in ("dataset_dict.json", "state.json")):
        raise ConfigError(
            f"{path}: not a saved datasets folder (no state.json or dataset_dict.json); "
            "write one with Dataset.save_to_disk, or pass a JSONL, CSV or Parquet file"
        )
    try:
        return _datasets().load_from_disk(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot load datasets folder: {exc}") from None


def _one_split(data: Any, where: str) -> Any:
    """A Dataset from a Dataset or a one-split DatasetDict."""
    if hasattr(data, "column_names") and isinstance(data.column_names, list):
        return data
    splits = list(data)
    if len(splits) != 1:
        raise ConfigError(
            f"{where}: several splits ({', '.join(splits)}): name one "
            "(hf:NAME:SPLIT, or the split's subfolder of a saved DatasetDict)"
        )
    return data[splits[0]]


def _dataset_rows(data: Any, where: str) -> list[Row]:
    dataset = _one_split(data, where)
    return [(f"{where}:row {i}", dict(row)) for i, row in enumerate(dataset)]


def _hub_rows(spec: str, allow_hub: bool | None) -> list[Row]:
    from evalharness.modelstore import HUB_ENV, hub_allowed

    parts = spec.split(":")
    if not parts[0] or len(parts) > 3:
        raise ConfigError(f"hf:{spec}: expected hf:NAME, hf:NAME:SPLIT or hf:NAME:CONFIG:SPLIT")
    name = parts[0]
    config = parts[1] if len(parts) == 3 else None
    split = parts[-1] if len(parts) > 1 else None
    if not hub_allowed(allow_hub):
        raise ConfigError(
            f"hf:{spec} is a hub dataset and hub downloads are off: pass --allow-hub or set "
            f"{HUB_ENV}=1 (a folder saved with save_to_disk loads without the hub)"
        )
    try:
        data = _datasets().load_dataset(name, config, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for a bad name
        raise ConfigError(f"hf:{spec}: cannot load: {type(exc).__name__}: {exc}") from None
    return _dataset_rows(data, f"hf:{spec}")
