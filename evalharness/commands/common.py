"""Shared pieces of the command line: error handling, option decorators, run-dir lookup."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from evalharness.config import RunConfig, load_config, load_config_values
from evalharness.errors import ConfigError, FailuresError, HarnessError
from evalharness.secrets import scrub

RESULTS_DIR = Path("results")


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a HarnessError into one line on stderr and its exit code (2, or 3 for failures)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            click.echo(f"error: {' '.join(scrub(str(exc)).split())}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: records written so far are kept; rerun to resume", err=True)
            sys.exit(130)

    return wrapper


def model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose the models and the generation settings."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="YAML run config; flags override its values (docs/config.md).",
        ),
        click.option("--base", help="Base model spec [default: gemma3-270m]."),
        click.option("--tuned", help="Tuned model spec [default: smollm2-135m-instruct]."),
        click.option("--judge", help="Judge model spec [default: smollm2-135m-instruct]."),
        click.option(
            "--prompts",
            help="Prompt set: a name (default, mt_bench), a JSONL, CSV or Parquet file, a "
            "saved `datasets` folder, or hf:NAME[:SPLIT] (a hub dataset; needs --allow-hub).",
        ),
        click.option(
            "--prompt-field",
            help="The column that holds the prompt in CSV, Parquet and datasets sources "
            "[default: prompt, else instruction, question or messages].",
        ),
        click.option(
            "--sample",
            type=click.IntRange(min=1),
            help="Use this many prompts, sampled with --seed [default: all].",
        ),
        click.option("--seed", type=int, help="Seed for sampling prompts, generation, bootstrap."),
        click.option(
            "--max-new-tokens",
            type=click.IntRange(min=1),
            help="Tokens to generate per answer [default: 96].",
        ),
        click.option(
            "--temperature", type=click.FloatRange(min=0), help="0 = greedy [default: 0]."
        ),
        click.option("--top-p", type=click.FloatRange(0, 1), help="Nucleus sampling [default: 1]."),
        click.option(
            "--batch-size",
            type=BatchSize(),
            help="Generation batch size, or auto: the largest that fits, halved on "
            "out-of-memory [default: 8].",
        ),
        click.option(
            "--device",
            callback=_check_role_values,
            help="Local models: auto, cpu, cuda, cuda:N or mps; per model as "
            "'cuda:0,judge=cuda:1' [default: auto: a GPU if torch sees one, else cpu].",
        ),
        click.option(
            "--dtype",
            callback=_check_role_values,
            help="Local models: auto, float32, bfloat16 or float16; per model as "
            "'bfloat16,judge=float32' [default: auto: bf16 on CUDA, fp16 on MPS, fp32 on CPU].",
        ),
        click.option(
            "--quantize",
            type=click.Choice(["none", "int8"]),
            help="Local base and tuned models: int8 dynamic quantization of Linear layers "
            "for generation (opt-in; faster, small accuracy cost: see README; the judge "
            "stays unquantized) [default: none].",
        ),
        click.option("--rubric", help="Rubric name or YAML file [default: helpfulness]."),
        click.option(
            "--judge-mode",
            type=click.Choice(["logprobs", "text"]),
            help="Read scores from next-token probabilities or parse generated text.",
        ),
        click.option(
            "--reference-guided/--no-reference-guided",
            default=None,
            help="Show the judge each prompt's reference answer where the prompt set has one "
            "(MT-Bench: math, reasoning, coding) [default: off].",
        ),
        click.option(
            "--allow-hub",
            is_flag=True,
            default=None,
            help="Allow downloads from the Hugging Face hub (off by default).",
        ),
        click.option(
            "--trust-remote-code",
            is_flag=True,
            default=None,
            help="Run model code shipped with a hub checkpoint (off by default).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def retry_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--retry-failed/--no-retry-failed``: whether a rerun tries failed records again."""
    return click.option(
        "--retry-failed/--no-retry-failed",
        default=True,
        show_default=True,
        help="Try records that failed (server errors, timeouts) again on a rerun.",
    )(func)


