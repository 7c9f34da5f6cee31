import textwrap
from pathlib import Path

import pytest

from evalharness.errors import ConfigError
from evalharness.rubrics import RUBRICS_DIR, check_rubric, load_rubric

VALID = """\
id: demo
version: 2
description: A small rubric.
criteria:
  - name: first
    question: Is it good?
    levels:
      1: bad
      2: weak
      3: fair
      4: good
      5: great
  - name: second
    question: Is it short?
    levels:
      1: very long
      2: long
      3: ok
      4: short
      5: minimal
"""


def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_rubric_loads(tmp_path):
    path = write(tmp_path, VALID)
    assert check_rubric(path) == []
    rubric = load_rubric(str(path))
    assert rubric.key == "demo@2"
    assert rubric.version == "2"
    assert [c.name for c in rubric.criteria] == ["first", "second"]
    levels = {1: "very long", 2: "long", 3: "ok", 4: "short", 5: "minimal"}
    assert rubric.criteria[1].levels == levels
    assert rubric.path == str(path)
    assert rubric.criterion("second").question == "Is it short?"
    with pytest.raises(ConfigError, match="no criterion 'third'"):
        rubric.criterion("third")


def test_criteria_block_lists_every_level(tmp_path):
    block = load_rubric(str(write(tmp_path, VALID))).criteria_block()
    assert "first: Is it good?" in block
    assert "second: Is it short?" in block
    for text in ["bad", "weak", "fair", "good", "great", "very long", "minimal"]:
        assert text in block
    assert block.index("first") < block.index("great") < block.index("second")


@pytest.mark.parametrize("name", ["helpfulness", "tutoring"])
def test_shipped_rubrics_are_valid(name):
    assert check_rubric(RUBRICS_DIR / f"{name}.yaml") == []
    rubric = load_rubric(name)
    assert rubric.id == name
    assert len(rubric.criteria) == 4
    assert all(sorted(c.levels) == [1, 2, 3, 4, 5] for c in rubric.criteria)


def test_missing_level_is_located(tmp_path):
    path = write(tmp_path, VALID.replace("      4: short\n", ""))
    problems = check_rubric(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:")
    assert "criteria[1].levels: missing level 4" in problems[0]
    line = int(problems[0].split(":")[1])
    assert path.read_text().splitlines()[line - 1].strip() == "levels:"


def test_duplicate_criterion_name(tmp_path):
    path = write(tmp_path, VALID.replace("name: second", "name: first"))
    problems = check_rubric(path)
    assert len(problems) == 1
    assert "criteria[1].name: duplicate criterion name 'first' (also criteria[0])" in problems[0]
    assert problems[0].startswith(f"{path}:13:")


def test_bad_yaml_reports_line(tmp_path):
    path = write(tmp_path, VALID.replace("question: Is it short?", "question: [unclosed"))
    problems = check_rubric(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:")
    assert "invalid YAML" in problems[0]
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_rubric(str(path))


def test_every_problem_is_reported(tmp_path):
    text = """\
    id: Bad Id
    version: 1.5
    colour: blue
    criteria:
      - name: first
        question: ""
        weight: 2
        levels:
          1: a
          2: b
          3: ""
          5: e
          6: f
      - "not a mapping"
    """
    problems = check_rubric(write(tmp_path, text))
    joined = "\n".join(problems)
    assert "id: 'Bad Id' must match [a-z0-9_-]+" in joined
    assert "version: must be a string or an integer" in joined
    assert "colour: unknown key 'colour'" in joined
    assert "missing field 'description'" in joined
    assert "criteria[0].question: must not be empty" in joined
    assert "criteria[0].weight: unknown key 'weight'" in joined
    assert "criteria[0].levels.3: level description must be a non-empty string" in joined
    assert "criteria[0].levels: missing level 4" in joined
    assert "criteria[0].levels.6: unexpected level 6" in joined
    assert "criteria[1]: must be a mapping, got str" in joined
    assert len(problems) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "a rubric must be a mapping, got an empty file"),
        ("- a\n- b\n", "a rubric must be a mapping, got list"),
        ("id: x\nversion: '1'\ndescription: d\n", "missing field 'criteria'"),
        ("id: x\nversion: '1'\ndescription: d\ncriteria: []\n", "needs at least one criterion"),
        ("id: x\nversion: '1'\ndescription: d\ncriteria: {}\n", "criteria: must be a list"),
        ("id: x\ndescription: d\ncriteria: []\n", "missing field 'version'"),
        ("id: 7\nversion: '1'\ndescription: d\ncriteria: []\n", "id: must be a string, got int"),
        ("id: x\nversion: true\ndescription: d\ncriteria: []\n", "version: must be a string or"),
        ("id: x\nid: y\nversion: '1'\ndescription: d\ncriteria: []\n", ":2: duplicate key 'id'"),
    ],
)
def test_top_level_problems(tmp_path, text, expected):
    problems = check_rubric(write(tmp_path, text))
    assert any(expected in problem for problem in problems), problems


def test_criterion_field_problems(tmp_path):
    levels = "".join(f"      {n}: {t}\n" for n, t in enumerate(["bad", "weak", "fair", "good"], 1))
    levels = "    levels:\n" + levels + "      5: great\n"
    text = VALID.replace("name: first", "name: First-One").replace(levels, "")
    problems = "\n".join(check_rubric(write(tmp_path, text)))
    assert "criteria[0].name: 'First-One' must match [a-z0-9_]+" in problems
    assert "criteria[0]: missing field 'levels'" in problems


def test_levels_as_strings_are_accepted(tmp_path):
    text = VALID.replace("1: bad", "'1': bad").replace("5: great", '"5": great')
    assert load_rubric(str(write(tmp_path, text))).criteria[0].levels[5] == "great"


def test_load_invalid_rubric_raises_first_problems(tmp_path):
    path = write(tmp_path, VALID.replace("      4: short\n", "").replace("2: weak", "2: ''"))
    with pytest.raises(ConfigError) as info:
        load_rubric(str(path))
    message = str(info.value)
    assert message.startswith("invalid rubric: ")
    assert "criteria[0].levels.2" in message and "missing level 4" in message
    assert "\n" not in message


def test_unknown_rubric_name_suggests():
    with pytest.raises(ConfigError, match=r"unknown rubric 'helpfullness'.*mean 'helpfulness'"):
        load_rubric("helpfullness")


def test_missing_rubric_path(tmp_path):
    with pytest.raises(ConfigError, match="rubric file not found"):
        load_rubric(str(tmp_path / "none.yaml"))
    assert "rubric file not found" in check_rubric(tmp_path / "none.yaml")[0]
