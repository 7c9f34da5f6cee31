import json
from pathlib import Path

import pytest

from evalharness.errors import ConfigError
from evalharness.pairs import PAIRS_DIR, LabeledPair, load_pairs, resolve_pairs

ROW = {"input": "Say hi.", "output_1": "Hi!", "output_2": "Bye.", "label": 1}


def write_json(tmp_path: Path, rows: object, name: str = "pairs.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


def write_jsonl(tmp_path: Path, *lines: str, name: str = "pairs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_array_with_default_ids(tmp_path):
    path = write_json(tmp_path, [ROW, {**ROW, "label": 2, "id": "mine"}])
    assert load_pairs(path) == [
        LabeledPair("pairs-0", "Say hi.", "Hi!", "Bye.", 1),
        LabeledPair("mine", "Say hi.", "Hi!", "Bye.", 2),
    ]


def test_jsonl_with_aliases(tmp_path):
    rows = [
        {"instruction": "Q1", "response_a": "a1", "response_b": "b1", "preferred": "a"},
        {"instruction": "Q2", "response_a": "a2", "response_b": "b2", "preferred": "B"},
        {"instruction": "Q3", "response_a": "a3", "response_b": "", "preferred": 2},
    ]
    path = write_jsonl(tmp_path, json.dumps(rows[0]), "", json.dumps(rows[1]), json.dumps(rows[2]))
    pairs = load_pairs(path)
    assert [p.label for p in pairs] == [1, 2, 2]
    assert [p.id for p in pairs] == ["pairs-0", "pairs-1", "pairs-2"]
    assert pairs[2] == LabeledPair("pairs-2", "Q3", "a3", "", 2)


def test_limit(tmp_path):
    path = write_json(tmp_path, [{**ROW, "id": f"r{i}"} for i in range(5)])
    assert [p.id for p in load_pairs(path, limit=2)] == ["r0", "r1"]
    assert len(load_pairs(path, limit=50)) == 5
    with pytest.raises(ConfigError, match="limit must be at least 1"):
        load_pairs(path, limit=0)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {k: v for k, v in ROW.items() if k != "output_2"},
            r"missing field 'output_2' \(or 'response_b'\)",
        ),
        ({**ROW, "label": 3}, r"label must be 1, 2, 'a' or 'b', got 3"),
        ({**ROW, "label": "1"}, r"label must be 1, 2, 'a' or 'b', got '1'"),
        ({**ROW, "label": True}, r"label must be"),
        ({**ROW, "output_1": None}, r"'output_1' must be a string, got NoneType"),
        ({**ROW, "input": "  "}, r"empty instruction"),
        ({**ROW, "instruction": "again"}, r"both 'input' and its alias 'instruction'"),
        ({**ROW, "score": 5}, r"unknown key 'score'"),
        ({**ROW, "id": ""}, r"'id' must be a non-empty string"),
    ],
)
def test_row_errors_in_json_array_name_the_row(tmp_path, row, expected):
    path = write_json(tmp_path, [ROW, row])
    with pytest.raises(ConfigError, match=expected) as info:
        load_pairs(path)
    assert str(info.value).startswith(f"{path}: row 1: ")


def test_row_errors_in_jsonl_name_the_line(tmp_path):
    path = write_jsonl(tmp_path, json.dumps(ROW), "", json.dumps({**ROW, "label": 0}))
    with pytest.raises(ConfigError, match=r"pairs\.jsonl:3: label must be"):
        load_pairs(path)


def test_bad_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"input": "x",\n  }\n]')
    with pytest.raises(ConfigError, match=r"broken\.json:3: invalid JSON"):
        load_pairs(path)
    path = write_jsonl(tmp_path, json.dumps(ROW), "{not json")
    with pytest.raises(ConfigError, match=r"pairs\.jsonl:2: invalid JSON"):
        load_pairs(path)


def test_not_objects_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match=r"row 0: expected a JSON object, got list"):
        load_pairs(write_json(tmp_path, [[1, 2]]))
    with pytest.raises(ConfigError, match=r"empty pairs file"):
        load_pairs(write_json(tmp_path, [], name="empty.json"))
    with pytest.raises(ConfigError, match=r"empty pairs file"):
        load_pairs(write_jsonl(tmp_path, "", name="empty.jsonl"))
    with pytest.raises(ConfigError, match=r"pairs file not found"):
        load_pairs(tmp_path / "missing.json")


def test_duplicate_ids(tmp_path):
    path = write_json(tmp_path, [{**ROW, "id": "x"}, {**ROW, "id": "y"}, {**ROW, "id": "x"}])
    with pytest.raises(ConfigError, match=r"row 2: duplicate id 'x' \(first at .*row 0\)"):
        load_pairs(path)


def test_llmbar_natural_loads_100_pairs():
    pairs = load_pairs(resolve_pairs("llmbar_natural"))
    assert len(pairs) == 100
    assert {p.label for p in pairs} == {1, 2}
    assert pairs[0].id == "llmbar_natural-0"
    raw = json.loads((PAIRS_DIR / "llmbar_natural.json").read_text(encoding="utf-8"))
    assert [p.label for p in pairs] == [r["label"] for r in raw]
    assert pairs[7].output_2 == raw[7]["output_2"]


def test_shipped_small_sets():
    tiny = load_pairs(resolve_pairs("tiny"))
    assert len(tiny) == 4
    assert len({p.id for p in tiny}) == 4
    assert len(load_pairs(resolve_pairs("mt_bench_human"))) == 200


def test_resolve_pairs(tmp_path):
    assert resolve_pairs("llmbar_natural") == PAIRS_DIR / "llmbar_natural.json"
    own = write_json(tmp_path, [ROW])
    assert resolve_pairs(str(own)) == own
    with pytest.raises(ConfigError, match=r"unknown pair set 'llmbar_natual'.*did you mean"):
        resolve_pairs("llmbar_natual")
    with pytest.raises(ConfigError, match="pairs file not found"):
        resolve_pairs(str(tmp_path / "nope.json"))
