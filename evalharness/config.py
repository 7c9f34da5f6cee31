"""Run configuration: defaults, a YAML file, then command-line overrides; unknown keys rejected."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from evalharness.errors import ConfigError, did_you_mean
from evalharness.yamlio import duplicate_keys


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run computes. Field docs are in docs/config.md."""

    base: str = "gemma3-270m"
    tuned: str = "smollm2-135m-instruct"
    judge: str = "smollm2-135m-instruct"
    prompts: str = "default"
    prompt_field: str | None = None  # the column holding the prompt (CSV, Parquet, datasets)
    sample: int | None = None
    seed: int = 0
    max_new_tokens: int = 96
    temperature: float = 0.0
    top_p: float = 1.0
    system_prompt: str | None = None
    completion_frame: str = "Question: {prompt}\nAnswer:"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n\n")
    batch_size: int | str = 8  # or "auto": back off from a large batch on out-of-memory
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps, or "cuda:0,judge=cuda:1"
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16, or "auto,judge=float32"
    quantize: str = "none"  # "none" | "int8" (local models; opt-in, see README Performance)
    rubric: str = "helpfulness"
    pointwise_template: str = "pointwise"
    pairwise_template: str = "pairwise"
    judge_mode: str = "logprobs"  # "logprobs" | "text"
    text_mode_tokens: int = 24  # tokens a judge writes when its verdict is read as text
    reference_guided: bool = False  # show the judge the prompt set's reference answers
    tie_band: float = 0.1
    low_mass: float = 0.5
    probes: tuple[str, ...] = ("padded", "shortened", "assertive", "hedged")
    probe_rules: str | None = None
    probe_sample: int | None = None  # probe only this many prompts (sampled with the seed)
    rewriter: str | None = None
    bootstrap: int = 2000
    confidence: float = 0.95
    allow_hub: bool = False
    trust_remote_code: bool = False
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 4
    max_retries: int = 4
    timeout: float = 60.0
    server_extra: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, float] = field(default_factory=dict)
    max_failure_share: float = 0.0
    # more than two models (docs/many-models.md); empty: base and tuned are the two models
    models: dict[str, str] = field(default_factory=dict)  # name -> spec, in order
    reference: str | None = None  # the reference model's name (default: the first model)
    battles: str = "all-pairs"  # all-pairs | reference | random
    battle_budget: int | None = None  # pairs per prompt of the random design
    model_order: tuple[str, ...] = ()  # names in training order (the ratings plot)
    rating_target: str = "outcome"  # outcome | soft
    cache: bool = True  # reuse generations and judgments from the result cache
    cache_dir: str | None = None  # the result cache's folder (default: in the model cache)

    def with_overrides(self, **values: Any) -> RunConfig:
        """A copy with the non-None values replaced, each checked like a config file's value."""
        clean = {k: v for k, v in values.items() if v is not None}
        for key in ("stop", "probes", "model_order"):
            if key in clean:
                clean[key] = tuple(clean[key])
        if "models" in clean:
            clean["models"] = dict(clean["models"])
        for key, value in clean.items():
            check_range(key, value, f"--{key.replace('_', '-')}")
        return replace(self, **clean)

    def model_specs(self) -> dict[str, str]:
        """The run's models, name -> spec, in order: ``models``, else base and tuned."""
        return dict(self.models) if self.models else {"base": self.base, "tuned": self.tuned}

    def reference_model(self) -> str:
        """The reference model's name: ``reference``, else the first model."""
        return self.reference or next(iter(self.model_specs()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = asdict(self)
        for key in ("stop", "probes", "model_order"):
            data[key] = list(data[key])
        return data

    def generation_fingerprint(
        self, prompt_hash: str, precision: dict[str, str] | None = None
    ) -> str:
        """Hash of everything that decides the generations (a run directory holds one).

        ``precision`` maps a role to the resolved device type and dtype of a local model.
        """
        keys = (
            "base", "tuned", "sample", "seed", "max_new_tokens", "temperature", "top_p",
            "system_prompt", "completion_frame", "stop", "quantize", "server_extra",
        )  # fmt: skip
        data = {k: self.to_dict()[k] for k in keys}
        if self.models:  # the two-model run hashes as before
            data["models"] = list(self.models.items())
        data["prompt_hash"] = prompt_hash
        if precision:
            data["precision"] = precision
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    # key: (lowest, highest, lowest excluded)
    "sample": (1, None, False),
    "max_new_tokens": (1, None, False),
    "temperature": (0, None, False),
    "top_p": (0, 1, True),
    "batch_size": (1, None, False),
    "tie_band": (0, 0.5, False),
    "low_mass": (0, 1, False),
    "text_mode_tokens": (1, None, False),
    "bootstrap": (1, None, False),
    "concurrency": (1, None, False),
    "max_retries": (1, None, False),
    "timeout": (0, None, True),
    "max_failure_share": (0, 1, False),
    "battle_budget": (1, None, False),
}
"""Allowed range of each numeric setting, shared by flags and config files."""

CHOICES = {
    "quantize": ("none", "int8"),
    "judge_mode": ("logprobs", "text"),
    "battles": ("all-pairs", "reference", "random"),
    "rating_target": ("outcome", "soft"),
}

GATE_RANGES = {
    "min_win_rate": (0.0, 1.0),
    "max_win_rate_drop": (0.0, 1.0),
    "max_criterion_drop": (0.0, 4.0),
    "min_position_consistency": (0.0, 1.0),
    "max_abs_length_bias": (0.0, 1.0),
    "max_abs_confidence_bias": (0.0, 1.0),
    "min_win_rate_ppi": (0.0, 1.0),
}
"""Gate values are shares (0.5 is 50%) except the criterion drop, in score points (1-5 scale)."""


def check_range(key: str, value: Any, where: str) -> None:
    """Raise ConfigError when a setting is outside its range or choices (``where`` names it)."""
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{where} must be {' or '.join(CHOICES[key])}, got {value!r}")
    if key == "gates":
        for gate, limit in value.items():
            check_gate(gate, limit, f"{where}.{gate}")
        return
    if key not in RANGES or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high, open_low = RANGES[key]
    too_low = low is not None and (value <= low if open_low else value < low)
    if too_low or (high is not None and value > high) or value != value:
        bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
        if high is not None:
            bound += f" and at most {high:g}"
        raise ConfigError(f"{where} must be {bound}, got {value!r}")


def check_gate(gate: str, limit: Any, where: str) -> float:
    """A gate's value checked for its name, type and range."""
    if gate not in GATE_KEYS:
        raise ConfigError(f"{where}: unknown gate {gate!r}{did_you_mean(gate, list(GATE_KEYS))}")
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit:
        raise ConfigError(f"{where} must be a number, got {limit!r}")
    low, high = GATE_RANGES.get(gate, (0.0, 1.0))
    if not low <= limit <= high:
        unit = "score points" if gate == "max_criterion_drop" else "a share: 0.5 means 50%"
        raise ConfigError(f"{where} must be between {low:g} and {high:g} ({unit}), got {limit!r}")
    return float(limit)


GATE_KEYS = {
    "min_win_rate": "the tuned-vs-base win rate must stay at or above this",
    "max_win_rate_drop": "the win rate may fall by at most this vs the baseline (CI excludes 0)",
    "max_criterion_drop": "no criterion's mean score may fall by more than this vs the baseline",
    "min_position_consistency": "the judge's position consistency must stay at or above this",
    "max_abs_length_bias": "|LBR| must stay at or below this",
    "max_abs_confidence_bias": "|CBR| must stay at or below this",
    "min_win_rate_ppi": "the prediction-powered win rate (human labels) must stay at or above this",
}


def _check_type(path: Path, line: int, key: str, value: Any, default: Any) -> Any:
    where = f"{path}:{line}: {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif key == "batch_size":
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{where} must be a positive integer or auto, got {value!r}")
    elif isinstance(default, int) and key not in ("sample", "probe_sample", "battle_budget"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        value = tuple(value)
    elif key == "gates":
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping of gate names to numbers")
        for gate, limit in value.items():
            check_gate(str(gate), limit, f"{where}.{gate}")
    elif key == "server_extra":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(
                f"{where} must be a mapping of request fields to values, got {value!r}"
            )
    elif key == "models":
        value = yaml_models(value, where)
    elif key in ("sample", "probe_sample", "battle_budget"):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{where} must be a positive integer")
    elif value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    check_range(key, value, where)
    return value


def load_config(path: str | Path | None) -> RunConfig:
    """Defaults, updated from a YAML file (unknown keys and bad types name their line)."""
    if path is None:
        return RunConfig()
    return replace(RunConfig(), **load_config_values(path))


def load_config_values(path: str | Path) -> dict[str, Any]:
    """The settings a YAML config file gives, checked (only the keys it names)."""
    config = RunConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: a config file must be a mapping of keys to values")
    for number, key in duplicate_keys(node):
        raise ConfigError(f"{path}:{number}: duplicate key {key!r} (each key may appear once)")
    lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in node.value}
    defaults = {f.name: getattr(config, f.name) for f in fields(RunConfig)}
    values = {}
    for key, value in data.items():
        if key not in defaults:
            hint = did_you_mean(str(key), list(defaults))
            raise ConfigError(f"{path}:{lines.get(key, 0)}: unknown key {key!r}{hint}")
        values[key] = _check_type(path, lines.get(key, 0), key, value, defaults[key])
    for key in ("device", "dtype"):
        if key in values:
            from evalharness.device_values import parse_role_values

            try:
                parse_role_values(values[key], key)
            except ConfigError as exc:
                raise ConfigError(f"{path}:{lines[key]}: {exc}") from None
    if not 0.0 < values.get("confidence", 0.95) < 1.0:
        raise ConfigError(f"{path}:{lines['confidence']}: confidence must be between 0 and 1")
    try:
        check_models(replace(config, **values))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return values


def yaml_models(value: Any, where: str) -> dict[str, str]:
    """A config file's ``models``: a mapping name -> spec, or a list of {name, spec}."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(
        isinstance(v, dict) and set(v) == {"name", "spec"} for v in value
    ):
        pairs = [(v["name"], v["spec"]) for v in value]
    else:
        raise ConfigError(
            f"{where} must be a mapping of names to specs or a list of {{name, spec}}"
        )
    for name, spec in pairs:
        if not isinstance(name, str) or not isinstance(spec, str) or not spec:
            raise ConfigError(f"{where}: {name!r}: names and specs must be strings")
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: model name {name!r} appears twice")
    return dict(pairs)


def parse_models_option(text: str) -> dict[str, str]:
    """``--models name=spec,name=spec,...`` as an ordered mapping (ConfigError when malformed)."""
    models: dict[str, str] = {}
    for part in text.split(","):
        name, sep, spec = part.strip().partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(f"--models: {part.strip()!r} is not name=spec")
        name = name.strip()
        if name in models:
            raise ConfigError(f"--models: model name {name!r} appears twice")
        models[name] = spec.strip()
    return models


def check_models(config: RunConfig) -> None:
    """ConfigError (one line) for bad model names, an unknown reference or order name, or a
    random battle design without a budget."""
    from evalharness.records import check_model_name

    names = list(config.model_specs())
    if len(names) < 2:
        raise ConfigError(f"models: a run needs at least two models, got {len(names)}")
    for name in names:
        problem = check_model_name(name)
        if problem:
            raise ConfigError(f"models: {problem}")
    for what, asked in (("reference", [config.reference] if config.reference else []),
                        ("model_order", list(config.model_order))):  # fmt: skip
        for name in asked:
            if name not in names:
                raise ConfigError(
                    f"{what}: {name!r} is not a model of this run ({', '.join(names)})"
                )
    if config.battles == "random" and config.battle_budget is None:
        raise ConfigError("battles: random needs battle_budget (pairs judged per prompt)")
    most = len(names) * (len(names) - 1) // 2
    if config.battle_budget is not None and config.battle_budget > most:
        raise ConfigError(
            f"battle_budget: {config.battle_budget} pairs per prompt, but {len(names)} models "
            f"make only {most} pairs"
        )


def saved_config(saved: dict[str, Any]) -> RunConfig:
    """A run's config from its manifest's ``config`` (keys this version does not know left out)."""
    known = {f.name for f in fields(RunConfig)}
    return RunConfig().with_overrides(**{k: v for k, v in saved.items() if k in known})


def self_judging(config: RunConfig) -> list[str]:
    """Roles whose model is also the judge (a self-preference risk)."""
    return [role for role, spec in config.model_specs().items() if spec == config.judge]
