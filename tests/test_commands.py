"""The command line's surface: each command's options and defaults, aliases, verbosity,
judge-validate's pair sample, and the plain progress lines off a terminal."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from helpers import invoke, write_jsonl

import evalharness.progress
from evalharness.commands.common import STAGE_KEYS
from evalharness.commands.main import cli
from evalharness.config import RunConfig

MODELS = ["--base", "fake:b", "--tuned", "fake:t?style=long", "--judge", "fake:j"]
GENERATION = {"--base", "--tuned", "--prompts", "--prompt-field", "--sample", "--seed",
              "--max-new-tokens", "--temperature", "--top-p", "--quantize"}  # fmt: skip
JUDGE = {"--judge", "--rubric", "--judge-mode", "--reference-guided"}
RUNTIME = {"--batch-size", "--device", "--dtype", "--allow-hub", "--trust-remote-code", "--cache",
           "--cache-dir"}  # fmt: skip
MANY = {"--models", "--reference", "--battles", "--battle-budget", "--model-order",
        "--rating-target"}  # fmt: skip
PROBES = {"--probe-rules", "--rewriter", "--probe-sample", "--probe-kinds"}
OPTIONS: dict[str, set[str]] = {
    "run": {"--config", *GENERATION, *MANY, *JUDGE, *RUNTIME, *PROBES, "--run-dir", "--overwrite",
            "--no-bias", "--retry-failed"},
    "generate": {"--config", *GENERATION, *MANY, *JUDGE, *RUNTIME, "--run-dir", "--overwrite",
                 "--retry-failed"},
    "judge": {"--config", *JUDGE, *RUNTIME, "--retry-failed"},
    "bias": {"--config", *JUDGE, *RUNTIME, *PROBES, "--retry-failed"},
    "analyze": {"--config", "--judge", "--rubric"},
    "judge-validate": {"--config", "--judge", "--rubric", "--judge-mode", *RUNTIME, "--quantize",
                       "--pairs", "--sample", "--seed", "--probes", "--labeled", "--run-dir",
                       "--overwrite"},
    "report": set(),
    "compare": {
        "--config", "--junit", "--allow-different-judge", "--max-rating-drop", "--new-model",
    },
    "view": set(),
    "show": set(),
    "export": {"--format", "--out"},
    "models": set(),
    "annotate": {"--n", "--seed", "--criteria", "--annotator", "--hard"},
    "labels export": {"--n", "--seed", "--criteria"},
    "labels import": {"--annotator"},
    "rubric check": set(),
    "cache info": {"--cache-dir"},
    "cache prune": {"--cache-dir", "--older-than", "--max-bytes", "--kind"},
}  # fmt: skip
"""What each command's --help lists (one name per option: the first of its spellings)."""
FLAG_KEYS = {"--probe-kinds": "probes"}


def help_blocks(command: str) -> dict[str, str]:
    """Each option of a command's --help (first spelling) with its help text on one line."""
    text = invoke(*command.split(), "--help").output
    blocks = re.split(r"^  (?=-)", text.split("Options:", 1)[-1], flags=re.MULTILINE)
    found = {}
    for block in blocks:
        name = re.match(r"(?:-[a-z], )?(--[a-z-]+)", block)
        if name:
            found[name.group(1)] = " ".join(block.split())
    return found


def listed_options(command: str) -> set[str]:
    """The options a command's --help shows (first spelling of each), without --help."""
    return set(help_blocks(command)) - {"--help"}


def shown_default(block: str) -> str | None:
    found = re.search(r"\[default: ([^\]]*)\]", block)
    return found.group(1) if found else None


def test_every_command_is_in_the_table() -> None:
    names = set()
    for name, command in cli.commands.items():
        if isinstance(command, click.Group):
            names |= {f"{name} {sub}" for sub in command.commands}
        else:
            names.add(name)
    assert names == set(OPTIONS)


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_help_lists_exactly_the_options_the_command_uses(command: str) -> None:
    assert listed_options(command) == OPTIONS[command]


@pytest.mark.parametrize("stage", ["judge", "bias", "analyze"])
def test_a_stage_shows_only_settings_it_may_change(stage: str) -> None:
    """Every run setting a stage's --help offers is one the stage may change in the run."""
    fields = set(RunConfig.__dataclass_fields__)
    for option in listed_options(stage) - {"--config", "--retry-failed"}:
        key = FLAG_KEYS.get(option, option.removeprefix("--").replace("-", "_"))
        assert key in fields and key in STAGE_KEYS[stage], option


@pytest.mark.parametrize("stage", ["judge", "bias"])
def test_stage_defaults_are_the_runs(stage: str) -> None:
    for option, block in help_blocks(stage).items():
        if option not in {"--config", "--retry-failed", "--help"}:
            assert shown_default(block) == "the run's value", option


