"""Option decorators of the commands, in groups: each command takes only the groups it uses.

A command that starts a run (``run``, ``generate``, ``judge-validate``) shows the defaults of
``RunConfig``; a command that works on an existing run (``judge``, ``bias``, ``analyze``)
shows "the run's value": its manifest decides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from evalharness.config import RunConfig

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
RUN_VALUE = "the run's value"
DEFAULTS = RunConfig()


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value)
    return "all" if value is None else str(value)


def field_option(
    *decls: str, field: str, help: str, existing: bool, shown: str | None = None, **kwargs: Any
) -> Decorator:
    """An option for RunConfig ``field``; its help ends with the default that really applies."""
    default = RUN_VALUE if existing else shown or _shown(getattr(DEFAULTS, field))
    return click.option(*decls, help=f"{help} [default: {default}]", **kwargs)


def _apply(func: Callable[..., Any], decorators: list[Decorator]) -> Callable[..., Any]:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def config_option(
    help: str = "YAML run config; flags override its values (docs/config.md).",
) -> Decorator:
    """``--config FILE``."""
    return click.option("--config", "config_file", type=click.Path(dir_okay=False), help=help)


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
    from evalharness.device_values import parse_role_values
    from evalharness.errors import ConfigError

    if value is not None:
        try:
            parse_role_values(value, param.name)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def generation_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The models, the prompt set and the generation settings of a new run."""
    e = False
    return _apply(func, [
        field_option("--base", field="base", help="Base model spec.", existing=e),
        field_option("--tuned", field="tuned", help="Tuned model spec.", existing=e),
        field_option(
            "--prompts", field="prompts", existing=e,
            help="Prompt set: a name (default, mt_bench), a JSONL, CSV or Parquet file, a "
            "saved `datasets` folder, or hf:NAME[:SPLIT] (a hub dataset; needs --allow-hub).",
        ),
        field_option(
            "--prompt-field", field="prompt_field", existing=e,
            shown="prompt, else instruction, question or messages",
            help="The column that holds the prompt in CSV, Parquet and datasets sources.",
        ),
        field_option(
            "--sample", field="sample", existing=e, type=click.IntRange(min=1),
            help="Use this many prompts, sampled with --seed.",
        ),
        field_option("--seed", field="seed", existing=e, type=int,
                help="Seed for sampling prompts, generation, probes, bootstrap."),
        field_option("--max-new-tokens", field="max_new_tokens", existing=e,
                type=click.IntRange(min=1), help="Tokens to generate per answer."),
        field_option("--temperature", field="temperature", existing=e,
                type=click.FloatRange(min=0), help="0 = greedy."),
        field_option("--top-p", field="top_p", existing=e, type=click.FloatRange(0, 1),
                help="Nucleus sampling."),
    ])  # fmt: skip


def _models_value(ctx: Any, param: Any, value: str | None) -> dict[str, str] | None:
    from evalharness.config import parse_models_option
    from evalharness.errors import ConfigError

    if value is None:
        return None
    try:
        return parse_models_option(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--models: ")) from None


def _names_value(ctx: Any, param: Any, value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",")) if value else None


def models_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """More than two models: the models, the reference, the battle design, the ratings."""
    e = False
    return _apply(func, [
        field_option(
            "--models", field="models", existing=e, callback=_models_value,
            shown="--base and --tuned",
            help="Several models as name=spec,name=spec,... (instead of --base/--tuned).",
        ),
        field_option("--reference", field="reference", existing=e, shown="the first model",
                     help="The reference model's name (rating 1000)."),
        field_option(
            "--battles", field="battles", existing=e,
            type=click.Choice(["all-pairs", "reference", "random"]),
            help="Which pairs of models the judge compares on each prompt.",
        ),
        field_option(
            "--battle-budget", field="battle_budget", existing=e, type=click.IntRange(min=1),
            shown="none", help="Pairs per prompt of the random battle design.",
        ),
        field_option(
            "--model-order", field="model_order", existing=e, callback=_names_value,
            shown="from trailing step numbers",
            help="Model names in training order, comma-separated (the ratings plot).",
        ),
        field_option(
            "--rating-target", field="rating_target", existing=e,
            type=click.Choice(["outcome", "soft"]),
            help="Rate on the tie-band outcome per prompt or on the judge's soft preference.",
        ),
    ])  # fmt: skip


