"""Shared pieces of the command line: error handling, option decorators, run-dir lookup."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from evalharness.config import RunConfig, load_config
from evalharness.errors import HarnessError

RESULTS_DIR = Path("results")


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a HarnessError into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
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
            help="Local models: int8 dynamic quantization of Linear layers (opt-in; "
            "faster, small accuracy cost: see README) [default: none].",
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


class BatchSize(click.ParamType):
    """A positive integer or ``auto``."""

    name = "INTEGER|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        """``auto`` or an integer of at least 1."""
        if value == "auto" or (isinstance(value, int) and value >= 1):
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
    from evalharness.generate import run_dir_name

    return RESULTS_DIR / run_dir_name(config)


def run_dir_from_manifest(run_dir: str, flags: dict[str, Any]) -> tuple[Any, RunConfig]:
    """The store of an existing run and its config, updated with flags given now."""
    from evalharness.errors import ConfigError
    from evalharness.runstore import RunStore

    store = RunStore(run_dir)
    if not store.exists():
        raise ConfigError(f"{run_dir} is not a run directory (no manifest.json)")
    saved = store.read_manifest().get("config", {})
    config_file = flags.pop("config_file", None)
    base = load_config(config_file) if config_file else RunConfig()
    known = {k: v for k, v in saved.items() if hasattr(base, k)}
    if not config_file:
        base = base.with_overrides(**known)
    return store, base.with_overrides(**flags)