def test_new_run_defaults_are_the_config_defaults() -> None:
    blocks = help_blocks("run")
    defaults = RunConfig()
    expected = [("--max-new-tokens", defaults.max_new_tokens), ("--base", defaults.base),
                ("--judge", defaults.judge), ("--rubric", defaults.rubric),
                ("--batch-size", defaults.batch_size), ("--judge-mode", defaults.judge_mode),
                ("--seed", defaults.seed)]  # fmt: skip
    for option, value in expected:
        assert shown_default(blocks[option]) == str(value), option


def test_a_removed_option_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["judge", str(tmp_path), "--base", "fake:x"])
    assert result.exit_code == 2 and "No such option '--base'" in result.output


# ------------------------------------------------------------------ judge-validate's sample


def validate(out: Path, *extra: str) -> tuple[Result, dict[str, Any], set[str]]:
    result = invoke("judge-validate", "--judge", "fake:j", "--no-probes", *extra,
                    "--run-dir", str(out))  # fmt: skip
    records = [json.loads(x) for x in (out / "pairwise.jsonl").read_text().splitlines()]
    report = json.loads((out / "validation.json").read_text())
    return result, report, {r["prompt_id"] for r in records}


def test_judge_validate_sample_judges_that_many_pairs(tmp_path: Path) -> None:
    _, _, everything = validate(tmp_path / "all")
    _, _, first = validate(tmp_path / "a", "--sample", "3")
    _, _, again = validate(tmp_path / "b", "--sample", "3")
    draws = [validate(tmp_path / f"s{seed}", "--sample", "3", "--seed", str(seed))[2]
             for seed in range(1, 6)]  # fmt: skip
    assert len(everything) > 3 and len(first) == 3 and first <= everything
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["validation"]["n"] == 3
    assert again == first  # the same seed draws the same pairs
    assert any(draw != first for draw in draws)  # another seed draws others
    assert all(len(draw) == 3 for draw in draws)


def test_deprecated_limit_and_out_still_work(tmp_path: Path) -> None:
    old = CliRunner().invoke(cli, ["judge-validate", "--judge", "fake:j", "--no-probes",
                                   "--limit", "2", "--out", str(tmp_path / "old")])  # fmt: skip
    assert old.exit_code == 0, old.output
    notes = [line for line in old.stderr.splitlines() if "deprecated" in line]
    assert notes == ["note: --limit is deprecated; use --sample",
                     "note: --out is deprecated; use --run-dir"]  # fmt: skip
    _, _, new_ids = validate(tmp_path / "new", "--sample", "2")
    records = (tmp_path / "old" / "pairwise.jsonl").read_text().splitlines()
    assert {json.loads(x)["prompt_id"] for x in records} == new_ids
    assert "deprecated" not in invoke("judge-validate", "--help").output  # hidden


def test_the_new_spelling_wins_over_the_alias(tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["judge-validate", "--judge", "fake:j", "--no-probes", "--sample",
                             "1", "--limit", "3", "--run-dir", str(tmp_path / "v")])  # fmt: skip
    records = (tmp_path / "v" / "pairwise.jsonl").read_text().splitlines()
    assert len({json.loads(x)["prompt_id"] for x in records}) == 1


# ------------------------------------------------------------------ verbosity and progress


def prompts_file(tmp_path: Path, n: int = 4) -> Path:
    tmp_path.mkdir(exist_ok=True)
    rows = [{"id": f"p{i}", "prompt": f"Name river {i}."} for i in range(n)]
    path = write_jsonl(tmp_path / "prompts.jsonl", rows)
    (tmp_path / "fast.yaml").write_text("bootstrap: 50\n")
    return path


def run_args(tmp_path: Path, *models: str) -> list[str]:
    prompts = str(prompts_file(tmp_path))
    return ["run", *(models or MODELS), "--prompts", prompts, "--run-dir", str(tmp_path / "run"),
            "--no-bias", "--config", str(tmp_path / "fast.yaml")]  # fmt: skip


def test_quiet_prints_only_the_verdict(tmp_path: Path) -> None:
    result = invoke("-q", *run_args(tmp_path))
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.splitlines() if line.startswith("tuned vs base win rate")
    ]
    assert len(result.stderr.strip().splitlines()) == 1
    judged = invoke("-q", "judge", str(tmp_path / "run"))
    assert len(judged.stdout.strip().splitlines()) == 1 and judged.stderr == ""


