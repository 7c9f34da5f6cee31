"""Save an SVG screenshot of `evalharness annotate` on a run (the README's picture).

    python benchmarks/annotate_screenshot.py RUN_DIR docs/annotate-screenshot.svg

Draws (or reuses) the run's label sample with the default --n and --seed and shows its first
unlabeled item in a 120x34 terminal, headless; nothing is labeled.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalharness.annotate.app import AnnotateApp, PairText  # noqa: E402
from evalharness.labels.sample import (  # noqa: E402
    draw_sample,
    pairs_of,
    read_sample,
    shown_texts,
)
from evalharness.runstore import RunStore  # noqa: E402


async def shoot(run_dir: Path, out: Path) -> None:
    """Open the app headless, let it draw, save the screenshot."""
    store = RunStore(run_dir)
    sample = read_sample(store) or draw_sample(store, 40, 0)
    texts = {pid: PairText(**shown_texts(g)) for pid, g in pairs_of(store).items()}
    app = AnnotateApp(store, sample, texts, "kim")
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause()
        app.save_screenshot(filename=out.name, path=str(out.parent))


if __name__ == "__main__":
    asyncio.run(shoot(Path(sys.argv[1]), Path(sys.argv[2])))
