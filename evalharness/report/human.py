"""The "Human check" section of report.md and report.html (from ``Analysis.human``).

Rows and readings are built once here and laid out by the two small writers at the end, so
both reports say the same thing. Model outputs and notes are untrusted: the Markdown writer
fences them and escapes everything else, the HTML writer escapes everything.
"""

from __future__ import annotations

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_probes import Disagreement, Human
from evalharness.report.fmt import NA, Row, as_estimate, fmt_est, fmt_number, side
from evalharness.report.markup import md_fence, md_table, md_text
from evalharness.report.style import esc, table

DISAGREEMENT_LIMIT = 8
HINT = (
    "No human labels yet. Label a random sample of prompts with `evalharness annotate RUN_DIR` "
    "(or `evalharness labels export/import`), then `evalharness analyze RUN_DIR`: the report "
    "then shows the human win rate, corrected by the labels, with an interval valid whatever "
    "the judge's biases."
)
_VERDICT = {"tuned": "tuned better", "base": "base better", "tie": "tie"}


def _win_reading(est: Estimate | None) -> str:
    where = side(est, 0.5)
    if where is None:
        return "No interval (too few labels or no spread): read with care."
    if where > 0:
        return "People would prefer the tuned model (CI above 50%)."
    if where < 0:
        return "People would prefer the base model (CI below 50%)."
    return "No detectable human preference (CI covers 50%)."


def _count(x: float | None) -> str:
    return NA if x is None else f"{x:.0f}"


def _labels_row(human: Human) -> Row:
    annotators = ", ".join(human.annotators) or NA
    extra = len(human.extra_labeled)
    text = f"{human.n_labels} labeled prompts of the random sample"
    reading = f"annotators: {annotators}; judge only on {human.unlabeled_prompts} more"
    if extra:
        reading += f"; {extra} extra (hardest) items labeled, kept out of the estimates"
    return Row("Human labels", text, reading)


def _ppi_reading(human: Human) -> str:
    base = _win_reading(human.ppi_win_rate)
    judge, ppi = as_estimate(human.judge_win_rate), as_estimate(human.ppi_win_rate)
    outside = judge and ppi and side(ppi, judge.value) not in (0, None)
    if outside:
        base += " The judge alone is outside this interval: its bias moves the verdict."
    return base + " Valid whatever the judge's biases (labels on a random sample)."


def human_rows(analysis: Analysis) -> list[Row] | None:
    """The summary rows of the Human check, or None when the run has no labels."""
    human = analysis.human
    if human is None:
        return None
    needed = human.labels_needed.n if human.labels_needed else None
    width = human.labels_needed.half_width if human.labels_needed else None
    width_text = f"±{width * 100:.0f} points" if width is not None else NA
    prompts = human.n_labels + human.unlabeled_prompts
    if needed is None:
        needed_reading = "Even labeling every prompt would not reach this width here."
    elif needed > prompts:
        needed_reading = f"More than this run's {prompts} prompts: label them all, or add prompts."
    else:
        needed_reading = "At the measured judge-human correlation, on this run's prompts."
    rho, lam = human.correlation, human.lambda_
    rows = [
        _labels_row(human),
        Row(
            "Human win rate, labels only",
            fmt_est(human.human_win_rate, "pct"),
            _win_reading(human.human_win_rate),
        ),
        Row(
            "Judge's win rate, judge only (soft, all prompts)",
            fmt_est(human.judge_win_rate, "pct"),
            "What the judge alone says; its interval ignores the judge's bias.",
        ),
        Row(
            "Prediction-powered win rate (PPI++)",
            fmt_est(human.ppi_win_rate, "pct"),
            _ppi_reading(human),
        ),
        Row(
            "Effective labels",
            _count(human.effective_labels),
            f"The judge makes the {human.n_labels} labels worth this many "
            f"(weight λ = {fmt_number(lam)}, judge-human correlation {fmt_number(rho)}).",
        ),
        Row(
            f"Labels needed for {width_text}",
            str(needed) if needed is not None else "not reachable",
            needed_reading,
        ),
        Row(
            "Judge agrees with people (ties half)",
            fmt_est(human.agreement, "pct"),
            "On the labeled random sample.",
        ),
        Row(
            "Cohen's kappa, judge vs people",
            fmt_est(human.kappa, "signed"),
            "0 = chance agreement, 1 = perfect (win / tie / loss).",
        ),
    ]
    inter = human.inter_annotator
    if inter is not None:
        rows.append(
            Row(
                "Agreement between annotators (Krippendorff's alpha)",
                fmt_number(inter.krippendorff_alpha, "signed"),
                f"{inter.shared_prompts} prompts labeled by two or more of "
                f"{', '.join(inter.annotators)}; exact agreement "
                f"{fmt_number(inter.exact_agreement, 'pct')}.",
            )
        )
    return rows