def test_normal_and_verbose_output(tmp_path: Path) -> None:
    normal = invoke(*run_args(tmp_path))
    assert "evalharness run" in normal.stderr and "total time" in normal.stderr
    assert "config:" not in normal.output
    verbose = invoke("-v", "analyze", str(tmp_path / "run"), "--judge", "fake:j")
    assert "analysis ->" in verbose.stdout
    chatty = invoke("--verbose", "judge", str(tmp_path / "run"), "--judge", "fake:k")
    assert "judge: judge 'fake:j' -> 'fake:k' (the run's value changed)" in chatty.stdout
    assert "the run's value changed" not in invoke("judge", str(tmp_path / "run")).stdout
    both = CliRunner().invoke(cli, ["-v", "-q", "models"])
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_plain_progress_lines_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CliRunner's stderr is no terminal: a slow stage prints count lines as it goes."""
    monkeypatch.setattr(evalharness.progress, "LINE_INTERVAL", 0.05)
    slow = ["--base", "fake:b?sleep=0.03", "--tuned", "fake:t?sleep=0.03",
            "--judge", "fake:j?sleep=0.03", "--batch-size", "1"]  # fmt: skip
    result = invoke(*run_args(tmp_path, *slow))
    lines = re.findall(r"^(.+): (\d+)/(\d+) (answers|judgments), (\d+) s$", result.stderr,
                       flags=re.MULTILINE)  # fmt: skip
    stages = {stage for stage, *_ in lines}
    assert {"generate base", "generate tuned"} <= stages
    assert any(stage.startswith("judge") for stage in stages)
    for stage, done, total, unit, _ in lines:
        assert int(done) <= int(total)
        assert unit == ("answers" if stage.startswith("generate") else "judgments")
    finals = {stage: (done, total) for stage, done, total, *_ in lines}
    assert all(done == total for done, total in finals.values())  # each ends with its total
    quiet = invoke("-q", *run_args(tmp_path / "q", *slow))
    assert " answers, " not in quiet.stderr


def test_no_progress_lines_when_stages_are_quick(tmp_path: Path) -> None:
    result = invoke(*run_args(tmp_path))
    assert not re.search(r"\d+/\d+ (answers|judgments), \d+ s", result.stderr)
    verbose = invoke("-v", *run_args(tmp_path / "v"))  # a start and an end line per stage
    for stage, total in (("generate base", 4), ("generate tuned", 4), ("judge pairwise", 8)):
        assert f"{stage}: 0/{total} " in verbose.stderr
        assert f"{stage}: {total}/{total} " in verbose.stderr


# ------------------------------------------------------------------ environment


def test_allow_hub_reaches_a_hub_prompt_set_without_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--allow-hub` travels as an argument to the prompt source: the download is allowed
    while $EVALHARNESS_ALLOW_HUB stays unset; without the flag it is refused (exit 2)."""
    datasets = pytest.importorskip("datasets")
    seen: list[str | None] = []

    def load_dataset(*args: Any, **kwargs: Any) -> Any:
        seen.append(os.environ.get("EVALHARNESS_ALLOW_HUB"))
        return datasets.Dataset.from_dict({"prompt": ["Name a river.", "Name a sea."]})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.delenv("EVALHARNESS_ALLOW_HUB", raising=False)
    args = ["generate", *MODELS[:4], "--prompts", "hf:org/set:test"]
    refused = invoke(*args, "--run-dir", str(tmp_path / "off"), code=2)
    assert "hub downloads are off" in refused.output
    invoke(*args, "--allow-hub", "--run-dir", str(tmp_path / "on"))
    assert seen and seen == [None] * len(seen)  # loaded, with the environment untouched
    assert (tmp_path / "on" / "generations.jsonl").read_text().count("\n") == 4


def test_step_summary_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    invoke(*run_args(tmp_path))
    summary = tmp_path / "summary.md"
    assert not summary.exists()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    invoke("report", str(tmp_path / "run"))
    assert "# evalharness report" in summary.read_text(encoding="utf-8")


def test_only_commands_read_the_job_summary_variable_or_import_commands() -> None:
    package = Path(__file__).resolve().parent.parent / "evalharness"
    for path in package.rglob("*.py"):
        if path.parent.name == "commands" or path.name == "__main__.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "GITHUB_STEP_SUMMARY" not in text, path
        assert "evalharness.commands" not in text, path


@pytest.mark.parametrize("stage", ["run", "judge-validate"])
def test_allow_hub_reaches_the_model_check_as_an_argument(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--allow-hub is handed to the model store explicitly, not through the environment."""
    import evalharness.modelstore
    from evalharness.errors import ModelError

    seen: list[tuple[bool | None, str | None]] = []

    def checkpoint_dir(spec: Any, allow_hub: bool | None = None) -> Any:
        seen.append((allow_hub, os.environ.get("EVALHARNESS_ALLOW_HUB")))
        raise ModelError("stopped here")

    monkeypatch.setattr(evalharness.modelstore, "checkpoint_dir", checkpoint_dir)
    prompts = str(prompts_file(tmp_path))
    validate = ["judge-validate", "--judge", "hf:org/judge", "--run-dir", str(tmp_path / "v")]
    args = (["run", "--base", "hf:org/base", "--tuned", "fake:t", "--judge", "fake:j",
             "--prompts", prompts, "--run-dir", str(tmp_path / "run")]
            if stage == "run" else validate)  # fmt: skip
    assert "stopped here" in invoke(*args, "--allow-hub", code=2).stderr
    assert "stopped here" in invoke(*args, code=2).stderr
    assert [allowed for allowed, _ in seen] == [True, None]
    assert seen[1][1] is None  # without the flag, nothing turns the switch on
    if stage == "judge-validate":  # no prompt source to load: the switch stays off
        assert seen[0][1] is None
    assert "EVALHARNESS_ALLOW_HUB" not in os.environ
