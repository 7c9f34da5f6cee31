"""One prompt's entry in the terminal, with rich.

Recorded text is always wrapped in :class:`rich.text.Text`, never parsed as console markup,
so an answer holding ``[bold]`` or escape-like text prints as it is.
"""

from __future__ import annotations

import difflib

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evalharness.errors import ConfigError, did_you_mean
from evalharness.records import PointwiseRecord
from evalharness.view import fmt
from evalharness.view.diff import Segment
from evalharness.view.entries import Comparison, PromptEntry, RunEntries

BLOCKS = " ▁▂▃▄▅▆▇█"


def find_entry(run: RunEntries, prompt_id: str) -> PromptEntry:
    """The entry of a prompt id; ConfigError with the closest ids when there is none."""
    for entry in run.entries:
        if entry.prompt_id == prompt_id:
            return entry
    ids = [e.prompt_id for e in run.entries]
    if not ids:
        raise ConfigError("the run has no prompts yet: run `evalharness generate`")
    if len(ids) <= 30:
        hint = did_you_mean(prompt_id, ids)
    else:
        close = difflib.get_close_matches(prompt_id, ids, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ConfigError(f"no prompt {prompt_id!r} in this run{hint}")


def spark(record: PointwiseRecord | None) -> Text:
    """The judge's level probabilities as block characters, with E and mass."""
    if record is None:
        return Text("not judged", style="dim")
    if record.error:
        return Text(f"failed: {record.error}", style="red")
    levels = sorted(record.probs, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k))
    bars = "".join(
        BLOCKS[max(1, min(8, round(record.probs[k] * 8)))] if record.probs[k] > 0 else "·"
        for k in levels
    )
    text = Text(bars, style="cyan")
    text.append(f" E {fmt.score(record.expected)} · mass {fmt.pct(record.mass)}")
    if record.low_mass:
        text.append(" low mass", style="bold yellow")
    return text


def diff_text(segments: list[Segment]) -> Text:
    """A word-level diff: [-deleted-] in red and {+inserted+} in green (readable without color)."""
    marks = {"equal": ("", "", ""), "delete": ("[-", "-]", "red"), "insert": ("{+", "+}", "green")}
    text = Text()
    for op, piece in segments:
        start, end, style = marks[op]
        text.append(f"{start}{piece}{end}", style=style)
    return text


def _comparison(comparison: Comparison, title: str) -> Table:
    x = fmt.side_name(comparison.x)
    table = Table(title=Text(title), title_justify="left")
    table.add_column("order")
    table.add_column(f"P({x} better)", justify="right")
    table.add_column("mass", justify="right")
    for record, first in ((comparison.xy, x), (comparison.yx, fmt.side_name(comparison.y))):
        if record is None:
            table.add_row(Text(f"{first} first"), Text("missing", style="dim"), Text(""))
            continue
        value = (
            Text(f"failed: {record.error}", style="red")
            if record.error
            else Text(fmt.prob(record.p_x))
        )
        table.add_row(Text(f"{first} first"), value, Text(fmt.pct(record.mass)))
    verdict = Text(f"averaged: {fmt.comparison_verdict(comparison)}")
    if comparison.order_flip:
        verdict.append("  ⚑ the orders disagree", style="bold yellow")
    table.caption = verdict
    table.caption_justify = "left"
    return table


def entry_renderables(entry: PromptEntry, criteria: list[str]) -> list[RenderableType]:
    """The parts of an entry, top to bottom."""
    head = Text(entry.prompt_id, style="bold")
    if entry.category:
        head.append(f"  {entry.category}", style="dim")
    for tag in fmt.flags(entry):
        head.append(f"  [{tag}]", style="bold yellow")
    out: list[RenderableType] = [head, Panel(Text(entry.instruction), title="instruction")]
    for role, gen in sorted(entry.answers.items(), key=lambda kv: (kv[0] != "base", kv[0])):
        meta = f"{role} · {gen.model} · {gen.output_tokens} tokens · finish: {gen.finish_reason}"
        body = Text()
        for turn in gen.history or []:
            body.append(f"{turn.get('role', '?')}: {turn.get('content', '')}\n", style="dim")
        body.append(gen.output)
        if gen.error:
            body.append(f"\nerror: {gen.error}", style="red")
        out.append(Panel(body, title=Text(meta), title_align="left"))
    reference = next((g.reference for g in entry.answers.values() if g.reference), None)
    if reference:
        out.append(Panel(Text(reference), title="reference answer", title_align="left"))
    roles = [r for r in ("base", "tuned") if r in entry.scores]
    if roles:
        table = Table(title=Text("pointwise scores (P of each level)"), title_justify="left")
        table.add_column("criterion", overflow="fold")
        for role in roles:
            table.add_column(role)
        table.add_column("tuned − base", justify="right")
        for criterion in criteria:
            cells = [spark(entry.scores[r].get(criterion)) for r in roles]
            diff = Text(fmt.signed(entry.criterion_diff(criterion)))
            table.add_row(Text(criterion), *cells, diff)
        out.append(table)
    if entry.main is not None:
        out.append(_comparison(entry.main, "pairwise: tuned vs base, both orders"))
    for probe in entry.probes:
        title = Text(fmt.probe_title(probe))
        if probe.flip:
            title.append("  ⚑ probe flip", style="bold yellow")
        body = Text.assemble(diff_text(probe.diff), "\n\n", f"judge: {fmt.probe_verdict(probe)}")
        out.append(Panel(body, title=title, title_align="left"))
    for comparison in entry.extra:
        out.append(_comparison(comparison, f"pairwise: {comparison.name}"))
    for failure in entry.failures:
        body = Text(failure.reason, style="red")
        if failure.raw_text:
            body.append(f"\n{failure.raw_text}", style="")
        out.append(Panel(body, title=Text(f"failed: {failure.what}"), title_align="left"))
    for record in entry.text_mode:
        title = Text(f"text-mode verdict: {fmt.judgment_name(record)}")
        out.append(Panel(Text(record.raw_text or ""), title=title, title_align="left"))
    if entry.labels:
        labels = Text(f"judge: {fmt.main_verdict(entry)} · humans: {fmt.human_words(entry)}")
        if fmt.human_disagrees(entry):
            labels.append("  ⚑ judge and human disagree", style="bold yellow")
        out.append(labels)
    return out


def print_entry(entry: PromptEntry, criteria: list[str], console: Console | None = None) -> None:
    """Print an entry to the terminal."""
    (console or Console(highlight=False)).print(Group(*entry_renderables(entry, criteria)))