def quantize_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--quantize``: fixed for a run's life (it is part of the generations' fingerprint)."""
    return field_option(
        "--quantize", field="quantize", existing=False, type=click.Choice(["none", "int8"]),
        help="Local base and tuned models: int8 dynamic quantization of Linear layers for "
        "generation (opt-in; faster, accuracy cost: see README; the judge stays unquantized).",
    )(func)  # fmt: skip


def judge_options(existing: bool, references: bool = True) -> Decorator:
    """The judge, its rubric, how its scores are read, and whether it sees references."""
    return lambda func: _apply(func, [
        field_option("--judge", field="judge", help="Judge model spec.", existing=existing),
        field_option(
            "--rubric", field="rubric", help="Rubric name or YAML file.", existing=existing
        ),
        field_option(
            "--judge-mode", field="judge_mode", existing=existing,
            type=click.Choice(["logprobs", "text"]),
            help="Read scores from next-token probabilities or parse generated text.",
        ),
    ] + ([
        field_option(
            "--reference-guided/--no-reference-guided", field="reference_guided",
            existing=existing, default=None,
            help="Show the judge each prompt's reference answer where the prompt set has one "
            "(MT-Bench: math, reasoning, coding).",
        ),
    ] if references else []))  # fmt: skip


def analysis_judge_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`analyze`'s choice of judgments: which judge, with which rubric."""
    return _apply(func, [
        click.option(
            "--judge", help="Which of the run's judges to analyze [default: the run's latest]."
        ),
        field_option("--rubric", field="rubric", help="Rubric the judgments were made with.",
                existing=True),
    ])  # fmt: skip


def runtime_options(existing: bool) -> Decorator:
    """How local models run (batch, device, dtype) and what they may load (hub, remote code)."""
    return lambda func: _apply(func, [
        field_option(
            "--batch-size", field="batch_size", existing=existing, type=BatchSize(),
            help="Batch size, or auto: the largest that fits, halved on out-of-memory.",
        ),
        field_option(
            "--device", field="device", existing=existing, callback=_check_role_values,
            shown="auto: a GPU if torch sees one, else cpu",
            help="Local models: auto, cpu, cuda, cuda:N or mps; per model as "
            "'cuda:0,judge=cuda:1'.",
        ),
        field_option(
            "--dtype", field="dtype", existing=existing, callback=_check_role_values,
            shown="auto: bf16 on CUDA, fp16 on MPS, fp32 on CPU",
            help="Local models: auto, float32, bfloat16 or float16; per model as "
            "'bfloat16,judge=float32'.",
        ),
        field_option("--allow-hub", field="allow_hub", existing=existing, is_flag=True,
                default=None, help="Allow downloads from the Hugging Face hub."),
        field_option("--trust-remote-code", field="trust_remote_code", existing=existing,
                is_flag=True, default=None,
                help="Run model code shipped with a hub checkpoint."),
        field_option("--cache/--no-cache", field="cache", existing=existing, default=None,
                help="Reuse generations and judgments from the result cache."),
        field_option("--cache-dir", field="cache_dir", existing=existing,
                shown="results/ in the model cache", type=click.Path(file_okay=False),
                help="The result cache's folder."),
    ])  # fmt: skip


def probe_options(existing: bool) -> Decorator:
    """Which probes run, on how many prompts, rewritten by rules or a model."""
    return lambda func: _apply(func, [
        field_option(
            "--probe-rules", field="probe_rules", existing=existing, shown="built-in",
            type=click.Path(file_okay=False),
            help="Directory with length.yaml/confidence.yaml rewrite rules.",
        ),
        field_option("--rewriter", field="rewriter", existing=existing, shown="the rules",
                help="Model spec that rewrites responses instead of the rules."),
        field_option(
            "--probe-sample", field="probe_sample", existing=existing,
            type=click.IntRange(min=1), help="Probe only this many prompts, sampled with the seed.",
        ),
        field_option(
            "--probe-kinds", "probes", field="probes", existing=existing,
            callback=lambda ctx, param, value: tuple(value.split(",")) if value else None,
            help="Probe kinds to run, comma-separated: padded,shortened,assertive,hedged.",
        ),
    ])  # fmt: skip


def retry_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--retry-failed/--no-retry-failed``: whether a rerun tries failed records again."""
    return click.option(
        "--retry-failed/--no-retry-failed",
        default=True,
        show_default=True,
        help="Try records that failed (server errors, timeouts) again on a rerun.",
    )(func)


def run_dir_option(help: str) -> Decorator:
    """``--run-dir DIR``: where a new run's records go."""
    return click.option("--run-dir", type=click.Path(file_okay=False), help=help)


def deprecated_alias(old: str, new: str, dest: str, **kwargs: Any) -> Decorator:
    """A hidden option ``old`` that sets ``dest`` (the option ``new``) with a one-line note."""
    hidden_name = f"{dest}__{old.strip('-').replace('-', '_')}"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **values: Any) -> Any:
            value = values.pop(hidden_name)
            if value is not None:
                click.echo(f"note: {old} is deprecated; use {new}", err=True)
                if values.get(dest) is None:
                    values[dest] = value
            return func(*args, **values)

        return click.option(old, hidden_name, hidden=True, default=None, **kwargs)(wrapper)

    return decorate
