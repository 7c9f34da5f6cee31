"""``evalharness export``: one tidy table per record type that reads back into the records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from viewrun import PAYLOAD, make_run

from evalharness.commands.main import cli
from evalharness.export import FORMATS, TABLES, read_records, read_table, schema_for
from evalharness.records import PointwiseRecord
from evalharness.runstore import RunStore

DOC = Path(__file__).resolve().parents[1] / "docs" / "analysis-schema.md"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("export") / "r"
    make_run(run_dir, 30)
    (run_dir / "labels.jsonl").write_text(
        "".join(
            line + "\n"
            for line in (run_dir / "labels.jsonl").read_text().splitlines()
            if line.startswith("{") and line.endswith("}")
        )
    )
    store = RunStore(run_dir)
    odd = store.read(PointwiseRecord)[0]
    odd.prompt_id, odd.raw_text, odd.error = 'odd,"id"\nline ✓\u2028\x85', "", None  # "": not null
    store.append([odd])
    return run_dir


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_round_trips_every_record(run_dir: Path, fmt: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(run_dir), "--format", fmt, "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    store = RunStore(run_dir)
    for name, cls in TABLES.items():
        original = store.read(cls)
        assert original, name
        if name == "generations":
            assert any(r.history for r in original) and any(r.history is None for r in original)
        assert read_records(tmp_path / f"{name}.{fmt}", cls) == original, name
    lines = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
    names = list(dict.fromkeys(k for row in lines for k in row))
    labels = [{k: row.get(k) for k in names} for row in lines]
    for row in labels:
        if row["shown_order"] is not None:
            row["shown_order"] = json.dumps(row["shown_order"])
    back = read_table(tmp_path / f"labels.{fmt}").to_pylist()
    assert back == labels


def test_empty_strings_and_nulls_stay_apart_in_csv(run_dir: Path, tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["export", str(run_dir), "--format", "csv", "--out", str(tmp_path)])
    back = read_records(tmp_path / "pointwise.csv", PointwiseRecord)
    odd = [r for r in back if r.prompt_id.startswith("odd")]
    assert odd[0].raw_text == "" and back[0].raw_text is None
    failed = [r for r in back if r.error]
    assert failed and all(r.probs == {} and r.expected is None for r in failed)
    assert any(PAYLOAD in (r.raw_text or "") for r in failed)


def test_pandas_reads_the_tables_with_the_documented_columns(run_dir: Path, tmp_path: Path) -> None:
    documented = documented_columns()
    for fmt, reader in (("parquet", pd.read_parquet), ("csv", pd.read_csv), ("jsonl", read_jsonl)):
        out = tmp_path / fmt
        CliRunner().invoke(cli, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
        for name, cls in TABLES.items():
            frame = reader(out / f"{name}.{fmt}")
            assert list(frame.columns) == documented[name], (fmt, name)
            assert len(frame) == len(RunStore(run_dir).read(cls))
    frame = pd.read_parquet(tmp_path / "parquet" / "pointwise.parquet")
    assert frame["prob_3"].dtype == "float64" and frame["low_mass"].dtype == bool
    sums = frame[[f"prob_{k}" for k in range(1, 6)]].sum(axis=1)
    ok = frame["error"].isna()
    assert (abs(sums[ok] - frame["mass"][ok]) < 1e-9).all()


def read_jsonl(path: Path) -> pd.DataFrame:
    return pd.read_json(path, lines=True)


def documented_columns() -> dict[str, list[str]]:
    """Table name -> columns, from the export section of docs/analysis-schema.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Exported tables") :]
    out: dict[str, list[str]] = {}
    for name, body in re.findall(r"### `(\w+)\.<format>`\n(.*?)(?=\n### |\Z)", section, re.S):
        out[name] = re.findall(r"^\| `([^`]+)` \|", body, re.M)
    return out


def test_documented_columns_match_the_schema() -> None:
    documented = documented_columns()
    levels = {"pointwise": list("12345"), "pairwise": list("AB")}
    for name, cls in TABLES.items():
        assert documented[name] == schema_for(cls, levels.get(name, [])).names, name


def test_a_run_without_probes_exports_empty_tables_with_their_columns(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    flags = ["--base", "fake:b", "--tuned", "fake:t", "--judge", "fake:j", "--no-bias"]
    assert CliRunner().invoke(cli, ["run", *flags, "--run-dir", str(run_dir)]).exit_code == 0
    for fmt in FORMATS:
        result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", fmt])
        assert result.exit_code == 0, result.output
        probes = run_dir / "export" / f"probes.{fmt}"
        assert read_records(probes, TABLES["probes"]) == []
        assert not (run_dir / "export" / f"labels.{fmt}").exists()
    frame = pd.read_parquet(run_dir / "export" / "probes.parquet")
    assert len(frame) == 0 and "variant_tokens" in frame.columns


def test_export_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no manifest.json" in result.output
    run_dir = tmp_path / "r"
    make_run(run_dir, 3, labels=False)
    (run_dir / "labels.jsonl").write_text('{"prompt_id": "p0000", "verdict": "tuned"}\n[1, 2]\n')
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "csv"])
    assert result.exit_code == 2
    assert "labels.jsonl:2: not a JSON object" in result.output
    assert not (run_dir / "export").exists()
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "xlsx"])
    assert result.exit_code == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_keep_late_fields_and_mixed_types(tmp_path: Path, fmt: str) -> None:
    run_dir = tmp_path / "r"
    make_run(run_dir, 2, labels=False)
    rows = [
        {"prompt_id": "p0000", "verdict": "tuned", "seconds": 3},
        {"prompt_id": "p0001", "verdict": "tie", "seconds": 4.5, "note": "close call"},
        {"prompt_id": "p0002", "verdict": "A", "seconds": 2, "shown_order": ["base", "tuned"]},
        {"prompt_id": "p0002", "verdict": 2, "seconds": 1},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"prompt_id": "cut'
    (run_dir / "labels.jsonl").write_text(text)
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", fmt])
    assert result.exit_code == 0, result.output
    back = read_table(run_dir / "export" / f"labels.{fmt}").to_pylist()
    assert [r["note"] for r in back] == [None, "close call", None, None]
    assert [r["shown_order"] for r in back] == [None, None, '["base", "tuned"]', None]
    assert [r["verdict"] for r in back] == ["tuned", "tie", "A", "2"]  # mixed types: text
    assert [r["seconds"] for r in back] == [3.0, 4.5, 2.0, 1.0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_label_note_with_line_separators_exports_as_one_row(tmp_path: Path, fmt: str) -> None:
    run_dir = tmp_path / "r"
    make_run(run_dir, 2, labels=False)
    note = "one\u2028two\u2029three\x85four"
    row = {"prompt_id": "p0000", "verdict": "tuned", "note": note}
    (run_dir / "labels.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert read_table(run_dir / "export" / f"labels.{fmt}").to_pylist() == [row]
