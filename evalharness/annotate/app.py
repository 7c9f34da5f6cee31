"""``evalharness annotate``: a terminal app for blind pairwise human labels (Textual).

The instruction and the two answers are shown side by side (stacked on a narrow terminal),
in the sample's shuffled slot order, without model names. Every decision is appended to
``labels.jsonl`` at once (see evalharness/labels/records.py), so quitting at any moment
loses nothing and the next session resumes where this one stopped.

Keys: ``a`` A is better, ``b`` B is better, ``t`` tie, ``s`` skip, ``u`` undo the last
decision, ``n`` add a note, ``q`` quit; arrows and page keys scroll both answers. With
``--criteria``, each verdict is followed by a 1-5 score of both answers on every criterion
of the rubric (digits; ``escape`` cancels).
Model outputs are shown as plain text: markup in them is never interpreted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.widgets import Footer, Input, Static

from evalharness.labels.records import VERDICTS, LabelRecord, latest, now, other, verdict_for
from evalharness.labels.sample import Item, Sample, append_labels
from evalharness.runstore import RunStore


@dataclass(frozen=True)
class PairText:
    """What an item shows: the instruction and both models' answers."""

    prompt: str
    tuned: str
    base: str

    def answer(self, role: str) -> str:
        """The answer of a model role."""
        return self.tuned if role == "tuned" else self.base


