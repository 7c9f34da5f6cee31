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

from evalharness.config import RunConfig, load_config, load_config_values, saved_config
from evalharness.errors import ConfigError, FailuresError, HarnessError
from evalharness.progress import QUIET, VERBOSE, verbosity
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


def build_config(config_file: str | None, **flags: Any) -> RunConfig:
    """Defaults, then the config file, then the flags that were given (a run's models
    checked: ``models`` is not combined with --base/--tuned)."""
    from evalharness.config import check_models

    config = load_config(config_file).with_overrides(**flags)
    given = [f"--{k}" for k in ("base", "tuned") if flags.get(k) is not None]
    if config.models and given:
        raise ConfigError(
            f"{' and '.join(given)} cannot be combined with models (--models or the config's "
            "models:): name every model there"
        )
    check_models(config)
    return config


STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def step_summary_file() -> Path | None:
    """The CI job-summary file named by $GITHUB_STEP_SUMMARY, if set."""
    target = os.environ.get(STEP_SUMMARY_ENV)
    return Path(target) if target else None


def say(message: str, err: bool = False) -> None:
    """A line on stdout (stderr with ``err``), left out with --quiet."""
    if verbosity() > QUIET:
        click.echo(message, err=err)


def detail(message: str) -> None:
    """A line on stdout shown only with --verbose."""
    if verbosity() >= VERBOSE:
        click.echo(message)


def verdict(message: str) -> None:
    """The command's final one-line result on stdout: printed even with --quiet."""
    click.echo(message)


def describe_config(config: RunConfig) -> None:
    """With --verbose: the settings that differ from the defaults, one line."""
    defaults = RunConfig().to_dict()
    changed = {k: v for k, v in config.to_dict().items() if v != defaults[k]}
    detail("config: " + (", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults"))


def default_run_dir(config: RunConfig) -> Path:
    """results/<prompt set>-<hash of the config>: the same config resumes the same run."""
    from evalharness.stages.generate import run_dir_name

    return RESULTS_DIR / run_dir_name(config)


RUNTIME_KEYS = frozenset(
    {"batch_size", "concurrency", "max_retries", "timeout", "api_key_env", "allow_hub",
     "trust_remote_code", "max_failure_share", "device", "dtype", "cache", "cache_dir"}
)  # fmt: skip
JUDGE_KEYS = frozenset(
    {"judge", "rubric", "pointwise_template", "pairwise_template", "judge_mode", "low_mass",
     "tie_band", "reference_guided"}
)  # fmt: skip
STATISTICS_KEYS = frozenset(
    {"bootstrap", "gates", "max_failure_share", "model_order", "rating_target"}
)
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
    base = saved_config(manifest.get("config", {}))
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
        for key, (before, after) in changes.items():
            detail(f"{stage}: {key} {before!r} -> {after!r} (the run's value changed)")
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
