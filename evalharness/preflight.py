"""Check every input of a run before any model loads or any file is written.

Model specs, prompt set, rubric, templates, probe rules and config values are resolved
here, so that bad input fails in a second with one line and leaves nothing behind, not
after a generation stage that took minutes.
"""

from __future__ import annotations

from pathlib import Path

from evalharness.config import RunConfig
from evalharness.errors import ConfigError, ModelError
from evalharness.progress import console
from evalharness.prompt_sources import load_prompt_set
from evalharness.prompts import PromptItem
from evalharness.specs import ModelSpec, parse_spec
from evalharness.templates import JudgeSetup

LARGE_INPUT_CHARS = 100_000
"""A prompt or rubric longer than this gets a warning: every judgment repeats it."""


def check_model(spec_text: str, role: str, allow_hub: bool | None = None) -> ModelSpec:
    """Parse a spec and check that what it names exists (no model is loaded).

    ``allow_hub``: the run's --allow-hub (None: the environment's switch decides).
    """
    try:
        spec = parse_spec(spec_text)
    except ModelError as exc:
        raise ModelError(f"{role} model: {exc}") from None
    if spec.kind in ("builtin", "gguf"):
        from evalharness.modelstore import gguf_path

        gguf_path(spec)
    elif spec.kind == "hf":
        from evalharness.modelstore import checkpoint_dir

        source, _, local = checkpoint_dir(spec, allow_hub)
        if local:
            check_safetensors(Path(source))
    return spec


def check_safetensors(folder: Path) -> None:
    """Read the header of every safetensors file in ``folder`` (a corrupt file fails here)."""
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as handle:
                handle.keys()
        except Exception as exc:  # safetensors raises its own error types
            raise ModelError(
                f"{path}: not a readable safetensors file ({' '.join(str(exc).split())})"
            ) from None


def check_prompts(config: RunConfig) -> list[PromptItem]:
    """The prompt set, with ``sample`` no larger than the set."""
    path = config.prompts
    items = load_prompt_set(config.prompts, config.prompt_field, config.allow_hub or None)
    if config.sample is not None and config.sample > len(items):
        raise ConfigError(
            f"sample {config.sample} is larger than the prompt set {path} "
            f"({len(items)} prompts); pass a sample of at most {len(items)} or none"
        )
    if "{prompt}" not in config.completion_frame:
        raise ConfigError("completion_frame must contain {prompt}")
    longest = max(items, key=lambda item: len(item.prompt))
    if len(longest.prompt) > LARGE_INPUT_CHARS:
        console.print(
            f"[bold yellow]warning:[/] prompt {longest.id!r} in {path} is "
            f"{len(longest.prompt):,} characters long; every judgment repeats it, and a local "
            "model records prompts longer than its context as failed",
            highlight=False,
        )
    return items


def check_judging(config: RunConfig, setup: JudgeSetup | None = None) -> JudgeSetup:
    """Judge spec, rubric and templates: loadable and fitting each other; returns the judge
    setup (resolved from ``config`` unless given)."""
    from evalharness.judge.engine import PAIRWISE_VARS, POINTWISE_VARS
    from evalharness.templates import check_template, resolve_judge_setup

    check_model(config.judge, "judge", config.allow_hub or None)
    setup = setup or resolve_judge_setup(config)
    rubric = setup.rubric
    size = len(rubric.criteria_block()) + len(rubric.description)
    if size > LARGE_INPUT_CHARS:
        console.print(
            f"[bold yellow]warning:[/] rubric {config.rubric} is {size:,} characters long; "
            "it is sent with every pointwise judgment",
            highlight=False,
        )
    pointwise, pairwise = setup.pointwise, setup.pairwise
    check_template(pointwise, POINTWISE_VARS)
    check_template(pairwise, PAIRWISE_VARS)
    if len(pairwise.choices) != 2:
        raise ConfigError(
            f"{pairwise.path}: a pairwise template needs exactly 2 choices (first slot, second "
            f"slot), got {len(pairwise.choices)}: {', '.join(pairwise.choices)}"
        )
    if len(pointwise.choices) < 2:
        raise ConfigError(f"{pointwise.path}: a pointwise template needs at least 2 choices")
    return setup


def check_probes(config: RunConfig) -> None:
    """Probe kinds, rules and rewriter."""
    from evalharness.probes.rewrite import VARIANTS
    from evalharness.text.rules import load_rules

    unknown = sorted(set(config.probes) - set(VARIANTS))
    if unknown:
        raise ConfigError(f"unknown probe kinds {unknown}; valid: {', '.join(VARIANTS)}")
    load_rules(config.probe_rules)
    if config.rewriter:
        check_model(config.rewriter, "rewriter", config.allow_hub or None)


def check_run(
    config: RunConfig, *, probes: bool = True, setup: JudgeSetup | None = None
) -> list[PromptItem]:
    """Everything `run` and `generate` need; returns the prompt set (before sampling).

    ``setup`` is the judge setup the command resolved (resolved here from ``config`` if None).
    """
    items = check_prompts(config)
    for name, spec in config.model_specs().items():  # base and tuned, or the run's models
        check_model(spec, name, config.allow_hub or None)
    check_judging(config, setup)
    if probes:
        check_probes(config)
    return items
