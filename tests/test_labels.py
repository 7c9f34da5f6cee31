"""Label sample, blind sheet export, label import (CSV and JSONL) and its errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import copy_run

from evalharness.commands.main import cli
from evalharness.errors import ConfigError
from evalharness.labels.records import LabelRecord
from evalharness.labels.sample import draw_sample, pairs_of, read_sample
from evalharness.runstore import RunStore


@pytest.fixture
def run_dir(label_template: Path, tmp_path: Path) -> Path:
    return copy_run(label_template, tmp_path / "run")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_sample_is_drawn_once_and_kept(run_dir: Path, label_template: Path) -> None:
    store = RunStore(run_dir)
    first = draw_sample(store, 6, seed=3)
    again = draw_sample(store, 6, seed=3)
    assert first == again == read_sample(store)
    ids = [i.prompt_id for i in first.items]
    assert len(set(ids)) == 6 and set(ids) <= set(pairs_of(store))
    assert first.population == len(pairs_of(store)) == 12
    assert {i.slot_a for i in first.items} == {"tuned", "base"}  # slots are shuffled
    with pytest.raises(ConfigError, match="drawn with n=6, seed=3"):
        draw_sample(store, 8, seed=3)
    other = draw_sample(RunStore(copy_run(label_template, run_dir.parent / "other")), 6, seed=4)
    assert [i.prompt_id for i in other.items] != ids  # another seed, another sample


def test_hard_items_are_flagged_outside_the_random_sample(run_dir: Path) -> None:
    store = RunStore(run_dir)
    sample = draw_sample(store, 4, seed=0, hard=2)
    assert [i.random for i in sample.items] == [True] * 4 + [False] * 2
    assert len({i.prompt_id for i in sample.items}) == 6


def _fill(sheet: Path, out: Path, verdict_for_tuned: str, note: str = "") -> None:
    """Fill the blind sheet, using the key only to pick the tuned answer's slot."""
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    key = {i.prompt_id: i.slot_a for i in read_sample(RunStore(sheet.parent / "run")).items}
    for row in rows:
        tuned_slot = "A" if key[row["prompt_id"]] == "tuned" else "B"
        row["verdict"] = tuned_slot if verdict_for_tuned == "tuned" else verdict_for_tuned
        row["note"] = note
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_export_import_round_trip(run_dir: Path) -> None:
    sheet = run_dir.parent / "sheet.csv"
    code, out = invoke("labels", "export", str(run_dir), str(sheet), "--n", "5", "--criteria")
    assert code == 0, out
    text = sheet.read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert len(rows) == 5
    assert "A_clarity" in rows[0] and "B_clarity" in rows[0]
    for spec in ("fake:t", "fake:b", "tuned", "base"):
        assert spec not in text.split("\n", 1)[0]  # the header names no model
    sample = read_sample(RunStore(run_dir))
    gens = pairs_of(RunStore(run_dir))
    for row, item in zip(rows, sample.items, strict=True):
        assert row["response_A"] == gens[item.prompt_id][item.slot_a].output
    filled = run_dir.parent / "filled.csv"
    _fill(sheet, filled, "tuned", note="<script>x</script>")
    code, out = invoke("labels", "import", str(run_dir), str(filled), "--annotator", "kim")
    assert code == 0, out
    records = RunStore(run_dir).read(LabelRecord)
    assert [r.prompt_id for r in records] == [i.prompt_id for i in sample.items]
    assert {r.verdict for r in records} == {"tuned"}  # mapped back through the key
    assert {r.annotator for r in records} == {"kim"}
    assert all(r.source == "import:filled.csv" and r.random for r in records)
    # the same file again is refused: the labels are already there
    code, out = invoke("labels", "import", str(run_dir), str(filled), "--annotator", "kim")
    assert code == 2 and "already labeled by 'kim'" in out
    assert len(RunStore(run_dir).read(LabelRecord)) == 5


