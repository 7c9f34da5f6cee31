"""More than two models in a run: config and CLI parsing, battle designs, a scripted run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evalharness.commands.main import cli
from evalharness.config import RunConfig, load_config, parse_models_option
from evalharness.errors import ConfigError
from evalharness.records import (
    MAIN_COMPARISON,
    battle_comparison,
    parse_battle_comparison,
    probe_comparison,
    variant_subject,
)
from evalharness.stages.battles import check_connected, design_battles, run_battles

PROMPTS = Path(__file__).parent / "data" / "synthetic_prompts.jsonl"
THREE = "a=fake:a?quality=0.3,b=fake:b?quality=0.5,c=fake:c?quality=0.8"


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_battle_comparison_names() -> None:
    assert battle_comparison("tuned", "base") == MAIN_COMPARISON
    assert parse_battle_comparison(battle_comparison("sft-100", "dpo.2")) == ("sft-100", "dpo.2")
    assert parse_battle_comparison(probe_comparison("padded", "a")) is None
    assert parse_battle_comparison("validate") is None
    assert parse_battle_comparison("assertive_vs_hedged") is None


def test_models_option_and_yaml(tmp_path: Path) -> None:
    assert list(parse_models_option(THREE)) == ["a", "b", "c"]
    with pytest.raises(ConfigError, match="not name=spec"):
        parse_models_option("a=fake:a,b")
    with pytest.raises(ConfigError, match="twice"):
        parse_models_option("a=fake:a,a=fake:b")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("models:\n  z: fake:z\n  a: fake:a\nbattles: reference\nreference: a\n")
    config = load_config(mapping)
    assert list(config.model_specs()) == ["z", "a"] and config.reference_model() == "a"
    listed = tmp_path / "l.yaml"
    listed.write_text("models:\n  - {name: x, spec: 'fake:x'}\n  - {name: y, spec: 'fake:y'}\n")
    assert load_config(listed).model_specs() == {"x": "fake:x", "y": "fake:y"}
    assert RunConfig().model_specs() == {"base": RunConfig().base, "tuned": RunConfig().tuned}


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("models: [1, 2]", "mapping of names to specs"),
        ("models:\n  a b: fake:a\n  c: fake:c", "only letters"),
        ("models:\n  a_vs_b: fake:a\n  c: fake:c", "_vs_"),
        ("models:\n  a: fake:a", "at least two models"),
        ("models:\n  a: fake:a\n  b: fake:b\nreference: q", "'q' is not a model"),
        ("models:\n  a: fake:a\n  b: fake:b\nbattles: random", "needs battle_budget"),
        ("battles: some", "all-pairs or reference or random"),
        ("rating_target: hard", "outcome or soft"),
    ],
)
def test_bad_model_config_is_one_line(tmp_path: Path, yaml: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml + "\n")
    result = invoke("run", "--config", str(path), "--run-dir", str(tmp_path / "r"), code=2)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "r").exists()


def test_models_with_base_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("generate", "--models", THREE, "--base", "fake:x", code=2)
    assert "--base cannot be combined with models" in result.output


def _config(**values: object) -> RunConfig:
    models = {n: f"fake:{n}" for n in "abcdef"}
    return RunConfig().with_overrides(models=models, **values)


def test_designs_count_and_balance() -> None:
    ids = [f"p{i}" for i in range(30)]
    assert len(design_battles(ids, _config())) == 30 * 15
    reference = design_battles(ids, _config(battles="reference", reference="c"))
    assert len(reference) == 30 * 5 and all("c" in b[1:] for b in reference)
    drawn = design_battles(ids, _config(battles="random", battle_budget=2))
    per_prompt = Counter(b[0] for b in drawn)
    assert set(per_prompt.values()) == {2}
    assert all(len({b[1:] for b in drawn if b[0] == p}) == 2 for p in ids)  # no repeats
    seen = Counter(m for b in drawn for m in b[1:])
    assert max(seen.values()) - min(seen.values()) <= 2, seen  # balanced: 20 each
    again = design_battles(ids, _config(battles="random", battle_budget=2))
    assert again == drawn  # seeded
    assert design_battles(ids, _config(battles="random", battle_budget=2, seed=1)) != drawn


def test_two_models_battle_is_tuned_vs_base() -> None:
    assert design_battles(["p"], RunConfig()) == [("p", "tuned", "base")]


def test_unconnected_design_stops() -> None:
    with pytest.raises(ConfigError, match="unconnected groups"):
        check_connected(["a", "b", "c", "d"], [("p", "b", "a"), ("q", "d", "c")])
    # one prompt, a budget of one pair among six models: not connected, before any judging
    with pytest.raises(ConfigError, match="unconnected"):
        run_battles({}, ["p"], _config(battles="random", battle_budget=1))


def test_three_model_run_records_every_model(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    invoke("run", "--models", THREE, "--judge", "fake:j", "--prompts", str(PROMPTS),
           "--sample", "4", "--probe-sample", "2", "--probe-kinds", "padded,assertive,hedged",
           "--run-dir", str(run_dir), "--no-cache")  # fmt: skip

    def rows(name: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]

    assert Counter(r["role"] for r in rows("generations.jsonl")) == {"a": 4, "b": 4, "c": 4}
    subjects = Counter(r["subject"] for r in rows("pointwise.jsonl"))
    assert {s for s in subjects if "/" not in s} == {"a", "b", "c"}
    assert {variant_subject(m, "assertive") for m in "abc"} <= set(subjects)
    pairs = rows("pairwise.jsonl")
    battles = Counter(
        r["comparison"] for r in pairs if not str(r["comparison"]).startswith("probe:")
    )
    assert battles == {"b_vs_a": 8, "c_vs_a": 8, "c_vs_b": 8}  # 4 prompts x both orders
    assert {r["order"] for r in pairs} == {"xy", "yx"}
    probed = {r["comparison"] for r in pairs}
    for model in "abc":
        assert probe_comparison("assertive", model) in probed
        assert probe_comparison("assertive_vs_hedged", model) in probed
    # the scripted judge prefers the stronger model: c over a in 0.8 / 1.1 of the mass
    c_vs_a = [r["p_x"] for r in pairs if r["comparison"] == "c_vs_a"]
    assert all(abs(float(p) - 0.8 / 1.1) < 1e-9 for p in c_vs_a)  # type: ignore[arg-type]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["battles"]["design"] == "all-pairs"
    assert len(manifest["battles"]["pairs"]) == 12
    assert set(manifest["models"]) == {"a", "b", "c"}


def test_random_design_is_recorded_and_reused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["generate", "--models", THREE + ",d=fake:d", "--judge", "fake:j", "--prompts",
            str(PROMPTS), "--sample", "6", "--battles", "random", "--battle-budget", "2",
            "--run-dir", str(run_dir)]  # fmt: skip
    invoke(*args)
    invoke("judge", str(run_dir))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    pairs = manifest["battles"]["pairs"]
    assert len(pairs) == 12 and manifest["battles"]["budget"] == 2
    judged = {
        (r["prompt_id"], r["x"], r["y"])
        for r in map(json.loads, (run_dir / "pairwise.jsonl").read_text().splitlines())
    }
    assert judged == {tuple(p) for p in pairs}
    invoke("judge", str(run_dir))  # a rerun judges the same battles: nothing new
    manifest_again = json.loads((run_dir / "manifest.json").read_text())
    assert manifest_again["battles"]["pairs"] == pairs
