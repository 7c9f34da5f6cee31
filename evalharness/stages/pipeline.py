"""`evalharness run`: the stages chained; the command prints what they return."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evalharness.analysis.model import Analysis
from evalharness.analysis.run import analyze
from evalharness.config import RunConfig
from evalharness.errors import ConfigError
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.runstore import RunStore, write_json_atomic
from evalharness.stages.common import StageSummary
from evalharness.stages.generate import prepare_run, run_generate
from evalharness.stages.judge import run_judge
from evalharness.stages.probes import run_probes
from evalharness.templates import JudgeSetup, resolve_judge_setup

RECORD_FILES = (GenerationRecord.FILE, PointwiseRecord.FILE, PairwiseRecord.FILE, ProbeRecord.FILE)


def inputs_digest(store: RunStore, config: RunConfig) -> str:
    """Hash of what an analysis depends on: every JSONL file of the run (records, labels),
    the config, the judges and the harness version."""
    from evalharness import __version__
    from evalharness.manifest import git_commit

    digest = hashlib.sha256()
    for path in sorted(store.dir.glob("*.jsonl")):  # records, and labels where there are any
        digest.update(path.name.encode() + b"\0")
        if path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    judges = store.read_manifest().get("judges", [])
    extra = {"config": config.to_dict(), "judges": judges, "version": __version__}
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    digest.update(str(git_commit()).encode())
    return digest.hexdigest()[:32]


def _cached_analysis(store: RunStore, digest: str) -> Analysis | None:
    path = store.path("analysis.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("inputs_digest") == digest:
            return Analysis.from_json(data, path)
    except (OSError, ValueError, ConfigError):
        return None
    return None


def record_judge(store: RunStore, config: RunConfig) -> None:
    """Add the config's judge to the manifest's list of judges of this run (latest last)."""
    manifest = store.read_manifest()
    judges = manifest.get("judges", [])
    if judges and judges[-1].get("spec") == config.judge:
        return
    judges = [j for j in judges if j.get("spec") != config.judge]
    judges.append(
        {
            "spec": config.judge,
            "rubric": config.rubric,
            "judge_mode": config.judge_mode,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    store.update_manifest(judges=judges)


def check_judge_present(store: RunStore, config: RunConfig) -> None:
    """ConfigError when ``config.judge`` never judged this run (analysis would be empty)."""
    manifest = store.read_manifest()
    judges = [j.get("spec") for j in manifest.get("judges", [])]
    judges += [manifest["judge"]["spec"]] if isinstance(manifest.get("judge"), dict) else []
    if judges and config.judge not in judges:
        raise ConfigError(
            f"{store.dir}: no judgments by {config.judge} in this run; its judges: "
            f"{', '.join(sorted(set(map(str, judges))))} (run `evalharness judge "
            f"{store.dir} --judge {config.judge}` first)"
        )


def judges_note(store: RunStore, config: RunConfig) -> list[str]:
    """A sentence naming the judge analyzed when the run holds several."""
    judges = [j.get("spec") for j in store.read_manifest().get("judges", [])]
    if len(judges) < 2:
        return []
    which = "the latest" if judges[-1] == config.judge else "chosen with --judge"
    return [
        f"This run holds judgments by {len(judges)} judges ({', '.join(map(str, judges))}); "
        f"this analysis uses {config.judge} ({which}; pick another with "
        "`evalharness analyze RUN_DIR --judge SPEC`)."
    ]


def write_analysis(store: RunStore, config: RunConfig, setup: JudgeSetup | None = None) -> Analysis:
    """Analyze the run and write analysis.json atomically (kept as is when inputs are unchanged).

    The analysis stores a digest of its inputs; a rerun with the same records, config and
    harness version returns the stored analysis without recomputing it. ``setup`` is the
    judge setup resolved at the command's edge (from ``config`` if None).
    """
    return _write_analysis(store, config, setup)[0]


def _write_analysis(
    store: RunStore, config: RunConfig, setup: JudgeSetup | None = None
) -> tuple[Analysis, bool]:
    """The analysis, and whether it is the stored one (inputs unchanged)."""
    digest = inputs_digest(store, config)
    cached = _cached_analysis(store, digest)
    if cached is not None:
        return cached, True
    analysis = analyze(store, config, setup).with_warnings(judges_note(store, config), digest)
    write_json_atomic(store.path("analysis.json"), analysis.to_json())
    return analysis, False


def claim_validation_dir(store: RunStore, config: RunConfig, overwrite: bool) -> None:
    """Refuse a judge-validate directory that holds another kind of run or another config."""
    manifest = store.read_manifest()
    other = "generation" in manifest or (
        not manifest and any(store.path(name).exists() for name in RECORD_FILES)
    )
    saved = manifest.get("config")
    keys = ("judge", "rubric", "pairwise_template", "judge_mode", "seed", "probe_rules")
    differs = isinstance(saved, dict) and any(
        saved.get(k) != config.to_dict()[k] for k in keys if k in saved
    )
    if not (other or differs):
        return
    if not overwrite:
        what = "an evaluation run" if other else "a validation with another config"
        raise ConfigError(
            f"{store.dir} holds {what}; pass another --run-dir or --overwrite to replace it"
        )
    for name in (*RECORD_FILES, "manifest.json", "validation.json", "analysis.json",
                 "report.md", "report.html"):  # fmt: skip
        store.path(name).unlink(missing_ok=True)


@dataclass
class RunOutcome:
    """What `run` did: each stage's counts, the analysis, the report paths and the total time."""

    summaries: list[StageSummary]
    analysis: Analysis
    paths: dict[str, Path]
    seconds: float


def run_all(
    store: RunStore,
    config: RunConfig,
    *,
    overwrite: bool,
    bias: bool,
    setup: JudgeSetup | None = None,
    step_summary: Path | None = None,
    prepared: Callable[[], None] | None = None,
) -> RunOutcome:
    """Generate, judge, probe, analyze and report (``step_summary``: a CI job-summary file).

    ``setup`` is the judge setup resolved at the command's edge (from ``config`` if None);
    ``prepared`` is called once the run directory is claimed for this config.
    """
    from evalharness.report import write_reports

    started = time.perf_counter()
    items = prepare_run(store, config, overwrite)
    setup = setup or resolve_judge_setup(config)
    if prepared is not None:
        prepared()
    summaries: list[StageSummary] = [
        run_generate(store, config, items),
        run_judge(store, config, setup),
    ]
    if bias:
        summaries.append(run_probes(store, config, setup))
    record_judge(store, config)
    step = time.perf_counter()
    analysis, unchanged = _write_analysis(store, config, setup)
    paths = write_reports(
        store, analysis, unchanged=unchanged, setup=setup, step_summary=step_summary
    )
    summaries.append(
        StageSummary(
            "analyze+report",
            written=0 if unchanged else len(paths),
            done_before=len(paths) if unchanged else 0,
            seconds=time.perf_counter() - step,
        )
    )
    return RunOutcome(summaries, analysis, paths, time.perf_counter() - started)
