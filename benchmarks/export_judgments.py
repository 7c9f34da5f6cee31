"""Store a judge-validate run's judgments as a small JSON file for the coverage tests.

    python benchmarks/export_judgments.py results/validate-llmbar_natural-smollm2-135m-instruct \\
        tests/data/llmbar_natural-smollm2-135m-instruct.json

Writes, per labeled pair, the judge's probability that output_1 is better in each order
(``[X first, X second]``), with the judge, rubric and template that produced them; the
tests resample label subsets over these stored judgments, with no model work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.analysis.run import paired_orders  # noqa: E402
from evalharness.records import PairwiseRecord  # noqa: E402
from evalharness.runstore import RunStore  # noqa: E402


def main(run_dir: Path, out: Path) -> None:
    """Read the validate comparison's records and write the per-pair probabilities."""
    store = RunStore(run_dir)
    records = [r for r in store.read(PairwiseRecord) if r.comparison == "validate"]
    keys = {(r.judge, r.rubric, r.template) for r in records}
    if len(keys) != 1:
        raise SystemExit(f"{run_dir}: expected one judge/rubric/template, found {sorted(keys)}")
    judge, rubric, template = keys.pop()
    orders = paired_orders(records)["validate"]
    manifest = store.read_manifest().get("validation", {})
    data = {
        "source": "evalharness judge-validate --no-probes",
        "pairs": Path(manifest.get("pairs", "")).name,
        "judge": judge,
        "rubric": rubric,
        "template": template,
        "p_output_1": {pid: [round(a, 6), round(b, 6)] for pid, (a, b) in sorted(orders.items())},
    }
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"{len(orders)} pairs -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