class AnnotateApp(App[None]):
    """Label the items of a run's label sample, one blind pair at a time."""

    TITLE = "evalharness annotate"
    AUTO_FOCUS = None  # keys go to the app; arrows and page keys scroll both answers
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    CSS = """
    #status { height: 1; background: $primary-background; padding: 0 1; }
    #instruction-box { height: auto; max-height: 30%; border: round $secondary; }
    #pair { layout: horizontal; height: 1fr; }
    Screen.-narrow #pair { layout: vertical; }
    .slot { width: 1fr; height: 1fr; border: round $accent; }
    .slot-title { text-style: bold; }
    #message { height: auto; padding: 0 1; color: $warning; }
    #note { display: none; }
    #note.open { display: block; }
    """
    BINDINGS = [
        Binding("a", "choose('A')", "A better"),
        Binding("b", "choose('B')", "B better"),
        Binding("t", "choose('tie')", "Tie"),
        Binding("s", "choose('skip')", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("n", "note", "Note"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("down", "scroll(1)", "Scroll", show=False),
        Binding("up", "scroll(-1)", show=False),
        Binding("pagedown", "scroll(10)", show=False),
        Binding("pageup", "scroll(-10)", show=False),
        *[Binding(str(k), f"score({k})", show=False) for k in range(1, 6)],
    ]

    def __init__(
        self,
        store: RunStore,
        sample: Sample,
        texts: dict[str, PairText],
        annotator: str,
        criteria: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.store = store
        self.sample = sample
        self.texts = texts
        self.annotator = annotator
        self.criteria = list(criteria or [])
        self.clock = clock
        self.records = [r for r in store.read(LabelRecord) if r.annotator == annotator]
        self.current: Item | None = None
        self.shown_at = clock()
        self.session_start = clock()
        self.note = ""
        self.pending: str | None = None  # a verdict waiting for its criterion scores
        self.pending_seconds = 0.0
        self.to_score: list[tuple[str, str]] = []  # (slot, criterion) still to score
        self.scores: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        """The status line, the instruction, the two slots, a message line and the note box."""
        yield Static(id="status")
        with VerticalScroll(id="instruction-box"):
            yield Static(id="instruction")
        with Container(id="pair"):
            for slot in ("A", "B"):
                with VerticalScroll(classes="slot", id=f"slot-{slot.lower()}"):
                    yield Static(f"Response {slot}", classes="slot-title")
                    yield Static(id=f"answer-{slot.lower()}")
        yield Static(id="message")
        yield Input(placeholder="note for this item; Enter saves, Escape cancels", id="note")
        yield Footer()

    def on_mount(self) -> None:
        """Show the first item and tick the clock once a second."""
        self.advance()
        self.set_interval(1.0, self.refresh_status)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, LabelRecord]:
        """prompt id -> this annotator's latest record."""
        return {pid: r for (pid, _), r in latest(self.records).items()}

    def queue(self) -> list[Item]:
        """Items still to label: never labeled (or undone) first, skipped ones last."""
        state = self.state()
        fresh = [i for i in self.sample.items if state.get(i.prompt_id) is None
                 or state[i.prompt_id].choice == "undo"]  # fmt: skip
        skipped = [i for i in self.sample.items if i.prompt_id in state
                   and state[i.prompt_id].choice == "skip"]  # fmt: skip
        return fresh + skipped

    def labeled(self) -> int:
        """Items of the sample this annotator has labeled."""
        return sum(1 for r in self.state().values() if r.choice in VERDICTS)

    def advance(self, item: Item | None = None) -> None:
        """Show ``item``, or the next one in the queue; a done message when none is left."""
        queue = self.queue()
        self.current = item or (queue[0] if queue else None)
        self.shown_at = self.clock()
        self.note = ""
        self.cancel_scores()
        if self.current is None:
            self.query_one("#instruction", Static).update(Text("All items are labeled."))
            for slot in ("a", "b"):
                self.query_one(f"#answer-{slot}", Static).update("")
            self.say("Done: every item of the sample is labeled. u undoes the last one, q quits.")
        else:
            text = self.texts[self.current.prompt_id]
            slot_a = self.current.slot_a
            self.query_one("#instruction", Static).update(Text(text.prompt))
            self.query_one("#answer-a", Static).update(Text(text.answer(slot_a)))
            self.query_one("#answer-b", Static).update(Text(text.answer(other(slot_a))))
            for slot in ("a", "b"):
                self.query_one(f"#slot-{slot}", VerticalScroll).scroll_home(animate=False)
            extra = "" if self.current.random else " (extra item, outside the random sample)"
            self.say(f"Which response is better?{extra}")
        self.refresh_status()

    def refresh_status(self) -> None:
        """The progress line: item k of n, skipped, time, annotator."""
        total = len(self.sample.items)
        done = self.labeled()
        skipped = sum(1 for r in self.state().values() if r.choice == "skip")
        spent = int(self.clock() - self.session_start)
        position = f"item {min(done + 1, total)} of {total}" if self.current else "all done"
        self.query_one("#status", Static).update(
            Text(
                f"{position} · labeled {done} · skipped {skipped} · "
                f"{spent // 60:02d}:{spent % 60:02d} · annotator {self.annotator}"
            )
        )

    def say(self, message: str) -> None:
        """Show a one-line message under the answers."""
        self.query_one("#message", Static).update(Text(message))

    def write(self, item: Item, choice: str, seconds: float) -> None:
        """Append one record for ``item`` and remember it."""
        before = self.state().get(item.prompt_id)
        record = LabelRecord(
            prompt_id=item.prompt_id,
            annotator=self.annotator,
            revision=0 if before is None else before.revision + 1,
            slot_a=item.slot_a,
            choice=choice,
            verdict=verdict_for(choice, item.slot_a),
            note=self.note if choice != "undo" else "",
            scores=self.scores if choice in VERDICTS else {},
            seconds=round(seconds, 3),
            created=now(),
            source="annotate",
            random=item.random,
            seed=self.sample.seed,
        )
        append_labels(self.store, [record])
        self.records.append(record)

    # ------------------------------------------------------------------ actions

    def action_choose(self, choice: str) -> None:
        """A, B, tie or skip for the item on screen."""
        if self.current is None or self.pending is not None:
            return
        seconds = self.clock() - self.shown_at
        if choice in VERDICTS and self.criteria:
            self.pending, self.pending_seconds = choice, seconds
            self.to_score = [(s, c) for c in self.criteria for s in ("A", "B")]
            self.scores = {}
            self.ask_score()
            return
        self.write(self.current, choice, seconds)
        self.advance()

    def ask_score(self) -> None:
        """Ask for the next criterion score."""
        slot, criterion = self.to_score[0]
        self.say(f"Score response {slot} on {criterion}: press 1-5 (escape cancels)")

    def action_score(self, value: int) -> None:
        """A 1-5 criterion score while scoring; ignored otherwise."""
        if self.pending is None or self.current is None:
            return
        slot, criterion = self.to_score.pop(0)
        role = self.current.slot_a if slot == "A" else other(self.current.slot_a)
        self.scores.setdefault(role, {})[criterion] = value
        if self.to_score:
            self.ask_score()
            return
        self.write(self.current, self.pending, self.pending_seconds)
        self.advance()

    def cancel_scores(self) -> None:
        """Forget a verdict waiting for its scores."""
        self.pending, self.to_score, self.scores = None, [], {}

    def action_cancel(self) -> None:
        """Escape: cancel scoring or close the note box."""
        note = self.query_one("#note", Input)
        if note.has_class("open"):
            note.remove_class("open")
            self.set_focus(None)
            return
        if self.pending is not None:
            self.cancel_scores()
            self.say("Scoring cancelled: choose again.")

    def action_scroll(self, lines: int) -> None:
        """Scroll both answers together."""
        for slot in ("a", "b"):
            self.query_one(f"#slot-{slot}", VerticalScroll).scroll_relative(
                y=lines, animate=False
            )

    def action_undo(self) -> None:
        """Take back this annotator's latest standing decision and show its item again."""
        if self.pending is not None:
            self.cancel_scores()
        state = self.state()
        for record in reversed(self.records):
            if record.choice != "undo" and state.get(record.prompt_id) is record:
                item = self.sample.item(record.prompt_id)
                if item is None:
                    continue
                self.note = ""
                self.write(item, "undo", 0.0)
                self.advance(item)
                self.say(f"Undid {record.choice!r}: choose again.")
                return
        self.say("Nothing to undo.")

    def action_note(self) -> None:
        """Open the note box for the item on screen."""
        if self.current is None:
            return
        note = self.query_one("#note", Input)
        note.value = self.note
        note.add_class("open")
        note.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Keep the note for the item's record and close the box."""
        self.note = event.value.strip()
        event.input.remove_class("open")
        self.set_focus(None)
        self.say(f"Note kept: {self.note}" if self.note else "Note cleared.")
