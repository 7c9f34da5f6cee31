"""One prompt's entry as HTML. Every piece of recorded text goes through ``esc``."""

from __future__ import annotations

from evalharness.records import PointwiseRecord
from evalharness.report.style import esc
from evalharness.view import fmt
from evalharness.view.diff import Segment
from evalharness.view.entries import Comparison, ProbeView, PromptEntry

BAR_PX = 28


def prob_bars(record: PointwiseRecord | None) -> str:
    """The judge's probability of each level as a small bar chart, with E and mass."""
    if record is None:
        return '<span class="na">not judged</span>'
    if record.error:
        return f'<span class="fail">failed: {esc(record.error)}</span>'
    levels = sorted(record.probs, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k))
    bars = "".join(
        f'<span class="bar" style="height:{max(1, round(record.probs[k] * BAR_PX))}px" '
        f'title="P({esc(k)}) = {record.probs[k]:.3f}"></span>'
        for k in levels
    )
    labels = "".join(f"<span>{esc(k)}</span>" for k in levels)
    low = ' <span class="flag">low mass</span>' if record.low_mass else ""
    return (
        f'<span class="dist" data-levels="{len(levels)}"><span class="bars">{bars}</span>'
        f'<span class="levels">{labels}</span></span> '
        f'<span class="num">E {fmt.score(record.expected)} · '
        f"mass {fmt.pct(record.mass)}</span>{low}"
    )


def diff_html(segments: list[Segment]) -> str:
    """A word-level diff: deletions struck through, insertions highlighted."""
    tags = {"equal": "{}", "delete": "<del>{}</del>", "insert": "<ins>{}</ins>"}
    return "".join(tags[op].format(esc(text)) for op, text in segments)


def _order_rows(comparison: Comparison) -> str:
    x, y = fmt.side_name(comparison.x), fmt.side_name(comparison.y)
    rows = []
    for order, record, first in (("xy", comparison.xy, x), ("yx", comparison.yx, y)):
        if record is None:
            rows.append(f"<tr><td>{esc(first)} first</td><td colspan=3 class=na>missing</td></tr>")
            continue
        value = (
            f'<span class="fail">failed: {esc(record.error)}</span>'
            if record.error
            else esc(fmt.prob(record.p_x))
        )
        rows.append(
            f'<tr data-order="{esc(order)}"><td>'
            f"{esc(first)} first</td><td class=num>{value}</td>"
            f"<td class=num>{esc(fmt.pct(record.mass))}"
            f"{' <span class=flag>low mass</span>' if record.low_mass else ''}</td></tr>"
        )
    return "".join(rows)


def comparison_html(comparison: Comparison, title: str) -> str:
    """Both orders of a comparison, the averaged verdict and an order-disagreement mark."""
    x = fmt.side_name(comparison.x)
    flip = (
        '<p class="flag">⚑ The orders disagree: the judge prefers whichever answer is shown '
        f"{'first' if (comparison.p_xy or 0) > 0.5 else 'second'}.</p>"
        if comparison.order_flip
        else ""
    )
    return (
        f'<div class="cmp"><h4>{esc(title)}</h4><table><thead><tr><th>order</th>'
        f"<th>P({esc(x)} better)</th><th>mass</th></tr></thead><tbody>{_order_rows(comparison)}"
        f"</tbody></table><p><strong>Averaged:</strong> {esc(fmt.comparison_verdict(comparison))}"
        f"</p>{flip}</div>"
    )


def _answers(entry: PromptEntry) -> str:
    cols = []
    for role, gen in sorted(entry.answers.items(), key=lambda kv: (kv[0] != "base", kv[0])):
        meta = f"{gen.output_tokens} tokens · finish: {gen.finish_reason}"
        error = f'<p class="fail">error: {esc(gen.error)}</p>' if gen.error else ""
        cols.append(
            f'<div class="answer" data-role="{esc(role)}"><h4>{esc(role.capitalize())} '
            f'<span class="meta">{esc(gen.model)}</span></h4><p class="meta">{esc(meta)}</p>'
            f"{error}{_history(gen.history)}<pre>{esc(gen.output)}</pre></div>"
        )
    reference = next((g.reference for g in entry.answers.values() if g.reference), None)
    ref = f"<h4>Reference answer</h4><pre>{esc(reference)}</pre>" if reference else ""
    return f'<div class="pair">{"".join(cols)}</div>{ref}'


