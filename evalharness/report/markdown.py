"""report.md: the run's findings as GitHub-flavoured Markdown (a PR comment or job summary).

Everything taken from the analysis is untrusted: text in tables and headings is escaped
(HTML special characters become entities, Markdown punctuation gets a backslash), and
prompts and model outputs go into fenced code blocks whose fence is longer than any
backtick run inside, so GitHub shows them as text and never renders them.
"""

from __future__ import annotations

import evalharness.report.content as content
from evalharness.analysis.model import Analysis
from evalharness.report.content import NOT_RUN, Row
from evalharness.report.cost import COST_HEADER, cost_rows
from evalharness.report.human import human_markdown
from evalharness.report.markup import md_fence, md_table, md_text

__all__ = ["VIEW_LINK_MD", "md_fence", "md_table", "md_text", "render_markdown"]

VIEW_LINK_MD = (
    "Every prompt, with both answers, the judge's probabilities and its order flips: "
    "[view.html](view.html) (`evalharness view RUN_DIR`)."
)


def _rows_table(rows: list[Row], header: tuple[str, str, str]) -> str:
    return md_table(header, [(r.label, r.value, r.reading) for r in rows])


def _trust_section(analysis: Analysis) -> list[str]:
    out = ["## ⚠ Can this judge be trusted?", ""]
    loud = content.self_judging_warning(analysis)
    if loud:
        out += [f"> **⚠ {md_text(loud)}**", ""]
    warnings = content.warnings_list(analysis)
    if warnings:
        out += [f"- ⚠ {md_text(w)}" for w in warnings]
    elif not loud:
        out.append(
            "No warnings: no self-judging, enough probability on the answers, "
            "stable under order swaps, no significant length or confidence bias."
        )
    return out + [""]


def _bias_section(analysis: Analysis) -> list[str]:
    out = ["## Judge bias probes", ""]
    rows = content.bias_rows(analysis)
    if rows is None:
        return out + [f"Bias probes: **{NOT_RUN}** (run `evalharness bias RUN_DIR`).", ""]
    out += [
        "Net preference from −1 (always the original) to +1 (always the variant); "
        "0 means the judge ignores the change.",
        "",
        _rows_table(rows, ("measure", f"estimate [{content.ci_label(analysis)}]", "reading")),
        "",
        "### Which criterion each probe moves most",
        "",
    ]
    exploit = content.exploit_rows(analysis) or []
    out.append(
        md_table(
            ("probe", "criterion", "score shift", "significant", "reading"),
            [(r.probe, r.criterion, r.shift, r.significant, r.reading) for r in exploit],
        )
    )
    return out + [""]


def _examples_section(analysis: Analysis) -> list[str]:
    out = ["## Side-by-side examples", ""]
    items = content.examples(analysis)
    if not items:
        return out + ["No examples (no prompt has both answers).", ""]
    for number, ex in enumerate(items, 1):
        out += [f"### Example {number}: {md_text(ex.prompt_id)}", "", "**Prompt**", ""]
        out += [md_fence(ex.prompt), ""]
        for role in ("base", "tuned"):
            out += [
                f"**{role.capitalize()}** ({md_text(ex.details[role])}) — "
                f"scores: {md_text(ex.scores[role])}",
                "",
                md_fence(ex.responses[role]),
                "",
            ]
    return out


def render_markdown(analysis: Analysis) -> str:
    """The whole report.md of an analysis."""
    facts = {r.label: r.value for r in content.run_facts(analysis)}
    lines = [
        "# evalharness report",
        "",
        f"**Tuned** {md_text(facts['Tuned model'])} vs **base** {md_text(facts['Base model'])}, "
        f"judged by {md_text(facts['Judge'])} with rubric {md_text(facts['Rubric'])} "
        f"on {md_text(facts['Prompts'])} prompts (seed {md_text(facts['Seed'])}).",
        "",
    ]
    lines += _trust_section(analysis)
    lines += [
        "## Headline: tuned vs base",
        "",
        _rows_table(
            content.headline_rows(analysis),
            ("measure", f"value [{content.ci_label(analysis)}]", "reading"),
        ),
        "",
        "## Scores per criterion",
        "",
    ]
    criteria = content.criteria_rows(analysis)
    if criteria:
        lines.append(
            md_table(
                ("criterion", "base", "tuned", "tuned − base", "reading"),
                [(r.criterion, r.base, r.tuned, r.difference, r.reading) for r in criteria],
            )
        )
    else:
        lines.append("No pointwise scores.")
    lines += [
        "",
        "## Judge reliability",
        "",
        _rows_table(content.reliability_rows(analysis), ("measure", "value", "reading")),
        "",
    ]
    lines += _bias_section(analysis)
    lines += human_markdown(analysis)
    lines += _examples_section(analysis)
    if cost_rows(analysis):
        lines += ["## Run cost", "", md_table(COST_HEADER, cost_rows(analysis)), ""]
    lines += [VIEW_LINK_MD, ""]
    lines += [
        f"<sub>Run directory: {md_text(facts['Run directory'])}. "
        "Intervals: Wilson for shares, a bootstrap over prompts (all items of a prompt "
        "together) for means; at the run's confidence level.</sub>",
        "",
    ]
    return "\n".join(lines)
