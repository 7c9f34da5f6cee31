import pytest

from evalharness.config import RunConfig, load_config
from evalharness.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    assert load_config(None) == RunConfig()


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "# nothing\n")) == RunConfig()


def test_values_are_read_and_typed(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "base: fake:b\nseed: 3\ntemperature: 1\nstop: ['x', 'y']\nsample: 5\n"
            "allow_hub: true\ngates:\n  min_win_rate: 0.4\n",
        )
    )
    assert config.base == "fake:b"
    assert config.seed == 3
    assert config.temperature == 1.0 and isinstance(config.temperature, float)
    assert config.stop == ("x", "y")
    assert config.sample == 5
    assert config.allow_hub is True
    assert config.gates == {"min_win_rate": 0.4}
    assert config.tuned == RunConfig().tuned


def test_unknown_key_names_the_line_and_suggests(tmp_path):
    path = write(tmp_path, "base: fake:b\nseed: 1\nmax_new_token: 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: unknown key 'max_new_token'")
    assert "did you mean 'max_new_tokens'" in message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("seed: 1\nseed_x: 2\n", 2, "unknown key"),
        ("base: x\nseed: one\n", 2, "must be an integer"),
        ("seed: true\n", 1, "must be an integer"),
        ("temperature: hot\n", 1, "must be a number"),
        ("allow_hub: 1\n", 1, "must be true or false"),
        ("stop: x\n", 1, "must be a list of strings"),
        ("sample: 0\n", 1, "must be a positive integer"),
        ("base: 3\n", 1, "must be a string"),
        ("gates:\n  min_win: 0.5\n", 1, "unknown gate 'min_win'"),
        ("gates:\n  min_win_rate: high\n", 1, "must be a number"),
        ("seed: 1\njudge_mode: votes\n", 2, "judge_mode must be"),
        ("judge_mode: votes\n", 1, "judge_mode must be logprobs or text"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}:")
    if message:
        assert message in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "base: x\nseed: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_skip_none_and_make_tuples():
    config = RunConfig().with_overrides(seed=4, base=None, stop=["a"])
    assert config.seed == 4
    assert config.base == RunConfig().base
    assert config.stop == ("a",)


def test_fingerprint_tracks_generation_settings_only():
    base = RunConfig()
    fp = base.generation_fingerprint("h")
    assert fp == RunConfig().generation_fingerprint("h")
    assert base.with_overrides(seed=1).generation_fingerprint("h") != fp
    assert base.with_overrides(tuned="fake:x").generation_fingerprint("h") != fp
    assert base.generation_fingerprint("other prompts") != fp
    # the judge and the rubric do not change what was generated
    assert base.with_overrides(judge="fake:j", rubric="x").generation_fingerprint("h") == fp


def test_to_dict_is_json_safe():
    import json

    data = RunConfig().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert isinstance(data["stop"], list)