def _history(history: list[dict[str, str]] | None) -> str:
    """Earlier turns of a multi-turn conversation, folded."""
    if not history:
        return ""
    text = "\n\n".join(f"{turn.get('role', '?')}: {turn.get('content', '')}" for turn in history)
    return (
        f'<details class="history"><summary>earlier turns ({len(history)} messages)</summary>'
        f"<pre>{esc(text)}</pre></details>"
    )


def _scores(entry: PromptEntry, criteria: list[str]) -> str:
    roles = [r for r in ("base", "tuned") if r in entry.scores]
    if not roles:
        return '<p class="na">No pointwise scores.</p>'
    head = "".join(f"<th>{esc(r)}</th>" for r in roles)
    rows = []
    for criterion in criteria:
        cells = "".join(f"<td>{prob_bars(entry.scores[r].get(criterion))}</td>" for r in roles)
        diff = fmt.signed(entry.criterion_diff(criterion))
        rows.append(f"<tr><th>{esc(criterion)}</th>{cells}<td class=num>{esc(diff)}</td></tr>")
    return (
        f'<table class="scores"><thead><tr><th>criterion</th>{head}<th>tuned − base</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _probe(probe: ProbeView, criteria: list[str]) -> str:
    flip = ' <span class="flag">⚑ probe flip</span>' if probe.flip else ""
    scores = " · ".join(
        f"{esc(c)} {esc(fmt.score(probe.scores[c].expected))}"
        for c in criteria
        if c in probe.scores
    )
    return (
        f'<div class="probe" data-kind="{esc(probe.record.kind)}">'
        f"<h5>{esc(fmt.probe_title(probe))}{flip}</h5>"
        f'<pre class="diff">{diff_html(probe.diff)}</pre>'
        f"<p>Judge: {esc(fmt.probe_verdict(probe))}</p>"
        + (f'<p class="meta">variant scores: {scores}</p>' if scores else "")
        + "</div>"
    )


def _raw(entry: PromptEntry) -> str:
    parts = []
    for failure in entry.failures:
        raw = f"<pre>{esc(failure.raw_text)}</pre>" if failure.raw_text else ""
        parts.append(
            f'<li class="failure"><strong>{esc(failure.what)}</strong>: '
            f"{esc(failure.reason)}{raw}</li>"
        )
    for record in entry.text_mode:
        name, raw = esc(fmt.judgment_name(record)), esc(record.raw_text or "")
        parts.append(f"<li><strong>{name}</strong>: <pre>{raw}</pre></li>")
    if not parts:
        return ""
    return f"<h4>Failures and text-mode verdicts</h4><ul class=raw>{''.join(parts)}</ul>"


def _labels(entry: PromptEntry) -> str:
    if not entry.labels:
        return ""
    items = "".join(
        f"<li>{esc(label.verdict)}"
        + (f" — {esc(label.annotator)}" if label.annotator else "")
        + (f": <q>{esc(label.note)}</q>" if label.note else "")
        + "</li>"
        for label in entry.labels
    )
    mark = (
        '<p class="flag">⚑ The judge and the human label disagree.</p>'
        if fmt.human_disagrees(entry)
        else ""
    )
    return (
        f"<h4>Human labels</h4><p>Judge: {esc(fmt.main_verdict(entry))}. Humans:</p>"
        f"<ul class=labels>{items}</ul>{mark}"
    )


def entry_html(entry: PromptEntry, criteria: list[str], index_href: str) -> str:
    """The whole entry of one prompt."""
    tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in fmt.flags(entry))
    category = f' <span class="meta">{esc(entry.category)}</span>' if entry.category else ""
    parts = [
        f'<article class="entry" id="{entry.anchor}" data-prompt="{esc(entry.prompt_id)}">',
        f"<h3>{esc(entry.prompt_id)}{category} {tags}</h3>",
        f'<p class="meta"><a href="{esc(index_href)}">↑ index</a></p>',
        f'<pre class="instruction">{esc(entry.instruction)}</pre>',
        _answers(entry),
        "<h4>Pointwise scores</h4>",
        _scores(entry, criteria),
    ]
    if entry.main is not None:
        parts.append(comparison_html(entry.main, "Pairwise: tuned vs base, both orders"))
    if entry.probes:
        parts.append("<h4>Probe variants (word-level diff against the original)</h4>")
        parts += [_probe(p, criteria) for p in entry.probes]
    for comparison in entry.extra:
        parts.append(comparison_html(comparison, f"Pairwise: {comparison.name}"))
    parts += [_raw(entry), _labels(entry), "</article>"]
    return "\n".join(p for p in parts if p)
