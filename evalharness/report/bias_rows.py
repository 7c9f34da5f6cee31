"""The report's bias rows: LBR, CBR, each probe's preference and the criterion it moves most."""

from __future__ import annotations

import math
from dataclasses import dataclass

from evalharness.analysis.estimate import Estimate
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_probes import Bias, Exploitability, ProbeResult
from evalharness.report.fmt import (
    NA,
    NOT_RUN,
    Row,
    as_estimate,
    fmt_est,
    note_of,
    points,
    side,
)

# probe kind -> (what the variant is, what preferring it means, what avoiding it means)
PROBE_TEXT: dict[str, tuple[str, str, str]] = {
    "padded": (
        "a padded copy of the same answer (more words, same content)",
        "it rewards length, not content",
        "it penalises length, whatever the content",
    ),
    "shortened": (
        "a shortened copy of the same answer",
        "it rewards brevity, not content",
        "it penalises shorter answers with the same content",
    ),
    "assertive": (
        "a copy of the same answer rewritten to sound certain",
        "it rewards a confident tone, not correctness",
        "it penalises a confident tone",
    ),
    "hedged": (
        "a copy of the same answer rewritten to sound unsure",
        "it rewards hedging, not correctness",
        "it penalises hedging, whatever the content",
    ),
}


@dataclass(frozen=True)
class ExploitRow:
    """The criterion a probe moves most."""

    probe: str
    criterion: str
    shift: str
    significant: str
    reading: str


def bias_rows(analysis: Analysis) -> list[Row] | None:
    """LBR, CBR and each probe's preference over the original; None when bias did not run."""
    bias = analysis.bias
    if bias is None:
        return None
    rows = [
        Row(
            "Length bias, LBR (padded vs original)",
            fmt_est(bias.lbr, "signed"),
            preference_reading(bias.lbr, "padded", "length"),
        ),
        Row(
            "Confidence bias, CBR (assertive vs hedged)",
            fmt_est(bias.cbr, "signed"),
            _cbr_reading(bias.cbr),
        ),
        Row(
            "CBR at equal length (regression on which copy is longer)",
            fmt_est(bias.cbr_length_adjusted, "signed"),
            _cbr_adjusted_reading(bias.cbr, bias.cbr_length_adjusted, bias),
        ),
    ]
    for kind, entry in bias.probes.items():
        pref = entry.preference_over_original
        rows.append(
            Row(
                f"Preference for {kind} over original",
                fmt_est(pref, "signed"),
                preference_reading(pref, kind, _bias_name(kind), _confound_text(kind, entry))
                + _noop_text(entry),
            )
        )
    return rows


def _bias_name(kind: str) -> str:
    return "confidence" if kind in ("assertive", "hedged") else "length"


def _confound_text(kind: str, entry: ProbeResult) -> str:
    """For a tone probe against its original: say when the copy is also longer."""
    if kind not in ("assertive", "hedged"):
        return ""
    before, after = entry.mean_original_tokens, entry.mean_variant_tokens
    if before is None or after is None or abs(after - before) < 0.5:
        return ""
    return (
        f"the copy is also {'longer' if after > before else 'shorter'} ({after:.0f} vs "
        f"{before:.0f} tokens on average), so this mixes tone and length; the CBR compares "
        "tone alone"
    )


def _noop_text(entry: ProbeResult) -> str:
    if entry.noop:
        return f" ({entry.noop} of {entry.n_variants} rewrites changed nothing and were left out.)"
    return ""


def preference_reading(est: Estimate | None, kind: str, bias: str, confounded: str = "") -> str:
    """One sentence on what a net preference for a probe variant over the original means.

    ``confounded`` replaces the conclusion when the variant changed more than one property.
    """
    found = as_estimate(est)
    if found is None:
        return f"{NA}: {note_of(est)}" if est is not None else NOT_RUN
    variant, good, bad = PROBE_TEXT.get(
        kind, (f"the {kind} variant", f"it reacts to {bias}", f"it reacts to {bias}")
    )
    if confounded:
        good = bad = confounded
    value = found.value
    where = side(found)
    if where == 0:
        return f"No detectable {bias} bias (CI covers 0)."
    if value == 0:
        return f"No {bias} bias measured."
    if value > 0:
        sentence = (
            f"The judge prefers {variant} over the original by a net {points(value)} "
            f"(wins minus losses): {good}."
        )
    else:
        sentence = (
            f"The judge prefers the original over {variant} by a net {points(value)} "
            f"(wins minus losses): {bad}."
        )
    if where is None:
        sentence += " No interval could be formed: read with care."
    return sentence