def probe_budget_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--probe-sample`` and ``--probe-kinds``: how many prompts and which probes to run."""
    func = click.option(
        "--probe-kinds",
        "probes",
        callback=lambda ctx, param, value: tuple(value.split(",")) if value else None,
        help="Probe kinds to run, comma-separated: padded,shortened,assertive,hedged "
        "[default: all].",
    )(func)
    return click.option(
        "--probe-sample",
        type=click.IntRange(min=1),
        help="Probe only this many prompts, sampled with --seed [default: all].",
    )(func)


class BatchSize(click.ParamType):  # type: ignore[type-arg]
    """A positive integer or ``auto``."""

    name = "INTEGER|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        """``auto`` or an integer of at least 1."""
        if value == "auto":
            return "auto"
        if isinstance(value, int) and value >= 1:
            return value
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            self.fail(f"{value!r} is not a positive integer or auto", param, ctx)
        return number


def _check_role_values(ctx: Any, param: Any, value: str | None) -> str | None:
    from evalharness.backends.devices import parse_role_values
    from evalharness.errors import ConfigError

    if value is not None:
        try:
            parse_role_values(value, param.name)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def build_config(config_file: str | None, **flags: Any) -> RunConfig:
    """Defaults, then the config file, then the flags that were given."""
    config = load_config(config_file).with_overrides(**flags)
    if config.allow_hub:
        os.environ["EVALHARNESS_ALLOW_HUB"] = "1"
    return config


def default_run_dir(config: RunConfig) -> Path:
    """results/<prompt set>-<hash of the config>: the same config resumes the same run."""
    from evalharness.stages.generate import run_dir_name

    return RESULTS_DIR / run_dir_name(config)


RUNTIME_KEYS = frozenset(
    {"batch_size", "concurrency", "max_retries", "timeout", "api_key_env", "allow_hub",
     "trust_remote_code", "max_failure_share", "device", "dtype"}
)  # fmt: skip
JUDGE_KEYS = frozenset(
    {"judge", "rubric", "pointwise_template", "pairwise_template", "judge_mode", "low_mass",
     "tie_band", "reference_guided"}
)  # fmt: skip
STATISTICS_KEYS = frozenset({"bootstrap", "gates", "max_failure_share"})
PROBE_KEYS = frozenset({"probes", "probe_rules", "rewriter", "probe_sample"})
STAGE_KEYS: dict[str, frozenset[str]] = {
    "judge": JUDGE_KEYS | RUNTIME_KEYS,
    "bias": JUDGE_KEYS | RUNTIME_KEYS | STATISTICS_KEYS | PROBE_KEYS,
    "analyze": JUDGE_KEYS | STATISTICS_KEYS,
}
"""What each stage command may change in a run's saved config; the rest is the run's."""
IGNORED_KEYS: dict[str, frozenset[str]] = {
    "judge": frozenset({"bootstrap", "gates"}) | PROBE_KEYS,
    "bias": frozenset(),
    "analyze": (RUNTIME_KEYS - STATISTICS_KEYS) | PROBE_KEYS,
}
"""Keys a stage does not use: a shared CI config may hold them; the stage leaves them be."""


def stage_config(store: Any, flags: dict[str, Any], stage: str) -> tuple[RunConfig, dict[str, Any]]:
    """The run's saved config changed only where ``stage`` owns the key, and the changes.

    Flags and ``--config`` values equal to the saved ones are no change. A value the stage
    does not own (the base model for `judge`...) is an error: it belongs to another run.
    """
    manifest = store.read_manifest()
    saved = manifest.get("config", {})
    base = RunConfig()
    saved_known = {k: v for k, v in saved.items() if hasattr(base, k)}
    base = base.with_overrides(**saved_known)
    given: dict[str, Any] = {}
    config_file = flags.pop("config_file", None)
    if config_file:
        given.update(load_config_values(config_file))
    given.update({k: v for k, v in flags.items() if v is not None})
    changed_config = base.with_overrides(**given)
    old, new = base.to_dict(), changed_config.to_dict()
    changes = {
        k: [old[k], new[k]] for k in new if new[k] != old[k] and k not in IGNORED_KEYS[stage]
    }
    changed_config = base.with_overrides(**{k: v for k, v in given.items() if k in changes})
    foreign = sorted(set(changes) - STAGE_KEYS[stage])
    if foreign:
        key = foreign[0]
        raise ConfigError(
            f"{store.dir}: {key} is {old[key]!r} in this run, not {new[key]!r}; `{stage}` may "
            f"change only {', '.join(sorted(STAGE_KEYS[stage]))}: start a new run for another "
            f"{key}"
        )
    return changed_config, changes


def record_changes(store: Any, config: RunConfig, changes: dict[str, Any], stage: str) -> None:
    """Save a stage's changed config in the manifest, with the change in its history."""
    history = store.read_manifest().get("changes", [])
    history.append(
        {"command": stage, "time": datetime.now(UTC).isoformat(timespec="seconds"),
         "values": changes}
    )  # fmt: skip
    store.update_manifest(config=config.to_dict(), changes=history)


@contextmanager
def existing_run(
    run_dir: str,
    flags: dict[str, Any],
    stage: str,
    retry_failed: bool = True,
    check: Callable[[RunConfig], Any] | None = None,
) -> Iterator[tuple[Any, RunConfig]]:
    """Lock an existing run and yield it with its config for ``stage``.

    ``check`` validates the config (rubric, templates...) before anything is written; a
    change the stage may make is then recorded in the manifest (not for `analyze`, which
    only reads a view of the run).
    """
    from evalharness.runstore import RunStore

    store = RunStore(run_dir, retry_failed=retry_failed)
    if not store.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no manifest.json)")
    with store.lock(stage):
        config, changes = stage_config(store, flags, stage)
        if check is not None:
            check(config)
        if changes and stage != "analyze":
            record_changes(store, config, changes, stage)
        if config.allow_hub:
            os.environ["EVALHARNESS_ALLOW_HUB"] = "1"
        yield store, config


def check_failures(
    store: Any,
    config: RunConfig,
    stages: tuple[str, ...] | None = None,
    failures: dict[str, Any] | None = None,
) -> None:
    """Raise FailuresError (exit 3) when the run's failed share is over the threshold.

    ``failures`` are counts already made (an analysis's); else the records are counted.
    """
    from evalharness.analysis.failures import count_failures, over_threshold

    if failures is None:
        failures = count_failures(store, config.judge, stages)
    message = over_threshold(failures, config.max_failure_share)
    if message:
        raise FailuresError(message)


def run_dir_from_manifest(run_dir: str, flags: dict[str, Any]) -> tuple[Any, RunConfig]:
    """An existing run and its saved config, for commands that only read it (view, export).

    ``flags`` may pick what `analyze` may (the judge, statistics settings).
    """
    from evalharness.runstore import RunStore

    store = RunStore(run_dir)
    if not store.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no manifest.json)")
    config, _ = stage_config(store, dict(flags), "analyze")
    return store, config
