"""The Python API: run an evaluation, open its results, and judge inside a training loop.

``run(config) -> Run`` chains the stages as ``evalharness run`` does; ``Run.open(path)`` reads a
run directory (its analysis and records). ``judge_pairs`` and ``score`` judge lists of pairs
and responses with a loaded judge (kept loaded between calls, with the same prefix reuse as the
command line), and ``validate`` measures a judge against labeled pairs. See docs/api.md.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from evalharness.analysis.model import Analysis
from evalharness.analysis.model_parts import AdjustedRate
from evalharness.analysis.stats import Estimate, outcome
from evalharness.backends import load_backend
from evalharness.backends.base import Backend
from evalharness.config import RunConfig, load_config
from evalharness.errors import ConfigError, did_you_mean
from evalharness.judge.engine import Judge, PairItem, PointwiseItem
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.runstore import RunStore
from evalharness.templates import load_judge_setup
from evalharness.view.site import saved_config

ConfigLike = RunConfig | Mapping[str, Any] | str | Path | None
"""A RunConfig, a mapping of config keys (docs/config.md), a YAML file, or None (defaults)."""


def make_config(config: ConfigLike = None, **overrides: Any) -> RunConfig:
    """A RunConfig from defaults, a file or a mapping, then keyword overrides.

    Unknown keys raise ConfigError with a "did you mean" hint.
    """
    if config is None:
        base = RunConfig()
    elif isinstance(config, RunConfig):
        base = config
    elif isinstance(config, str | Path):
        base = load_config(config)
    else:
        base, overrides = RunConfig(), {**dict(config), **overrides}
    known = [f.name for f in fields(RunConfig)]
    for key in overrides:
        if key not in known:
            raise ConfigError(f"unknown config key {key!r}{did_you_mean(key, known)}")
    for key in ("device", "dtype"):
        if overrides.get(key) is not None:
            from evalharness.device_values import parse_role_values

            parse_role_values(overrides[key], key)
    return base.with_overrides(**overrides)


@contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """Silence the terminal summary and progress bars (the API returns the numbers)."""
    from evalharness.progress import console

    before = console.quiet
    console.quiet = quiet or before
    try:
        yield
    finally:
        console.quiet = before


def run(
    config: ConfigLike = None,
    *,
    run_dir: str | Path | None = None,
    overwrite: bool = False,
    bias: bool = True,
    quiet: bool = True,
    **overrides: Any,
) -> Run:
    """Generate, judge, probe, analyze and report, as ``evalharness run`` does; resumes.

    ``run_dir`` defaults to ``results/<prompt set>-<config hash>`` under the current directory.
    """
    from evalharness.stages.generate import run_dir_name
    from evalharness.stages.pipeline import run_all

    cfg = make_config(config, **overrides)  # allow_hub travels in cfg to models and prompt sets
    store = RunStore(run_dir if run_dir is not None else Path("results") / run_dir_name(cfg))
    with _quiet(quiet), store.claim():
        run_all(store, cfg, overwrite=overwrite, bias=bias)
    return Run(store.dir)


@dataclass(frozen=True)
class Run:
    """A run directory: its manifest, config, analysis and records."""

    path: Path

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Open an existing run directory; ConfigError if it has no manifest."""
        store = RunStore(path)
        if not store.exists():
            raise ConfigError(f"{path} is not a run directory (no manifest.json)")
        return cls(store.dir)

    @property
    def store(self) -> RunStore:
        """The run's file store."""
        return RunStore(self.path)

    @property
    def manifest(self) -> dict[str, Any]:
        """manifest.json: config, models (with device and dtype), environment, seeds."""
        return self.store.read_manifest()

    @property
    def config(self) -> RunConfig:
        """The config the run was made with."""
        return saved_config(self.store)

    @property
    def analysis(self) -> Analysis:
        """The run's typed analysis (docs/analysis-schema.md); ConfigError if not analyzed yet."""
        path = self.store.path("analysis.json")
        if not path.is_file():
            raise ConfigError(f"{self.path}: no analysis.json: run `evalharness analyze`")
        return Analysis.read(path)

    def estimate(self, *keys: str) -> Estimate | None:
        """A number of the analysis with its interval, by its JSON keys:
        ``run.estimate("headline", "win_rate")``; None where the analysis has none."""
        found = self.analysis.lookup(*keys)
        return found.rate if isinstance(found, AdjustedRate) else found

    @property
    def win_rate(self) -> Estimate | None:
        """Tuned-vs-base win rate (ties count half) with its bootstrap 95% CI."""
        return self.analysis.headline.win_rate

    @property
    def length_controlled_win_rate(self) -> Estimate | None:
        """The win rate with the judge's length preference regressed out."""
        controlled = self.analysis.headline.controlled
        return controlled.length_controlled.rate if controlled else None

    @property
    def length_bias(self) -> Estimate | None:
        """LBR: P(padded preferred) - P(original preferred); None without bias probes."""
        bias = self.analysis.bias
        return bias.lbr if bias else None

    @property
    def confidence_bias(self) -> Estimate | None:
        """CBR: P(assertive preferred) - P(hedged preferred); None without bias probes."""
        bias = self.analysis.bias
        return bias.cbr if bias else None

    @property
    def warnings(self) -> list[str]:
        """The analysis's warnings about the judge and the data."""
        return list(self.analysis.warnings)

    def generations(self) -> list[GenerationRecord]:
        """generations.jsonl records."""
        return self.store.read(GenerationRecord)

    def pointwise(self) -> list[PointwiseRecord]:
        """pointwise.jsonl records."""
        return self.store.read(PointwiseRecord)

    def pairwise(self) -> list[PairwiseRecord]:
        """pairwise.jsonl records."""
        return self.store.read(PairwiseRecord)

    def probes(self) -> list[ProbeRecord]:
        """probes.jsonl records (the counterfactual variants)."""
        return self.store.read(ProbeRecord)