def _cbr_reading(est: Estimate) -> str:
    found = as_estimate(est)
    if found is None:
        return f"{NA}: {note_of(est)}"
    value, where = found.value, side(found)
    if where == 0:
        return "No detectable confidence bias (CI covers 0)."
    if value == 0:
        return "No confidence bias measured."
    if value > 0:
        text = (
            f"The judge prefers the assertive over the hedged copy of the same answer by a net "
            f"{points(value)}: it rewards sounding sure, not being right."
        )
    else:
        text = (
            f"The judge prefers the hedged over the assertive copy of the same answer by a net "
            f"{points(value)}: it rewards hedging, not content."
        )
    return text + (" No interval could be formed: read with care." if where is None else "")


def _cbr_adjusted_reading(raw: Estimate, adjusted: Estimate, bias: Bias) -> str:
    found = as_estimate(adjusted)
    if found is None:
        return f"{NA}: {note_of(adjusted)}"
    gap = bias.cbr_length_gap
    sizes = ""
    if gap:
        sizes = (
            f" The assertive and hedged copies differ by {gap.mean_abs_tokens:.1f} tokens on "
            f"average (at most {gap.max_abs_tokens})."
        )
    raw_side, adjusted_side = side(raw), side(found)
    if raw_side in (1, -1) and adjusted_side == 0:
        return (
            "At equal length the confidence preference is not detectable: "
            "the raw CBR follows length." + sizes
        )
    if adjusted_side in (1, -1):
        return "The confidence preference holds at equal length." + sizes
    return "No detectable confidence bias at equal length (CI covers 0)." + sizes


def exploit_rows(analysis: Analysis) -> list[ExploitRow] | None:
    """Per probe (and for assertive-vs-hedged) the criterion it moves most; None if not run."""
    bias = analysis.bias
    if bias is None:
        return None
    entries = [(kind, entry.exploitability) for kind, entry in bias.probes.items()]
    entries.append(("assertive vs hedged", bias.cbr_exploitability))
    return [_exploit_row(kind, exploit) for kind, exploit in entries]


def _exploit_row(kind: str, exploit: Exploitability | None) -> ExploitRow:
    if exploit is None or exploit.criterion is None or exploit.shift is None:
        return ExploitRow(kind, NA, NA, NA, "No score shift could be measured.")
    criterion, shift, tied = exploit.criterion, exploit.shift, exploit.tied
    direction = "raises" if shift > 0 else "lowers"
    target = " and ".join(tied) if len(tied) > 1 else criterion
    adjusted = [exploit.adjusted_p.get(c) for c in (tied or [criterion])]
    p_values = [p for p in adjusted if p is not None and math.isfinite(p)]
    p_text = f"Holm-adjusted p = {min(p_values):.3f}" if p_values else "familywise test"
    if exploit.significant:
        reading = (
            f"The {kind} rewrite {direction} {target} by {abs(shift):.2f} points "
            f"({p_text}, over every probe and criterion): "
            f"this criterion can be gamed by {_bias_name(kind)}."
        )
    elif len(tied) > 1:
        reading = f"Largest shift shared by {target} (a tie); not significant ({p_text})."
    else:
        reading = f"Largest shift is on {target}, but it is not significant ({p_text})."
    return ExploitRow(
        kind, criterion, f"{shift:+.2f}", "yes" if exploit.significant else "no", reading
    )


def score_shift_estimates(analysis: Analysis) -> list[tuple[str, Estimate | None]]:
    """(label, estimate) for every probe's per-criterion score shift."""
    bias = analysis.bias
    if bias is None:
        return []
    out: list[tuple[str, Estimate | None]] = []
    for kind, entry in bias.probes.items():
        for criterion, est in entry.score_shift.items():
            out.append((f"{kind}: {criterion}", est))
    for criterion, est in bias.cbr_score_shift.items():
        out.append((f"assertive vs hedged: {criterion}", est))
    return out


def preference_estimates(analysis: Analysis) -> list[tuple[str, Estimate | None]]:
    """(label, estimate) for LBR, CBR and each probe's preference over the original."""
    bias = analysis.bias
    if bias is None:
        return []
    out: list[tuple[str, Estimate | None]] = [
        ("LBR (padded vs original)", bias.lbr),
        ("CBR (assertive vs hedged)", bias.cbr),
    ]
    for kind, entry in bias.probes.items():
        out.append((f"{kind} vs original", entry.preference_over_original))
    return out
