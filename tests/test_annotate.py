"""The annotate app, driven by Textual's headless pilot: the records are what was pressed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import copy_run
from textual.widgets import Static

from evalharness.annotate.app import AnnotateApp, PairText
from evalharness.labels.records import LabelRecord, standing
from evalharness.labels.sample import draw_sample, pairs_of
from evalharness.runstore import RunStore


@pytest.fixture
def store(label_template: Path, tmp_path: Path) -> RunStore:
    return RunStore(copy_run(label_template, tmp_path / "run"))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make_app(store: RunStore, annotator: str, clock: Clock, criteria: list[str] | None = None):
    sample = draw_sample(store, 5, seed=1)
    texts = {
        pid: PairText(g["tuned"].prompt, g["tuned"].output, g["base"].output)
        for pid, g in pairs_of(store).items()
    }
    return AnnotateApp(store, sample, texts, annotator, criteria, clock=clock), sample


async def press(store: RunStore, annotator: str, keys: list[str], clock: Clock | None = None,
                criteria: list[str] | None = None, size: tuple[int, int] = (120, 40)):  # fmt: skip
    clock = clock or Clock()
    app, sample = make_app(store, annotator, clock, criteria)
    shown = []
    async with app.run_test(size=size) as pilot:
        for key in keys:
            if app.current is not None:
                shown.append(app.current.prompt_id)
            clock.t += 2.5
            await pilot.press(key)
        await pilot.pause()
    return app, sample, shown


def run(coro):
    return asyncio.run(coro)


def test_label_skip_undo_quit_are_recorded_exactly(store: RunStore) -> None:
    app, sample, shown = run(press(store, "ann", ["a", "b", "t", "s", "u", "a", "q"]))
    records = store.read(LabelRecord)
    assert [r.choice for r in records] == ["A", "B", "tie", "skip", "undo", "A"]
    items = [i.prompt_id for i in sample.items]
    # first four items in sample order; undo reverts the skip of item 4, which is shown again
    assert [r.prompt_id for r in records] == [items[0], items[1], items[2], items[3], items[3],
                                              items[3]]  # fmt: skip
    assert [r.revision for r in records] == [0, 0, 0, 0, 1, 2]
    for r in records:
        item = sample.item(r.prompt_id)
        assert r.slot_a == item.slot_a and r.annotator == "ann" and r.source == "annotate"
        if r.choice in ("A", "B"):
            expected = item.slot_a if r.choice == "A" else ("base" if item.slot_a == "tuned"
                                                            else "tuned")  # fmt: skip
            assert r.verdict == expected
    assert records[2].verdict == "tie" and records[3].verdict is None
    assert records[0].seconds == pytest.approx(2.5)
    assert {r.prompt_id for r in standing(records)} == {items[0], items[1], items[2], items[3]}
    assert app.return_code == 0 or app.return_code is None


def test_resume_and_undo_across_sessions(store: RunStore) -> None:
    run(press(store, "ann", ["a", "b", "q"]))
    app, sample, shown = run(press(store, "ann", ["u", "t", "q"]))
    items = [i.prompt_id for i in sample.items]
    records = store.read(LabelRecord)
    # the second session undoes the last label of the first one, then labels it tie
    assert [(r.prompt_id, r.choice, r.revision) for r in records] == [
        (items[0], "A", 0), (items[1], "B", 0), (items[1], "undo", 1), (items[1], "tie", 2),
    ]  # fmt: skip
    assert shown[0] == items[2]  # the session resumed at the first unlabeled item


def test_two_annotators_and_the_progress_line(store: RunStore) -> None:
    run(press(store, "alice", ["a", "a", "q"]))
    app, sample, _ = run(press(store, "bob", ["b", "q"]))
    records = store.read(LabelRecord)
    assert [(r.annotator, r.choice) for r in records] == [("alice", "A"), ("alice", "A"),
                                                          ("bob", "B")]  # fmt: skip
    # bob starts at the first item: alice's labels are hers
    assert records[2].prompt_id == sample.items[0].prompt_id
    assert app.labeled() == 1


def test_note_and_criterion_scores(store: RunStore) -> None:
    keys = ["n", *"too long", "enter", "b", "4", "2", "q"]
    app, sample, _ = run(press(store, "ann", keys, criteria=["clarity"]))
    (record,) = store.read(LabelRecord)
    item = sample.items[0]
    other = "base" if item.slot_a == "tuned" else "tuned"
    assert record.note == "too long" and record.choice == "B" and record.verdict == other
    assert record.scores == {item.slot_a: {"clarity": 4}, other: {"clarity": 2}}


def test_everything_labeled_then_quit(store: RunStore) -> None:
    app, sample, _ = run(press(store, "ann", ["a"] * 5 + ["a", "q"]))
    assert len(store.read(LabelRecord)) == 5  # the sixth press finds nothing left to label
    assert app.current is None


def test_markup_in_outputs_is_shown_as_text(store: RunStore) -> None:
    rows = (store.dir / "generations.jsonl").read_text(encoding="utf-8")
    store.path("generations.jsonl").write_text(
        rows.replace('"output": "', '"output": "[bold red]x[/] '), encoding="utf-8"
    )

    async def look() -> tuple[bool, str, str]:
        app, _ = make_app(store, "ann", Clock())
        async with app.run_test(size=(70, 30)) as pilot:
            await pilot.pause()
            shown = [str(app.query_one(f"#answer-{s}", Static).content) for s in "ab"]
            pair = app.query_one("#pair")
            return app.screen.has_class("-narrow"), " ".join(shown), pair.styles.layout.name

    narrow, shown, layout = run(look())
    assert "[bold red]x[/]" in shown  # literal text, not markup
    assert narrow and layout == "vertical"  # stacked on a narrow terminal


def test_long_answers_scroll(store: RunStore) -> None:
    rows = (store.dir / "generations.jsonl").read_text(encoding="utf-8")
    long = " ".join(f"line{i}\\n" for i in range(200))
    store.path("generations.jsonl").write_text(
        rows.replace('"output": "', f'"output": "{long}'), encoding="utf-8"
    )

    async def scrolled() -> tuple[float, float]:
        app, _ = make_app(store, "ann", Clock())
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("pagedown", "down")
            await pilot.pause()
            return tuple(app.query_one(f"#slot-{s}").scroll_y for s in "ab")

    assert run(scrolled()) == (11, 11)


def test_screenshot_svg(store: RunStore, tmp_path: Path) -> None:
    async def shot() -> str:
        app, _ = make_app(store, "ann", Clock())
        async with app.run_test(size=(110, 32)) as pilot:
            await pilot.pause()
            return app.export_screenshot()

    svg = run(shot())
    assert svg.startswith("<svg") and "Response" in svg
