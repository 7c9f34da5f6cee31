"""Prompt sources beyond JSONL: CSV, Parquet, saved datasets folders, hub datasets."""

import csv
import json
import os

import pytest
from click.testing import CliRunner

from evalharness.api import make_config
from evalharness.commands.main import cli
from evalharness.errors import ConfigError
from evalharness.prompt_sources import load_prompt_set
from evalharness.prompts import PromptItem
from evalharness.records import GenerationRecord
from evalharness.runstore import RunStore
from evalharness.stages.generate import select_prompts

ROWS = [
    {"instruction": "Name a river.", "category": "facts", "source": "x", "reference": "The Nile"},
    {"instruction": "Tell me the time.", "category": "", "source": "y", "reference": ""},
]


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_with_a_prompt_field(tmp_path):
    path = write_csv(tmp_path / "mine.csv", ROWS)
    items = load_prompt_set(str(path), "instruction")
    assert items == [
        PromptItem("mine-0", "Name a river.", "facts", "The Nile"),
        PromptItem("mine-1", "Tell me the time.", None, None),
    ]
    # without --prompt-field the usual column names are tried
    assert load_prompt_set(str(path)) == items
    with pytest.raises(ConfigError, match=r"no column 'instrution'; did you mean 'instruction'"):
        load_prompt_set(str(path), "instrution")
    other = write_csv(tmp_path / "other.csv", [{"text": "a", "label": "b"}])
    with pytest.raises(ConfigError, match=r"other.csv: no prompt column .*columns: text, label"):
        load_prompt_set(str(other))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("prompt\nfine\nsplit,in,two\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ragged.csv:3: more values than header columns"):
        load_prompt_set(str(ragged))
    blank = [{"id": "a", "prompt": "q"}, {"id": "b", "prompt": ""}]
    empty = write_csv(tmp_path / "blank.csv", blank)
    with pytest.raises(ConfigError, match=r"blank.csv:3: empty prompt in column 'prompt'"):
        load_prompt_set(str(empty))


def test_parquet_with_multi_turn_and_per_turn_references(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "question_id": [81, 82],
            "turns": [["First question?", "And a follow-up?"], ["Only one turn."]],
            "reference": [["r1", "r2"], None],
            "category": ["math", "writing"],
        }
    )
    path = tmp_path / "mt.parquet"
    pq.write_table(table, path)
    first, second = load_prompt_set(str(path))
    assert first.id == "81" and first.turns == ("First question?", "And a follow-up?")
    assert first.prompt == "First question?" and first.turn_count == 2
    assert (first.reference_for(1), first.reference_for(2)) == ("r1", "r2")
    assert second == PromptItem("82", "Only one turn.", "writing", None)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(ConfigError, match=r"bad.parquet: cannot read Parquet"):
        load_prompt_set(str(bad))


def test_saved_datasets_folders(tmp_path):
    datasets = pytest.importorskip("datasets")
    data = datasets.Dataset.from_dict(
        {
            "id": ["a", "b"],
            "messages": [
                [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                 {"role": "assistant", "content": "(not used)"},
                 {"role": "user", "content": "Name a river."}],
                [{"role": "user", "content": "One turn"}],
            ],
        }
    )  # fmt: skip
    data.save_to_disk(tmp_path / "one")
    a, b = load_prompt_set(str(tmp_path / "one"))
    assert a.turns == ("Hi", "Name a river.") and a.system == "Be brief."
    assert b == PromptItem("b", "One turn")
    both = datasets.DatasetDict({"train": data, "test": data.select([1])})
    both.save_to_disk(tmp_path / "dict")
    with pytest.raises(ConfigError, match=r"several splits \(train, test\)"):
        load_prompt_set(str(tmp_path / "dict"))
    assert load_prompt_set(str(tmp_path / "dict" / "test")) == [b]
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="not a saved datasets folder"):
        load_prompt_set(str(tmp_path / "plain"))


def test_hub_datasets_only_when_allowed(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name, config, split=None):
        calls.append((name, config, split))
        return datasets.Dataset.from_dict({"instruction": ["Say hi."], "dataset": ["x"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    with pytest.raises(ConfigError, match="hub downloads are off: pass --allow-hub"):
        load_prompt_set("hf:tatsu-lab/alpaca_eval:eval", "instruction")
    assert calls == []
    monkeypatch.setenv("EVALHARNESS_ALLOW_HUB", "1")
    items = load_prompt_set("hf:tatsu-lab/alpaca_eval:eval", "instruction")
    assert items == [PromptItem("alpaca_eval-0", "Say hi.")]
    load_prompt_set("hf:org/set:cfg:test")
    assert calls[-2:] == [("tatsu-lab/alpaca_eval", None, "eval"), ("org/set", "cfg", "test")]


def test_hub_allowed_by_argument_without_the_environment(monkeypatch):
    """allow_hub travels as an argument (run config to prompt set); the environment stays unset."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(
        datasets, "load_dataset", lambda *a, **k: datasets.Dataset.from_dict({"prompt": ["Hi."]})
    )
    with pytest.raises(ConfigError, match="hub downloads are off"):
        load_prompt_set("hf:org/set:test", allow_hub=False)
    assert load_prompt_set("hf:org/set:test", allow_hub=True) == [PromptItem("set-0", "Hi.")]
    config = make_config(prompts="hf:org/set:test", allow_hub=True)
    assert [i.prompt for i in select_prompts(config)] == ["Hi."]
    assert "EVALHARNESS_ALLOW_HUB" not in os.environ


def test_raw_mt_bench_jsonl_with_a_prompt_field(tmp_path):
    rows = [
        {"question_id": 81, "category": "math", "turns": ["q1", "q2"], "reference": ["a1", "a2"]},
        {"question_id": 82, "category": "writing", "turns": ["w1", "w2"]},
    ]
    path = tmp_path / "question.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = load_prompt_set(str(path), "turns")
    assert [i.id for i in items] == ["81", "82"]
    assert items[0].references == ("a1", "a2") and items[1].turns == ("w1", "w2")
    with pytest.raises(ConfigError, match="unknown key 'question_id'"):
        load_prompt_set(str(path))  # without --prompt-field, JSONL is the prompt-set schema


def test_generate_from_a_csv_through_the_command_line(tmp_path):
    path = write_csv(tmp_path / "mine.csv", ROWS)
    result = CliRunner().invoke(
        cli,
        ["generate", "--base", "fake:b?chat=0", "--tuned", "fake:t", "--judge", "fake:j",
         "--prompts", str(path), "--prompt-field", "instruction",
         "--run-dir", str(tmp_path / "run")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = RunStore(tmp_path / "run").read(GenerationRecord)
    assert sorted({r.prompt for r in records}) == ["Name a river.", "Tell me the time."]
    bad = CliRunner().invoke(
        cli, ["generate", "--prompts", str(path), "--prompt-field", "nope",
              "--run-dir", str(tmp_path / "bad")],
    )  # fmt: skip
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
    assert not (tmp_path / "bad").exists()
