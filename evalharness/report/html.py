"""report.html: one self-contained page with the report's tables and inline plots.

Nothing is loaded from the network: plots are ``data:`` URIs, the style sheet is inline, and
a Content-Security-Policy forbids everything else (scripts included). Every piece of text
taken from the analysis goes through :func:`html.escape`.
"""

from __future__ import annotations

import evalharness.report.content as content
from evalharness.analysis.model import Analysis
from evalharness.report.content import NOT_RUN, Row
from evalharness.report.cost import COST_HEADER, cost_rows
from evalharness.report.human import human_html
from evalharness.report.plots import Plot
from evalharness.report.style import STYLE, esc, table

__all__ = ["CSP", "STYLE", "esc", "render_html", "table"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _rows(rows: list[Row], header: tuple[str, str, str]) -> str:
    return table(header, [(r.label, r.value, r.reading) for r in rows], numeric=(1,))


def figure(plot: Plot | None) -> str:
    """An inline plot with its caption, or a note saying why it is missing."""
    if plot is None:
        return ""
    if plot.data_uri is None:
        return f'<p class="missing">{esc(plot.title)}: {esc(plot.missing or "not drawn")}.</p>'
    return (
        f'<figure><img src="{esc(plot.data_uri)}" alt="{esc(plot.alt)}" '
        f'data-plot="{esc(plot.name)}"><figcaption>{esc(plot.title)}</figcaption></figure>'
    )


def _trust(analysis: Analysis) -> str:
    parts = ['<h2 id="trust">⚠ Can this judge be trusted?</h2>']
    loud = content.self_judging_warning(analysis)
    if loud:
        parts.append(f'<p class="loud">⚠ {esc(loud)}</p>')
    warnings = content.warnings_list(analysis)
    if warnings:
        items = "".join(f"<li>⚠ {esc(w)}</li>" for w in warnings)
        parts.append(f'<div class="warn"><ul>{items}</ul></div>')
    elif not loud:
        parts.append(
            '<p class="ok">No warnings: no self-judging, enough probability on the answers, '
            "stable under order swaps, no significant length or confidence bias.</p>"
        )
    return "\n".join(parts)


def _bias(analysis: Analysis, plots: dict[str, Plot]) -> str:
    parts = ['<h2 id="bias">Judge bias probes</h2>']
    rows = content.bias_rows(analysis)
    if rows is None:
        parts.append(
            f"<p>Bias probes: <strong>{NOT_RUN}</strong> "
            "(run <code>evalharness bias RUN_DIR</code>).</p>"
        )
        return "\n".join(parts)
    parts.append(
        "<p>Net preference from −1 (always the original) to +1 (always the variant); "
        "0 means the judge ignores the change.</p>"
    )
    parts.append(_rows(rows, ("measure", f"estimate [{content.ci_label(analysis)}]", "reading")))
    parts.append("<h3>Which criterion each probe moves most</h3>")
    exploit = content.exploit_rows(analysis) or []
    parts.append(
        table(
            ("probe", "criterion", "score shift", "significant", "reading"),
            [(r.probe, r.criterion, r.shift, r.significant, r.reading) for r in exploit],
            numeric=(2,),
        )
    )
    parts.append(figure(plots.get("bias")))
    return "\n".join(parts)


def _examples(analysis: Analysis) -> str:
    parts = ['<h2 id="examples">Side-by-side examples</h2>']
    items = content.examples(analysis)
    if not items:
        return parts[0] + "<p>No examples (no prompt has both answers).</p>"
    for number, ex in enumerate(items, 1):
        columns = "".join(
            f"<div><h4>{role.capitalize()} <span class='scores'>({esc(ex.details[role])})</span>"
            f"</h4><pre>{esc(ex.responses[role])}</pre>"
            f'<p class="scores">scores: {esc(ex.scores[role])}</p></div>'
            for role in ("base", "tuned")
        )
        parts.append(
            f'<div class="example"><h3>Example {number}: {esc(ex.prompt_id)}</h3>'
            f"<p><strong>Prompt</strong></p><pre>{esc(ex.prompt)}</pre>"
            f'<div class="pair">{columns}</div></div>'
        )
    return "\n".join(parts)


def render_html(analysis: Analysis, plots: dict[str, Plot]) -> str:
    """The whole report.html of an analysis and its rendered plots."""
    facts = {r.label: r.value for r in content.run_facts(analysis)}
    criteria = content.criteria_rows(analysis)
    criteria_table = (
        table(
            ("criterion", "base", "tuned", "tuned − base", "reading"),
            [(r.criterion, r.base, r.tuned, r.difference, r.reading) for r in criteria],
            numeric=(1, 2, 3),
        )
        if criteria
        else "<p>No pointwise scores.</p>"
    )
    body = [
        "<h1>evalharness report</h1>",
        f'<p class="sub"><strong>Tuned</strong> {esc(facts["Tuned model"])} vs '
        f"<strong>base</strong> {esc(facts['Base model'])}, judged by {esc(facts['Judge'])} "
        f"with rubric {esc(facts['Rubric'])} on {esc(facts['Prompts'])} prompts "
        f"(seed {esc(facts['Seed'])}).</p>",
        _trust(analysis),
        '<h2 id="headline">Headline: tuned vs base</h2>',
        _rows(
            content.headline_rows(analysis),
            ("measure", f"value [{content.ci_label(analysis)}]", "reading"),
        ),
        '<h2 id="criteria">Scores per criterion</h2>',
        criteria_table,
        figure(plots.get("criteria")),
        figure(plots.get("score_vs_length")),
        '<h2 id="reliability">Judge reliability</h2>',
        _rows(content.reliability_rows(analysis), ("measure", "value", "reading")),
        figure(plots.get("position")),
        _bias(analysis, plots),
        human_html(analysis),
        _examples(analysis),
        '<h2 id="cost">Run cost</h2>' if cost_rows(analysis) else "",
        table(COST_HEADER, cost_rows(analysis), numeric=(3, 4)) if cost_rows(analysis) else "",
        '<p id="view-link">Every prompt, with both answers, the judge\'s probabilities and its '
        'order flips: <a href="view.html">view.html</a>.</p>',
        f"<footer>Run directory: {esc(facts['Run directory'])}. "
        "Intervals: Wilson for shares, a bootstrap over prompts (all items of a prompt "
        "together) for means; at the run's confidence level.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>evalharness report: {esc(facts['Tuned model'])} vs "
        f"{esc(facts['Base model'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
