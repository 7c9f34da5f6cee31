"""``evalharness export``: a run's records as tidy tables for pandas, R or a spreadsheet.

One table per record type (generations, pointwise, pairwise, probes, and labels when the run
has ``labels.jsonl``), one row per record, in CSV, Parquet or JSONL. Columns are the record's
fields in order; a probability dict becomes one ``prob_<choice>`` column per choice
(``prob_1`` .. ``prob_5``, ``prob_A``, ``prob_B``) and other dicts and lists (``params``,
``history``) JSON text columns. The columns are documented in docs/analysis-schema.md;
:func:`read_records` reads a table back into the records it came from.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evalharness.errors import ConfigError
from evalharness.records import (
    GenerationRecord,
    PairwiseRecord,
    PointwiseRecord,
    ProbeRecord,
    Record,
)
from evalharness.runstore import RunStore

FORMATS = ("csv", "parquet", "jsonl")
TABLES: dict[str, type[Record]] = {
    "generations": GenerationRecord,
    "pointwise": PointwiseRecord,
    "pairwise": PairwiseRecord,
    "probes": ProbeRecord,
}
LABELS = "labels"
LABELS_FILE = "labels.jsonl"
PROB_FIELD = "probs"
PROB_PREFIX = "prob_"
# the choices of an empty table, so that its columns are those of a full one
DEFAULT_CHOICES = {PointwiseRecord: ["1", "2", "3", "4", "5"], PairwiseRecord: ["A", "B"]}
_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _arrow_type(annotation: Any) -> pa.DataType | None:
    """The Arrow type of a scalar field (``X`` or ``X | None``); None for a dict field."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in args if a is not type(None))
    return _SCALARS.get(annotation)


def _choice_key(choice: str) -> tuple[bool, int, str]:
    return (not choice.isdigit(), int(choice) if choice.isdigit() else 0, choice)


def schema_for(cls: type[Record], choices: list[str]) -> pa.Schema:
    """The columns of a record type's table; ``choices`` name its ``prob_`` columns."""
    hints = typing.get_type_hints(cls)
    columns = []
    for f in fields(cls):
        arrow = _arrow_type(hints[f.name])
        if f.name == PROB_FIELD:
            columns += [pa.field(PROB_PREFIX + c, pa.float64()) for c in choices]
        elif arrow is None:
            columns.append(pa.field(f.name, pa.string()))  # a dict as JSON text
        else:
            columns.append(pa.field(f.name, arrow))
    return pa.schema(columns)


def records_table(cls: type[Record], records: list[Record]) -> pa.Table:
    """A tidy table of records: one row each, dicts spread into columns or JSON text."""
    choices = sorted(
        {c for r in records for c in getattr(r, PROB_FIELD, {})}, key=_choice_key
    ) or DEFAULT_CHOICES.get(cls, [])
    schema = schema_for(cls, choices)
    rows = []
    for record in records:
        row: dict[str, Any] = {}
        for name, value in record.to_dict().items():
            if name == PROB_FIELD:
                row.update({PROB_PREFIX + c: value.get(c) for c in choices})
            elif isinstance(value, dict | list):
                row[name] = json.dumps(value, ensure_ascii=False, sort_keys=True)
            else:
                row[name] = value
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def table_records(cls: type[Record], table: pa.Table) -> list[Record]:
    """The records a table was made from (the inverse of :func:`records_table`)."""
    hints = typing.get_type_hints(cls)
    dict_fields = {f.name for f in fields(cls) if _arrow_type(hints[f.name]) is None}
    out = []
    for row in table.to_pylist():
        data: dict[str, Any] = {}
        probs: dict[str, float] = {}
        for name, value in row.items():
            if name.startswith(PROB_PREFIX) and PROB_FIELD in dict_fields:
                if value is not None:
                    probs[name[len(PROB_PREFIX) :]] = value
            elif name in dict_fields:
                data[name] = json.loads(value) if value is not None else None
            else:
                data[name] = value
        if PROB_FIELD in dict_fields:
            data[PROB_FIELD] = probs
        out.append(cls.from_dict(data))
    return out


def labels_table(run_dir: Path) -> pa.Table | None:
    """labels.jsonl as a table (its fields as columns, lists and objects as JSON text)."""
    path = run_dir / LABELS_FILE
    if not path.is_file():
        return None
    rows = []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # a line cut short by a kill is not a label yet
    try:
        text = complete.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    # "\n" only, as every record file: U+2028, U+2029 and U+0085 are text inside a value
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: not a JSON object")
        rows.append(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.table({name: _column([row.get(name) for row in rows]) for name in names})


def _column(values: list[Any]) -> pa.Array:
    """An Arrow column of JSON values; values of different types become text."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.array(values, pa.string())
    if len(kinds) <= 1 or kinds == {int, float}:
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_table(table: pa.Table, path: Path, fmt: str) -> None:
    """Write a table in a format, atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        if fmt == "parquet":
            pq.write_table(table, tmp)
        elif fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as handle:
                for row in table.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def table_header(path: Path) -> list[str]:
    """The column names of an exported table."""
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    return list(json.loads(first)) if first.strip() else []


def read_table(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """Read an exported table; CSV and JSONL take their column types from ``schema``."""
    fmt = path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"{path}: not an exported table (.csv, .parquet or .jsonl)")
    if fmt == "parquet":
        return pq.read_table(path)
    header = table_header(path)
    if fmt == "csv":
        types_ = {n: schema.field(n).type for n in header if schema and n in schema.names}
        return pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types_, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
    lines = path.read_text(encoding="utf-8").split("\n")  # as written: one row per "\n"
    rows = [json.loads(line) for line in lines if line]
    if schema is None:
        return pa.Table.from_pylist(rows)
    return pa.Table.from_pylist(rows, schema=pa.schema([schema.field(n) for n in header]))


def read_records(path: str | Path, cls: type[Record]) -> list[Record]:
    """Read an exported table of record type ``cls`` back into records."""
    path = Path(path)
    choices = [n[len(PROB_PREFIX) :] for n in table_header(path) if n.startswith(PROB_PREFIX)]
    schema = schema_for(cls, choices or DEFAULT_CHOICES.get(cls, []))
    return table_records(cls, read_table(path, schema))


def export_run(run_dir: str | Path, fmt: str, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write one table per record type of a run; returns table name -> file."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (valid: {', '.join(FORMATS)})")
    store = RunStore(run_dir)
    if not store.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no manifest.json)")
    target = Path(out_dir) if out_dir is not None else store.dir / "export"
    tables = {name: records_table(cls, list(store.read(cls))) for name, cls in TABLES.items()}
    labels = labels_table(store.dir)
    if labels is not None:
        tables[LABELS] = labels
    paths = {}
    for name, table in tables.items():
        paths[name] = target / f"{name}.{fmt}"
        write_table(table, paths[name], fmt)
    return paths