# ------------------------------------------------------------------------------ judging

JudgeLike = str | Backend | Judge
"""A model spec (loaded once and kept), a loaded backend, or a ready Judge."""


def load_judge(
    judge: JudgeLike,
    rubric: str = "helpfulness",
    *,
    mode: str = "logprobs",
    pointwise_template: str = "pointwise",
    pairwise_template: str = "pairwise",
    low_mass: float = 0.5,
    **config: Any,
) -> Judge:
    """A Judge from a spec or backend, a rubric and the two templates (names or paths).

    ``config`` keys (``device``, ``dtype``, ``quantize``, server settings...) load the backend
    exactly as a run with that config would, so the loaded model is shared with runs in the
    same process.
    """
    from evalharness.stages.common import backend_options

    if isinstance(judge, Judge):
        if rubric in (judge.rubric.id, judge.rubric.path):
            return judge
        judge = judge.backend
    if not isinstance(judge, Backend):
        judge = load_backend(judge, backend_options(make_config(None, judge=judge, **config)))
    backend = judge
    setup = load_judge_setup(
        backend.info.spec,
        rubric,
        pointwise_template,
        pairwise_template,
        mode=mode,
        low_mass=low_mass,
    )
    return Judge.from_setup(backend, setup)


def _fields(item: Any, names: Sequence[str], aliases: Mapping[str, str], what: str) -> list[str]:
    if isinstance(item, Mapping):
        values = []
        for name in names:
            key = name if name in item else aliases.get(name, name)
            if key not in item:
                raise ConfigError(f"{what} {dict(item)!r} has no {name!r}")
            values.append(item[key])
    elif hasattr(item, names[0]) or hasattr(item, aliases.get(names[0], names[0])):
        values = [getattr(item, n if hasattr(item, n) else aliases.get(n, n)) for n in names]
    else:
        values = list(item)
        if len(values) != len(names):
            raise ConfigError(f"{what} must be ({', '.join(names)}), got {item!r}")
    for name, value in zip(names, values, strict=True):
        if not isinstance(value, str):
            raise ConfigError(f"{what}: {name} must be a string, got {type(value).__name__}")
    return values


@dataclass(frozen=True)
class PairVerdict:
    """The judge's verdict on response A vs response B, from both orders."""

    p_a: float | None
    """P(A is better), averaged over both orders; None if an order failed."""
    p_a_by_order: tuple[float | None, float | None]
    """P(A is better) with A shown first, and with A shown second."""
    outcome: str  # "a" | "b" | "tie" | "failed"
    consistent: bool | None
    """Whether both orders prefer the same response (False: a position effect decided)."""
    mass: float
    """Mean probability the judge put on the answer letters (low: it did not answer)."""
    records: tuple[PairwiseRecord, PairwiseRecord]


_PAIR_ALIASES = {"instruction": "input", "response_a": "output_1", "response_b": "output_2"}


