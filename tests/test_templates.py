import os
import textwrap
from pathlib import Path

import pytest

from evalharness.errors import ConfigError
from evalharness.rubrics import load_rubric
from evalharness.templates import TEMPLATES_DIR, check_template, load_template

SIMPLE = """\
id: simple
version: 1
system: "Judge {thing}."
user: |-
  Q: {instruction}
  A: {response}
  Literal {{braces}} stay.
answer_prefix: "Score:"
choices: ["1", "2"]
"""


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_and_variables(tmp_path):
    template = load_template(str(write(tmp_path, SIMPLE)))
    assert template.key == "simple@1"
    assert template.variables() == {"thing", "instruction", "response"}
    assert template.choices == ("1", "2")
    assert template.answer_prefix == "Score:"


def test_render_inserts_values_verbatim(tmp_path):
    template = load_template(str(write(tmp_path, SIMPLE)))
    tricky = "def f(x): return {x: 1} and '{response}' and {0} and {{"
    messages = template.render(thing="it", instruction="Write {code}", response=tricky)
    assert messages == (
        {"role": "system", "content": "Judge it."},
        {
            "role": "user",
            "content": f"Q: Write {{code}}\nA: {tricky}\nLiteral {{braces}} stay.",
        },
    )


def test_render_omits_empty_system(tmp_path):
    path = write(tmp_path, SIMPLE.replace('system: "Judge {thing}."', 'system: ""'))
    messages = load_template(str(path)).render(instruction="i", response="r")
    assert [m["role"] for m in messages] == ["user"]


def test_render_ignores_extra_values(tmp_path):
    template = load_template(str(write(tmp_path, SIMPLE)))
    messages = template.render(thing="t", instruction="i", response="r", unused="u")
    assert "u" not in messages[1]["content"].split()


def test_unprovided_variable_is_named(tmp_path):
    path = write(tmp_path, SIMPLE)
    template = load_template(str(path))
    with pytest.raises(ConfigError, match=r"\{response\}") as info:
        template.render(thing="t", instruction="i")
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match=r"needs \{instruction\}, \{thing\}"):
        check_template(template, {"response"})
    check_template(template, {"thing", "instruction", "response", "more"})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('choices: ["1", "2"]', 'choices: "12"'), r"choices: must be a list"),
        (('choices: ["1", "2"]', 'choices: ["1", "1"]'), r"must not repeat"),
        (('choices: ["1", "2"]', "choices: [1, 2]"), r"choices: must be a list of non-empty"),
        (('answer_prefix: "Score:"\n', ""), r"missing field 'answer_prefix'"),
        (("version: 1", "version: 1\nextra: x"), r":3: extra: unknown key 'extra'"),
        (('system: "Judge {thing}."', "system: 3"), r":3: system: must be a string, got int"),
        (("Judge {thing}.", "Judge {thing."), r"system: bad template text"),
        (("Judge {thing}.", "Judge {0}."), r"must be a plain name"),
        (("Judge {thing}.", "Judge {thing!r}."), r"\{thing!r\} must be a plain name"),
        (("Judge {thing}.", "Judge {thing:>5}."), r"must be a plain name"),
        (("Judge {thing}.", "Judge }."), r"bad template text"),
        (("id: simple", "id: ''"), r"id: must be a non-empty string"),
        (("version: 1", "version: [1]"), r"version: must be a string or an integer"),
        (("version: 1", "version: 1\nversion: 2"), r":3: duplicate key 'version'"),
        (("choices:", "choices: ]"), r"invalid YAML"),
    ],
)
def test_bad_template_files(tmp_path, change, expected):
    old, new = change
    assert old in SIMPLE
    path = write(tmp_path, SIMPLE.replace(old, new))
    with pytest.raises(ConfigError, match=expected) as info:
        load_template(str(path))
    assert str(path) in str(info.value)


def test_unknown_template_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown template 'pointwice'.*mean 'pointwise'"):
        load_template("pointwice")
    with pytest.raises(ConfigError, match="template file not found"):
        load_template(str(tmp_path / "gone.yaml"))


def test_shipped_templates():
    assert {p.stem for p in TEMPLATES_DIR.glob("*.yaml")} >= {"pointwise", "pairwise", "rewrite"}
    pointwise = load_template("pointwise")
    assert pointwise.choices == ("1", "2", "3", "4", "5")
    assert pointwise.answer_prefix == "Score:"
    assert pointwise.variables() == {
        "rubric_description",
        "criteria_block",
        "instruction",
        "response",
        "criterion_name",
        "criterion_question",
    }
    pairwise = load_template("pairwise")
    assert pairwise.choices == ("A", "B")
    assert pairwise.answer_prefix == "Better response:"
    assert pairwise.variables() == {
        "rubric_description",
        "criteria_block",
        "instruction",
        "response_a",
        "response_b",
    }
    rewrite = load_template("rewrite")
    assert rewrite.choices == ()
    assert rewrite.answer_prefix == ""
    assert rewrite.variables() == {"instruction", "response", "goal"}


def render_pointwise(criterion_index: int, response: str) -> str:
    rubric = load_rubric("helpfulness")
    criterion = rubric.criteria[criterion_index]
    messages = load_template("pointwise").render(
        rubric_description=rubric.description,
        criteria_block=rubric.criteria_block(),
        instruction="Can you tell me the time?",
        response=response,
        criterion_name=criterion.name,
        criterion_question=criterion.question,
    )
    return "\n".join(m["content"] for m in messages)


def test_pointwise_shares_everything_up_to_the_criterion():
    response = "I have no clock, so I cannot know the time. {Check your phone.}"
    first, second = render_pointwise(0, response), render_pointwise(3, response)
    assert first != second
    common = os.path.commonprefix([first, second])
    assert response in common
    assert "Can you tell me the time?" in common
    assert "5: Claims only what it can back up" in common  # the whole criteria block
    rubric = load_rubric("helpfulness")
    assert rubric.criteria[0].question in first[len(common) - 40 :]
    assert first.rstrip().endswith(rubric.criteria[0].question)


def test_pairwise_renders_both_responses_in_order():
    rubric = load_rubric("helpfulness")
    messages = load_template("pairwise").render(
        rubric_description=rubric.description,
        criteria_block=rubric.criteria_block(),
        instruction="Can you tell me the time?",
        response_a="Yes.",
        response_b="I cannot know the time.",
    )
    user = messages[-1]["content"]
    assert user.index("Response A") < user.index("Yes.") < user.index("Response B")
    assert user.index("Response B") < user.index("I cannot know the time.")
    assert user.rstrip().endswith("Answer with a single letter, A or B.")


def test_choice_instruction_is_a_template_field(tmp_path):
    """Optional: without it the line comes from the answer prefix; with it, it must name
    where the choices go."""
    plain = load_template(str(write(tmp_path, SIMPLE)))
    assert (
        plain.choice_line()
        == 'Reply with your "Score" only: exactly one of 1, 2, and nothing else.'
    )
    custom = SIMPLE + 'choice_instruction: "Answer {choices} only."\n'
    assert load_template(str(write(tmp_path, custom))).choice_line() == "Answer 1, 2 only."
    with pytest.raises(ConfigError, match=r"t.yaml:\d+: choice_instruction: must contain"):
        load_template(str(write(tmp_path, SIMPLE + 'choice_instruction: "Answer."\n')))
    with pytest.raises(ConfigError, match="choice_instruction: must be a string"):
        load_template(str(write(tmp_path, SIMPLE + "choice_instruction: 3\n")))