def confusion_rows(analysis: Analysis) -> list[tuple[str, ...]]:
    """Rows: people's verdict, then the counts of the judge's tuned / tie / base verdicts."""
    table = analysis.human.confusion if analysis.human else {}
    order = ("tuned", "tie", "base")
    return [
        (f"people: {_VERDICT[h]}", *(str(table.get(h, {}).get(j) or 0) for j in order))
        for h in order
    ]


CONFUSION_HEADER = ("", "judge: tuned better", "judge: tie", "judge: base better")
CRITERIA_HEADER = ("criterion", "people, tuned", "PPI tuned", "PPI base", "PPI tuned − base")


def criteria_rows(analysis: Analysis) -> list[tuple[str, ...]]:
    """Per-criterion human mean scores: labels only and prediction-powered."""
    criteria = analysis.human.criteria if analysis.human else None
    if criteria is None:
        return []
    return [
        (
            name,
            fmt_est(entry.tuned.human_only if entry.tuned else None),
            fmt_est(entry.tuned.ppi if entry.tuned else None),
            fmt_est(entry.base.ppi if entry.base else None),
            fmt_est(entry.tuned_minus_base.ppi if entry.tuned_minus_base else None, "signed"),
        )
        for name, entry in criteria.items()
    ]


def disagreements(analysis: Analysis) -> list[Disagreement]:
    """The first disagreements between the judge and people."""
    return analysis.human.disagreements[:DISAGREEMENT_LIMIT] if analysis.human else []


def disagreement_title(item: Disagreement) -> str:
    """One line: prompt id, the judge's P(tuned better) and people's verdict."""
    extra = "" if item.random else " (extra item)"
    p = fmt_number(item.judge_p_tuned, "pct")
    return (
        f"{item.prompt_id}{extra}: judge P(tuned better) = {p}, "
        f"people: {_VERDICT.get(item.human, NA)}"
    )


# --------------------------------------------------------------------------- writers


def human_markdown(analysis: Analysis) -> list[str]:
    """The Human check section of report.md as lines."""
    out = ["## Human check", ""]
    rows = human_rows(analysis)
    if rows is None:
        return out + [HINT, ""]
    out += [md_table(("measure", "value [95% CI]", "reading"), [(r.label, r.value, r.reading)
                                                                 for r in rows]), ""]  # fmt: skip
    out += ["### Judge vs people", "", md_table(CONFUSION_HEADER, confusion_rows(analysis)), ""]
    crit = criteria_rows(analysis)
    if crit:
        out += ["### Criterion scores from people (1-5)", "", md_table(CRITERIA_HEADER, crit), ""]
    items = disagreements(analysis)
    if items:
        out += ["### Where the judge and people disagree", ""]
    for item in items:
        out += [f"**{md_text(disagreement_title(item))}**", "", md_fence(item.prompt)]
        for role in ("base", "tuned"):
            out += ["", f"*{role}*", "", md_fence(item.responses.get(role) or "")]
        notes = item.notes
        out += [""] + [f"> note: {md_text(n)}" for n in notes] + ([""] if notes else [])
    return out


def human_html(analysis: Analysis) -> str:
    """The Human check section of report.html."""
    parts = ['<h2 id="human">Human check</h2>']
    rows = human_rows(analysis)
    if rows is None:
        return parts[0] + f"<p>{esc(HINT)}</p>"
    parts.append(
        table(
            ("measure", "value [95% CI]", "reading"),
            [(r.label, r.value, r.reading) for r in rows],
            numeric=(1,),
        )  # fmt: skip
    )
    parts += ["<h3>Judge vs people</h3>", table(CONFUSION_HEADER, confusion_rows(analysis))]
    crit = criteria_rows(analysis)
    if crit:
        parts += ["<h3>Criterion scores from people (1-5)</h3>", table(CRITERIA_HEADER, crit)]
    items = disagreements(analysis)
    if items:
        parts.append("<h3>Where the judge and people disagree</h3>")
    for item in items:
        notes = "".join(f"<p class='scores'>note: {esc(n)}</p>" for n in item.notes)
        columns = "".join(
            f"<div><h4>{role}</h4><pre>{esc(item.responses.get(role) or '')}</pre></div>"
            for role in ("base", "tuned")
        )
        parts.append(
            f'<div class="example"><h4>{esc(disagreement_title(item))}</h4>'
            f'<pre>{esc(item.prompt)}</pre><div class="pair">{columns}</div>'
            f"{notes}</div>"
        )
    return "\n".join(parts)