def judge_pairs(
    judge: JudgeLike,
    pairs: Iterable[Any],
    *,
    rubric: str = "helpfulness",
    tie_band: float = 0.1,
    **options: Any,
) -> list[PairVerdict]:
    """Judge each (instruction, response_a, response_b) in both orders.

    A pair is a tuple, a mapping with those keys (or input/output_1/output_2), or a
    LabeledPair. ``options`` go to :func:`load_judge` (mode, templates, device, dtype...).
    """
    judge = load_judge(judge, rubric, **options)
    items = []
    for index, pair in enumerate(pairs):
        instruction, a, b = _fields(
            pair, ("instruction", "response_a", "response_b"), _PAIR_ALIASES, f"pair {index}"
        )
        items.append(PairItem(str(index), "api", "a", "b", instruction, a, b))
    records = judge.compare(items)
    verdicts = []
    for first, second in zip(records[::2], records[1::2], strict=True):
        by_order = (first.p_x, second.p_x)
        p_a: float | None = None
        consistent: bool | None = None
        result = "failed"
        if first.p_x is not None and second.p_x is not None:
            p_a = (first.p_x + second.p_x) / 2
            consistent = (first.p_x > 0.5) == (second.p_x > 0.5)
            result = {"win": "a", "loss": "b", "tie": "tie"}[outcome(p_a, tie_band)]
        verdicts.append(
            PairVerdict(p_a, by_order, result, consistent, (first.mass + second.mass) / 2,
                        (first, second))
        )  # fmt: skip
    return verdicts


@dataclass(frozen=True)
class Scores:
    """The judge's pointwise scores of one response, per rubric criterion."""

    expected: dict[str, float | None]
    """Criterion -> expected score (1..5) under the judge's distribution; None if it failed."""
    mean: float | None
    """Mean expected score over the criteria that were scored."""
    low_mass: bool
    """Whether any criterion got little probability on the score digits."""
    records: tuple[PointwiseRecord, ...]


def score(
    judge: JudgeLike, items: Iterable[Any], *, rubric: str = "helpfulness", **options: Any
) -> list[Scores]:
    """Score each (instruction, response) on every criterion of the rubric.

    An item is a tuple or a mapping with those keys. The response is read once for all its
    criteria (a cached key/value prefix), as in the command line's judge stage.
    """
    judge = load_judge(judge, rubric, **options)
    todo = []
    for index, item in enumerate(items):
        instruction, response = _fields(item, ("instruction", "response"), {}, f"item {index}")
        todo.append(PointwiseItem(str(index), "api", instruction, response))
    records = judge.score(todo)
    per = len(judge.rubric.criteria)
    out = []
    for start in range(0, len(records), per):
        mine = tuple(records[start : start + per])
        expected = {r.criterion: r.expected for r in mine}
        valid = [v for v in expected.values() if v is not None]
        out.append(
            Scores(
                expected=expected,
                mean=sum(valid) / len(valid) if valid else None,
                low_mass=any(r.low_mass for r in mine),
                records=mine,
            )
        )
    return out


def validate(
    judge: str,
    pairs: str | Path | Iterable[Any] = "llmbar_natural",
    *,
    rubric: str = "helpfulness",
    limit: int | None = None,
    probes: bool = True,
    out_dir: str | Path | None = None,
    quiet: bool = True,
    **config: Any,
) -> dict[str, Any]:
    """Measure a judge against human labels, as ``evalharness judge-validate`` does.

    ``pairs`` is a shipped name, a file (LLMBar JSON or JSONL), or labeled pairs as mappings
    with input/output_1/output_2/label. Returns the validation table (accuracy, Cohen's
    kappa, the longer-answer baseline, position statistics, LBR and CBR); the records go to
    ``out_dir`` (a new temporary directory by default), and a rerun there resumes.
    """
    from evalharness.runstore import write_json_atomic
    from evalharness.stages.validate import run_validation

    cfg = make_config(None, judge=judge, rubric=rubric, **config)
    store = RunStore(out_dir if out_dir is not None else tempfile.mkdtemp(prefix="evalharness-"))
    store.dir.mkdir(parents=True, exist_ok=True)
    if isinstance(pairs, str | Path):
        source = str(pairs)
    else:
        path = store.path("pairs.jsonl")
        rows = [_labeled_row(p) for p in pairs]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        source = str(path)
    with _quiet(quiet):
        result, _ = run_validation(store, cfg, source, limit, probes)
    write_json_atomic(store.path("validation.json"), result)
    return result


def _labeled_row(pair: Any) -> dict[str, Any]:
    """A labeled pair (a mapping, or an object such as LabeledPair) as an LLMBar-style row."""
    if isinstance(pair, Mapping):
        return dict(pair)
    return {
        "id": pair.id,
        "input": pair.instruction,
        "output_1": pair.output_1,
        "output_2": pair.output_2,
        "label": pair.label,
    }