def test_jsonl_import_with_scores(run_dir: Path) -> None:
    sample = draw_sample(RunStore(run_dir), 4, seed=0)
    rows = [
        {"prompt_id": i.prompt_id, "verdict": v, "annotator": "lee", "A_clarity": 5,
         "B_clarity": 2}
        for i, v in zip(sample.items, ["A", "b", "tie", ""], strict=True)
    ]  # fmt: skip
    path = run_dir.parent / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out = invoke("labels", "import", str(run_dir), str(path))
    assert code == 0, out
    assert "3 labels imported (1 blank" in out
    records = RunStore(run_dir).read(LabelRecord)
    first = sample.items[0]
    assert records[0].scores == {
        first.slot_a: {"clarity": 5},
        ("base" if first.slot_a == "tuned" else "tuned"): {"clarity": 2},
    }
    assert [r.choice for r in records] == ["A", "B", "tie"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_import_keeps_line_separators_inside_a_note(run_dir: Path, suffix: str) -> None:
    sample = draw_sample(RunStore(run_dir), 2, seed=0)
    note = "first\u2028second\u2029third\x85end"
    rows = [{"prompt_id": i.prompt_id, "verdict": "A", "note": note} for i in sample.items]
    path = run_dir.parent / f"labels{suffix}"
    if suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        path.write_text("".join(lines), encoding="utf-8")
    code, out = invoke("labels", "import", str(run_dir), str(path), "--annotator", "kim")
    assert code == 0, out
    assert [r.note for r in RunStore(run_dir).read(LabelRecord)] == [note, note]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt_id": "nope", "verdict": "A"}, ":3: unknown prompt id 'nope'"),
        ({"verdict": "maybe"}, ":3: bad verdict 'maybe'"),
        ({"verdict": "A", "A_clarity": "7"}, ":3: A_clarity: a score must be an integer 1-5"),
        ({}, ":3: duplicate label"),
    ],
)
def test_import_errors_name_file_and_line(run_dir: Path, row: dict, message: str) -> None:
    sample = draw_sample(RunStore(run_dir), 4, seed=0)
    first = {"prompt_id": sample.items[0].prompt_id, "verdict": "A"}
    second = {**first, **row}
    if "A_clarity" in row:  # another item, so that the score is the only fault
        second["prompt_id"] = sample.items[1].prompt_id
    path = run_dir.parent / "bad.jsonl"
    path.write_text(json.dumps(first) + "\n\n" + json.dumps(second) + "\n", encoding="utf-8")
    code, out = invoke("labels", "import", str(run_dir), str(path))
    assert code == 2
    assert out.startswith("error: ") and f"bad.jsonl{message}" in out
    assert not (run_dir / "labels.jsonl").exists()  # nothing half-written


def test_import_needs_a_sample_and_a_readable_file(run_dir: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "x.csv"
    sheet.write_text("prompt_id,verdict\ntime,A\n", encoding="utf-8")
    code, out = invoke("labels", "import", str(run_dir), str(sheet))
    assert code == 2 and "no label sample" in out
    draw_sample(RunStore(run_dir), 3, seed=0)
    code, out = invoke("labels", "import", str(run_dir), str(tmp_path / "missing.csv"))
    assert code == 2 and "labels file not found" in out
    sheet.write_text("id,verdict\nx,A\n", encoding="utf-8")
    code, out = invoke("labels", "import", str(run_dir), str(sheet))
    assert code == 2 and "x.csv:1: the header has no 'prompt_id' column" in out
    code, out = invoke("labels", "import", str(tmp_path / "nowhere"), str(sheet))
    assert code == 2 and "not a run directory" in out


def test_annotate_command_errors(tmp_path: Path, run_dir: Path) -> None:
    code, out = invoke("annotate", str(tmp_path / "nowhere"))
    assert code == 2 and "not a run directory" in out
    draw_sample(RunStore(run_dir), 5, seed=0)
    code, out = invoke("annotate", str(run_dir), "--n", "6")
    assert code == 2 and "drawn with n=5, seed=0" in out


def test_a_later_turn_shows_each_models_earlier_turns() -> None:
    from evalharness.labels.sample import shown_texts
    from evalharness.records import GenerationRecord

    def gen(role: str, answer: str, earlier: str) -> GenerationRecord:
        return GenerationRecord(
            prompt_id="conv/turn-2", role=role, model=role, resolved="", prompt="And why?",
            rendered_prompt="", output=answer, prompt_tokens=1, output_tokens=1,
            finish_reason="stop", seconds=0.0, turn=2,
            history=[{"role": "user", "content": "Is it blue?"},
                     {"role": "assistant", "content": earlier}],
        )  # fmt: skip

    pair = {"tuned": gen("tuned", "Rayleigh.", "Yes."), "base": gen("base", "?", "No")}
    shown = shown_texts(pair)
    assert shown["prompt"] == "(turn 2) And why?"
    assert shown["tuned"].startswith("[earlier turns]\n[user] Is it blue?\n\n[assistant] Yes.")
    assert shown["tuned"].endswith("[answer to this turn]\nRayleigh.")
    assert "[assistant] No" in shown["base"] and shown["base"].endswith("\n?")
