import json
from pathlib import Path

import pytest

from evalharness.errors import ConfigError
from evalharness.prompts import PROMPTS_DIR, PromptItem, load_prompts, resolve_prompt_set


def write(tmp_path: Path, *lines: str, name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**fields: object) -> str:
    return json.dumps(fields)


def test_loads_rows_with_optional_fields_and_skips_blank_lines(tmp_path):
    path = write(
        tmp_path,
        row(id="a", prompt="Hi?"),
        "",
        "   ",
        row(id="b", prompt="Sum 2+2", category="math", reference="4"),
        row(id="c", prompt="x", category=None),
    )
    items = load_prompts(path)
    assert items == [
        PromptItem("a", "Hi?"),
        PromptItem("b", "Sum 2+2", category="math", reference="4"),
        PromptItem("c", "x"),
    ]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.jsonl: prompt set not found"):
        load_prompts(tmp_path / "nope.jsonl")


def test_bad_json_names_the_line(tmp_path):
    path = write(tmp_path, row(id="a", prompt="p"), "", '{"id": "b", "prompt": ')
    with pytest.raises(ConfigError, match=r"set\.jsonl:3: invalid JSON"):
        load_prompts(path)


def test_row_not_an_object(tmp_path):
    path = write(tmp_path, row(id="a", prompt="p"), '["b", "p"]')
    with pytest.raises(ConfigError, match=r"set\.jsonl:2: expected a JSON object, got list"):
        load_prompts(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "p"}, r":1: missing field 'id'"),
        ({"id": "a"}, r":1: missing field 'prompt'"),
        ({"id": 3, "prompt": "p"}, r":1: field 'id' must be a string, got int"),
        ({"id": "a", "prompt": ["p"]}, r":1: field 'prompt' must be a string, got list"),
        ({"id": "a", "prompt": "p", "category": 2}, r":1: field 'category' must be a string"),
        ({"id": "a", "prompt": "p", "reference": {}}, r":1: field 'reference' must be a string"),
        ({"id": "a", "prompt": "  \n "}, r":1: empty prompt for id 'a'"),
        ({"id": " ", "prompt": "p"}, r":1: empty id"),
        ({"id": "a", "prompt": "p", "turns": ["q"]}, r":1: give one of prompt, turns and"),
        ({"id": "a", "turns": []}, r":1: turns must be a non-empty list of strings"),
        ({"id": "a", "prompt": "p", "extra": 1}, r":1: unknown key 'extra'"),
        ({"id": "a", "messages": [{"role": "bot", "content": "x"}]}, r"messages\[0\] must be"),
    ],
)
def test_row_errors_name_line_and_field(tmp_path, fields, message):
    path = write(tmp_path, json.dumps(fields))
    with pytest.raises(ConfigError, match=message):
        load_prompts(path)


def test_duplicate_id_names_both_lines(tmp_path):
    rows = [row(id="a", prompt="p"), row(id="b", prompt="q"), row(id="a", prompt="r")]
    path = write(tmp_path, *rows)
    with pytest.raises(
        ConfigError, match=r"set\.jsonl:3: duplicate id 'a' \(first used on line 1\)"
    ):
        load_prompts(path)


@pytest.mark.parametrize("content", ["", "\n  \n\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(ConfigError, match=r"empty\.jsonl: empty prompt set"):
        load_prompts(path)


def test_shipped_default_set():
    items = load_prompts(resolve_prompt_set("default"))
    by_id = {item.id: item for item in items}
    assert len(items) == 12
    assert {"time", "summarize", "factorial", "sky"} <= set(by_id)
    assert by_id["time"].prompt == "Can you tell me the time?"
    assert by_id["factorial"].prompt == "Write a Python function that returns the factorial of n."
    assert by_id["sky"].prompt == "Explain why the sky is blue to a 10th-grade student."
    summarize = by_id["summarize"].prompt
    assert summarize.startswith("Summarize the following article in three sentences:")
    assert 90 <= len(summarize.split()) <= 170
    assert all(item.category for item in items)


def test_shipped_mt_bench_set():
    items = load_prompts(resolve_prompt_set("mt_bench"))
    assert len(items) == 80
    assert all(item.id.startswith("mtb-") for item in items)
    assert {item.category for item in items} == {
        "writing",
        "roleplay",
        "reasoning",
        "math",
        "coding",
        "extraction",
        "stem",
        "humanities",
    }
    assert 0 < sum(item.reference is not None for item in items) < 80


def test_resolve_names_and_paths(tmp_path):
    assert resolve_prompt_set("default") == PROMPTS_DIR / "default.jsonl"
    assert resolve_prompt_set("mt_bench") == PROMPTS_DIR / "mt_bench.jsonl"
    own = write(tmp_path, row(id="a", prompt="p"), name="mine.jsonl")
    assert resolve_prompt_set(str(own)) == own


def test_resolve_unknown_name_suggests():
    with pytest.raises(ConfigError, match=r"unknown prompt set 'defualt'.*did you mean 'default'"):
        resolve_prompt_set("defualt")
    with pytest.raises(ConfigError, match=r"valid names: default, mt_bench"):
        resolve_prompt_set("zzz")


def test_resolve_missing_path(tmp_path):
    with pytest.raises(ConfigError, match=r"prompt set file not found"):
        resolve_prompt_set(str(tmp_path / "gone.jsonl"))


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + row(id="a", prompt="p").encode() + b"\n")
    assert load_prompts(path) == [PromptItem("a", "p")]
