"""The Human check on real human labels: LLMBar pairs as a run, K of their labels imported.

    python benchmarks/human_check_llmbar.py                       # llmbar_natural, 30 labels
    python benchmarks/human_check_llmbar.py --pairs mt_bench_human --labels 40
    python benchmarks/human_check_llmbar.py --judge smollm2-135m-instruct   # the built-in judge

Each labeled pair becomes a prompt of a run directory: output_1 plays "tuned", output_2
"base". The judge judges every pair (both orders, and pointwise); a uniformly random sample
of K pairs is exported as a blind sheet, filled from the pairs' gold human labels and
imported as annotator "llmbar-gold"; the rest stay unlabeled. The report's Human check then
estimates the human preference for output_1 from K labels, and this script prints it next to
the truth from all labels. The default judge is the scripted length-biased ``fake:`` judge
(no model work, a second); pass a real one to measure it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.commands.common import run_dir_from_manifest  # noqa: E402
from evalharness.config import RunConfig  # noqa: E402
from evalharness.labels.io import export_sheet, import_labels  # noqa: E402
from evalharness.labels.sample import draw_sample  # noqa: E402
from evalharness.pairs import load_pairs, resolve_pairs  # noqa: E402
from evalharness.records import GenerationRecord  # noqa: E402
from evalharness.report import write_reports  # noqa: E402
from evalharness.report.content import fmt_est  # noqa: E402
from evalharness.runstore import RunStore  # noqa: E402
from evalharness.stages.judge import run_judge  # noqa: E402
from evalharness.stages.pipeline import write_analysis  # noqa: E402


def build_run(store: RunStore, pairs_name: str, judge: str, seed: int) -> float:
    """Write the run's manifest and generations; returns the truth (share preferring output_1)."""
    path = resolve_pairs(pairs_name)
    pairs = load_pairs(path)
    config = RunConfig(
        base="llmbar:output_2", tuned="llmbar:output_1", judge=judge, prompts=str(path), seed=seed
    )
    store.update_manifest(config=config.to_dict(), generation={"pairs": str(path)})
    if not store.path(GenerationRecord.FILE).exists():
        store.append(
            GenerationRecord(
                prompt_id=p.id, role=role, model=f"llmbar:{field}", resolved=str(path),
                prompt=p.instruction, rendered_prompt=p.instruction, output=text,
                prompt_tokens=len(p.instruction.split()), output_tokens=len(text.split()),
                finish_reason="stop", seconds=0.0,
            )  # fmt: skip
            for p in pairs
            for role, field in (("tuned", "output_1"), ("base", "output_2"))
            for text in (getattr(p, field),)
        )
    run_judge(store, config)
    return sum(p.label == 1 for p in pairs) / len(pairs)


def label_sample(store: RunStore, pairs_name: str, k: int, seed: int) -> None:
    """Export the blind sheet of a random K, fill it from the gold labels, import it."""
    gold = {p.id: p.label for p in load_pairs(resolve_pairs(pairs_name))}
    sample = draw_sample(store, k, seed)
    sheet = store.path("labels_sheet.csv")
    export_sheet(store, sample, sheet, [])
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    for row in rows:
        item = sample.item(row["prompt_id"])
        assert item is not None
        preferred = "tuned" if gold[row["prompt_id"]] == 1 else "base"  # output_1 is "tuned"
        row["verdict"] = "A" if item.slot_a == preferred else "B"
    filled = store.path("labels_sheet_filled.csv")
    with filled.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not store.path("labels.jsonl").exists():
        import_labels(store, sample, filled, "llmbar-gold", [])


def main() -> None:
    """Build, judge, label, analyze, report; print the estimate next to the truth."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="llmbar_natural")
    parser.add_argument("--judge", default="fake:j?length=0.8")
    parser.add_argument("--labels", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.judge)
    out = args.out or ROOT / "results" / f"human-check-{args.pairs}-{slug}-k{args.labels}"
    store = RunStore(out)
    truth = build_run(store, args.pairs, args.judge, args.seed)
    label_sample(store, args.pairs, args.labels, args.seed)
    _, config = run_dir_from_manifest(str(out), {})
    analysis = write_analysis(store, config)
    write_reports(store, analysis)
    human = analysis.human
    assert human is not None, "the labels were imported above"
    print(f"run directory: {out}")
    print(f"truth from all {analysis.run.prompts} labels: {truth:.0%} prefer output_1")
    ppi = fmt_est(human.ppi_win_rate, "pct")
    print(f"prediction-powered ({human.n_labels} labels): {ppi}")
    print(f"labels only: {fmt_est(human.human_win_rate, 'pct')}")
    print(f"judge only: {fmt_est(human.judge_win_rate, 'pct')}")
    print(f"report: {store.path('report.md')} (section 'Human check')")


if __name__ == "__main__":
    main()
