"""What the reports say, independent of the output format.

Each function turns a part of ``analysis.json`` into rows of plain strings (values already
formatted, with a one-line reading in plain language). The Markdown and HTML writers only
escape and lay out these rows, so both reports always say the same thing. Missing parts of
the analysis (``null``, a stage that did not run) become ``"n/a"`` or ``"not run"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evalharness.analysis.estimate import Estimate

NA = "n/a"
NOT_RUN = "not run"
EXAMPLE_LIMIT = 4
TIME_PROMPT = "Can you tell me the time?"

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
class Row:
    """One line of a report table: a label, a formatted value and a plain-language reading."""

    label: str
    value: str
    reading: str = ""


@dataclass(frozen=True)
class CriterionRow:
    """Mean scores of both models on one criterion and their paired difference."""

    criterion: str
    base: str
    tuned: str
    difference: str
    reading: str


@dataclass(frozen=True)
class ExploitRow:
    """The criterion a probe moves most."""

    probe: str
    criterion: str
    shift: str
    significant: str
    reading: str


@dataclass(frozen=True)
class Example:
    """A prompt with the base and tuned answers and their per-criterion scores."""

    prompt_id: str
    prompt: str
    responses: dict[str, str]
    details: dict[str, str]
    scores: dict[str, str]


def number(x: Any) -> float | None:
    """``x`` as a finite float, or None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def estimate(value: Any) -> dict[str, Any] | None:
    """An Estimate dict with a usable value, or None."""
    if isinstance(value, Estimate):
        value = value.to_dict()
    if isinstance(value, dict) and number(value.get("value")) is not None:
        return value
    return None


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def section(data: Any, *keys: str) -> dict[str, Any]:
    """``dig(data, *keys)`` when it is a mapping, else an empty dict."""
    found = dig(data, *keys)
    return found if isinstance(found, dict) else {}


def fmt_number(x: Any, kind: str = "score") -> str:
    """A number as a percentage (``pct``), signed (``signed``) or plain score (``score``)."""
    value = number(x)
    if value is None:
        return NA
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "signed":
        return f"{value:+.2f}"
    return f"{value:.2f}"


def fmt_est(est: Any, kind: str = "score") -> str:
    """``value [low, high]``; ``value (no CI)`` without an interval; ``n/a`` without a value."""
    found = estimate(est)
    if found is None:
        return NA
    value = fmt_number(found["value"], kind)
    low, high = number(found.get("low")), number(found.get("high"))
    if low is None or high is None:
        return f"{value} (no CI)"
    return f"{value} [{fmt_number(low, kind)}, {fmt_number(high, kind)}]"


def side(est: Any, zero: float = 0.0) -> int | None:
    """+1 / -1 when the interval lies above / below ``zero``, 0 when it covers it, None if no CI."""
    found = estimate(est)
    if found is None:
        return None
    low, high = number(found.get("low")), number(found.get("high"))
    if low is None or high is None:
        return None
    if low > zero:
        return 1
    if high < zero:
        return -1
    return 0


def ci_label(analysis: dict[str, Any]) -> str:
    """``"95% CI"`` at the run's confidence level."""
    level = number(dig(analysis, "run", "confidence"))
    return f"{(level if level is not None else 0.95):.0%} CI"


def points(x: float) -> str:
    """A net preference in [-1, 1] as percentage points of comparisons."""
    value = abs(x) * 100
    return f"{value:.0f} percentage point{'' if round(value) == 1 else 's'}"


# --------------------------------------------------------------------------- headline


def headline_rows(analysis: dict[str, Any]) -> list[Row]:
    """Win rates (raw and controlled), n, outcomes and order disagreements."""
    head = section(analysis, "headline")
    controlled = section(head, "controlled")
    win = head.get("win_rate")
    outcomes = section(head, "outcomes")
    n = head.get("n")
    rows = [
        Row("Win rate, raw (ties count half)", fmt_est(win, "pct"), _win_reading(win)),
        Row(
            "Mean preference for tuned (soft)",
            fmt_est(controlled.get("raw"), "pct"),
            "The judge's average probability that tuned is better, over both orders.",
        ),
        Row(
            "Length-controlled win rate",
            fmt_est(controlled.get("length_controlled"), "pct") if controlled else NA,
            _controlled_reading(
                controlled.get("length_controlled"), controlled.get("raw"), "length"
            ),
        ),
        Row(
            "Length- and confidence-controlled win rate",
            fmt_est(controlled.get("length_confidence_controlled"), "pct") if controlled else NA,
            _controlled_reading(
                controlled.get("length_confidence_controlled"),
                controlled.get("raw"),
                "length and confidence",
            ),
        ),
        Row("Prompts compared (n)", str(n) if isinstance(n, int) else NA),
        Row(
            "Wins / ties / losses",
            " / ".join(str(outcomes.get(k, NA)) for k in ("win", "tie", "loss")),
            _tie_band_text(head.get("tie_band")),
        ),
        Row(
            "Order disagreements",
            _of(head.get("order_disagreements"), n),
            "Prompts where the same slot won both orders, so the winner changed with the order"
            + _undecided_text(head.get("undecided")),
        ),
    ]
    return rows


def _of(count: Any, total: Any) -> str:
    if not isinstance(count, int):
        return NA
    return f"{count} of {total}" if isinstance(total, int) else str(count)


def _undecided_text(count: Any) -> str:
    if isinstance(count, int) and count:
        return f"; {count} more were undecided (exactly 50% in an order)."
    return "."


def _tie_band_text(band: Any) -> str:
    value = number(band)
    if value is None:
        return ""
    return f"A tie is a preference within {value * 50:.0f} points of 50%."


def _win_reading(est: Any) -> str:
    found = estimate(est)
    if found is None:
        return "No pairwise judgments could be paired in both orders."
    where = side(found, 0.5)
    if where == 1:
        return "Tuned beats base (CI above 50%)."
    if where == -1:
        return "Base beats tuned (CI below 50%)."
    if where == 0:
        return "No detectable difference (CI covers 50%)."
    return "No interval (all prompts agree or too few): read with care."


def _controlled_reading(est: Any, raw: Any, what: str) -> str:
    """What a controlled rate says, from its difference to raw (a paired bootstrap interval)."""
    found, base = estimate(est), estimate(raw)
    if found is None:
        return f"Could not be computed: {_note(est)}" if isinstance(est, dict) else NA
    dropped = found.get("dropped_terms") or {}
    if dropped:
        terms = " and ".join(dropped)
        why = "; ".join(str(v) for v in dropped.values())
        return (
            f"{terms.capitalize()} could not be estimated ({why}): this rate does not hold "
            f"{terms} equal, so it says nothing about whether {terms} explains the preference."
        )
    if base is None:
        return ""
    diff = estimate(found.get("minus_raw"))
    where = side(diff) if diff is not None else None
    gap = found["value"] - base["value"]
    if where in (1, -1):
        verb = "Falls" if gap < 0 else "Rises"
        text = f"{verb} by {points(gap)} with {what} held equal (the difference's CI excludes 0)"
        text += (
            f": part of the raw preference is explained by {what}."
            if gap < 0
            else f": {what} works against tuned."
        )
    elif where == 0:
        text = f"No detectable change with {what} held equal (the difference's CI covers 0)."
    else:
        text = f"Changes by {points(gap)} with {what} held equal; no interval for the change."
    extrapolation = found.get("extrapolation")
    if extrapolation:
        text += f" Read with care: {extrapolation}."
    return text


def _note(est: Any) -> str:
    note = est.get("note") if isinstance(est, dict) else None
    return str(note) if note else "no value"


# --------------------------------------------------------------------------- criteria


def criteria_rows(analysis: dict[str, Any]) -> list[CriterionRow]:
    """Each criterion's mean score per model and the paired difference, in rubric order."""
    criteria = section(analysis, "criteria")
    rows = []
    for name, entry in criteria.items():
        entry = section(entry)
        diff = entry.get("tuned_minus_base")
        where = side(diff)
        if estimate(diff) is None:
            reading = "No paired scores."
        elif where == 1:
            reading = "Tuned scores higher (CI excludes 0)."
        elif where == -1:
            reading = "Tuned scores lower (CI excludes 0)."
        elif where == 0:
            reading = "No detectable difference (CI covers 0)."
        else:
            reading = "No interval: read with care."
        rows.append(
            CriterionRow(
                criterion=str(name),
                base=fmt_est(entry.get("base")),
                tuned=fmt_est(entry.get("tuned")),
                difference=fmt_est(diff, "signed"),
                reading=reading,
            )
        )
    return rows


# --------------------------------------------------------------------------- reliability


def self_judging_warning(analysis: dict[str, Any]) -> str | None:
    """The loud warning when the judge is also one of the compared models, else None."""
    rel = section(analysis, "reliability")
    roles = rel.get("judges_itself")
    if not roles:
        return None
    names = "/".join(str(r) for r in roles) if isinstance(roles, list) else str(roles)
    return (
        f"THE JUDGE ({rel.get('judge', NA)}) IS ALSO THE {names.upper()} MODEL: it may prefer "
        "its own outputs (self-preference). Use an independent judge before trusting the verdict."
    )


def reliability_rows(analysis: dict[str, Any]) -> list[Row]:
    """Position consistency, first-slot share, mass on allowed tokens, parse failures."""
    rel = section(analysis, "reliability")
    position = section(rel, "position")
    every = rel.get("position_all_comparisons")
    every = section(every)
    failures = section(rel, "parse_failures")
    consistency = position.get("consistency")
    first = position.get("first_slot_share")
    return [
        Row("Judge", str(rel.get("judge", NA))),
        Row(
            "Position consistency (tuned vs base)",
            fmt_est(consistency, "pct"),
            _consistency_reading(position),
        ),
        Row(
            "Position consistency (all comparisons)",
            fmt_est(every.get("consistency"), "pct"),
            "Includes the probe comparisons.",
        ),
        Row("First-slot share of verdicts", fmt_est(first, "pct"), _first_slot_reading(position)),
        Row(
            "Mass on allowed tokens, pointwise",
            fmt_est(rel.get("pointwise_mass"), "pct"),
            _mass_reading(rel.get("pointwise_mass")),
        ),
        Row(
            "Mass on allowed tokens, pairwise",
            fmt_est(rel.get("pairwise_mass"), "pct"),
            _mass_reading(rel.get("pairwise_mass")),
        ),
        Row(
            "Low-mass judgments, pointwise",
            fmt_number(rel.get("pointwise_low_mass_share"), "pct"),
            "Share of judgments with most probability outside the allowed answers.",
        ),
        Row("Low-mass judgments, pairwise", fmt_number(rel.get("pairwise_low_mass_share"), "pct")),
        Row("Parse failures", _failures_text(failures), _failures_reading(failures)),
        Row("Judgments per mode", _modes_text(rel.get("modes")), _modes_reading(rel.get("modes"))),
    ]


def _modes_text(modes: Any) -> str:
    if not isinstance(modes, dict):
        return NA
    parts = []
    for kind, counts in modes.items():
        if isinstance(counts, dict) and counts:
            inner = ", ".join(f"{m} {c}" for m, c in counts.items())
            parts.append(f"{kind}: {inner}")
    return "; ".join(parts) or NA


def _modes_reading(modes: Any) -> str:
    if not isinstance(modes, dict):
        return ""
    used = {m for counts in modes.values() if isinstance(counts, dict) for m in counts}
    if len(used) > 1:
        return "Mixed modes: text-mode verdicts are all-or-nothing and carry no mass."
    if used == {"text"}:
        return "Text mode: verdicts are parsed from generated text; mass is not measured."
    return "Next-token probabilities; mass is measured on these records only."


def _consistency_reading(position: dict[str, Any]) -> str:
    found = estimate(position.get("consistency"))
    if found is None:
        return "No pair was judged in both orders."
    value = found["value"]
    text = (
        f"The verdict names the same answer in both orders in {value:.0%} of pairs "
        f"({position.get('order_disagreements', NA)} order disagreements, "
        f"{position.get('undecided', NA)} undecided at exactly 50%)"
    )
    if position.get("slot_decides"):
        return text + ": when the order changes the verdict, the slot decided it."
    if value >= 0.9:
        return text + ": the judge looks at content, not position."
    return text + ": verdicts often change with the order (the judge is unsure or noisy)."


def _first_slot_reading(position: dict[str, Any]) -> str:
    found = estimate(position.get("first_slot_share"))
    if found is None:
        return NA
    favours = position.get("favours")
    if favours:
        return f"The judge favours whichever answer comes {favours} (the position warning)."
    return "No detectable slot preference (50% is ideal)."


def _mass_reading(est: Any) -> str:
    found = estimate(est)
    if found is None:
        return NA
    value = found["value"]
    if value < 0.5:
        return f"Only {value:.0%} on the answer tokens: the judge mostly did not answer."
    return f"{value:.0%} of the judge's probability is on the allowed answers."


def _failures_text(failures: dict[str, Any]) -> str:
    if not failures:
        return NA
    point, pair = failures.get("pointwise", 0), failures.get("pairwise", 0)
    total = failures.get("total_judgments", NA)
    return f"{point} pointwise, {pair} pairwise (of {total})"


def _failures_reading(failures: dict[str, Any]) -> str:
    if not failures:
        return ""
    bad = (failures.get("pointwise") or 0) + (failures.get("pairwise") or 0)
    return (
        "Every judgment was read." if bad == 0 else "Failed judgments are left out of all numbers."
    )


# --------------------------------------------------------------------------- bias


def bias_rows(analysis: dict[str, Any]) -> list[Row] | None:
    """LBR, CBR and each probe's preference over the original; None when bias did not run."""
    bias = analysis.get("bias")
    if not isinstance(bias, dict):
        return None
    rows = [
        Row(
            "Length bias, LBR (padded vs original)",
            fmt_est(bias.get("lbr"), "signed"),
            preference_reading(bias.get("lbr"), "padded", "length"),
        ),
        Row(
            "Confidence bias, CBR (assertive vs hedged)",
            fmt_est(bias.get("cbr"), "signed"),
            _cbr_reading(bias.get("cbr")),
        ),
    ]
    rows.append(
        Row(
            "CBR at equal length (regression on which copy is longer)",
            fmt_est(bias.get("cbr_length_adjusted"), "signed"),
            _cbr_adjusted_reading(bias.get("cbr"), bias.get("cbr_length_adjusted"), bias),
        )
    )
    probes = section(bias, "probes")
    for kind, entry in probes.items():
        entry = section(entry)
        pref = entry.get("preference_over_original")
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


def _confound_text(kind: str, entry: dict[str, Any]) -> str:
    """For a tone probe against its original: say when the copy is also longer."""
    if kind not in ("assertive", "hedged"):
        return ""
    before, after = (
        number(entry.get("mean_original_tokens")),
        number(entry.get("mean_variant_tokens")),
    )
    if before is None or after is None or abs(after - before) < 0.5:
        return ""
    return (
        f"the copy is also {'longer' if after > before else 'shorter'} ({after:.0f} vs "
        f"{before:.0f} tokens on average), so this mixes tone and length; the CBR compares "
        "tone alone"
    )


def _noop_text(entry: dict[str, Any]) -> str:
    noop, total = entry.get("noop"), entry.get("n_variants")
    if isinstance(noop, int) and isinstance(total, int) and noop:
        return f" ({noop} of {total} rewrites changed nothing and were left out.)"
    return ""


def preference_reading(est: Any, kind: str, bias: str, confounded: str = "") -> str:
    """One sentence on what a net preference for a probe variant over the original means.

    ``confounded`` replaces the conclusion when the variant changed more than one property.
    """
    found = estimate(est)
    if found is None:
        return f"{NA}: {_note(est)}" if isinstance(est, dict) else NOT_RUN
    variant, good, bad = PROBE_TEXT.get(
        kind, (f"the {kind} variant", f"it reacts to {bias}", f"it reacts to {bias}")
    )
    if confounded:
        good = bad = confounded
    value = found["value"]
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


def _cbr_reading(est: Any) -> str:
    found = estimate(est)
    if found is None:
        return f"{NA}: {_note(est)}" if isinstance(est, dict) else NOT_RUN
    value, where = found["value"], side(found)
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


def _cbr_adjusted_reading(raw: Any, adjusted: Any, bias: dict[str, Any]) -> str:
    found = estimate(adjusted)
    if found is None:
        return f"{NA}: {_note(adjusted)}" if isinstance(adjusted, dict) else NOT_RUN
    gap = section(bias, "cbr_length_gap")
    sizes = ""
    if gap:
        mean_gap = number(gap.get("mean_abs_tokens")) or 0.0
        sizes = (
            f" The assertive and hedged copies differ by {mean_gap:.1f} tokens on average"
            f" (at most {gap.get('max_abs_tokens', NA)})."
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


def exploit_rows(analysis: dict[str, Any]) -> list[ExploitRow] | None:
    """Per probe (and for assertive-vs-hedged) the criterion it moves most; None if not run."""
    bias = analysis.get("bias")
    if not isinstance(bias, dict):
        return None
    probes = section(bias, "probes")
    entries = [(kind, dig(entry, "exploitability")) for kind, entry in probes.items()]
    entries.append(("assertive vs hedged", bias.get("cbr_exploitability")))
    rows = []
    for kind, exploit in entries:
        exploit = section(exploit)
        criterion, shift = exploit.get("criterion"), number(exploit.get("shift"))
        if criterion is None or shift is None:
            rows.append(ExploitRow(kind, NA, NA, NA, "No score shift could be measured."))
            continue
        significant = bool(exploit.get("significant"))
        direction = "raises" if shift > 0 else "lowers"
        tied = exploit.get("tied") or []
        target = " and ".join(tied) if len(tied) > 1 else str(criterion)
        adjusted = [number(section(exploit, "adjusted_p").get(c)) for c in (tied or [criterion])]
        p_values = [p for p in adjusted if p is not None]
        p_text = f"Holm-adjusted p = {min(p_values):.3f}" if p_values else "familywise test"
        if significant:
            reading = (
                f"The {kind} rewrite {direction} {target} by {abs(shift):.2f} points "
                f"({p_text}, over every probe and criterion): "
                f"this criterion can be gamed by {_bias_name(kind)}."
            )
        elif len(tied) > 1:
            reading = f"Largest shift shared by {target} (a tie); not significant ({p_text})."
        else:
            reading = f"Largest shift is on {target}, but it is not significant ({p_text})."
        rows.append(
            ExploitRow(
                kind, str(criterion), f"{shift:+.2f}", "yes" if significant else "no", reading
            )
        )
    return rows


def score_shift_estimates(analysis: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(label, estimate) for every probe's per-criterion score shift."""
    bias = analysis.get("bias")
    if not isinstance(bias, dict):
        return []
    out = []
    probes = section(bias, "probes")
    for kind, entry in probes.items():
        for criterion, est in section(entry, "score_shift").items():
            out.append((f"{kind}: {criterion}", est))
    for criterion, est in section(bias, "cbr_score_shift").items():
        out.append((f"assertive vs hedged: {criterion}", est))
    return out


def preference_estimates(analysis: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(label, estimate) for LBR, CBR and each probe's preference over the original."""
    bias = analysis.get("bias")
    if not isinstance(bias, dict):
        return []
    out = [
        ("LBR (padded vs original)", bias.get("lbr")),
        ("CBR (assertive vs hedged)", bias.get("cbr")),
    ]
    probes = section(bias, "probes")
    for kind, entry in probes.items():
        out.append((f"{kind} vs original", dig(entry, "preference_over_original")))
    return out


# --------------------------------------------------------------------------- warnings, examples


def warnings_list(analysis: dict[str, Any]) -> list[str]:
    """The analysis warnings as strings."""
    items = analysis.get("warnings")
    return [str(w) for w in items] if isinstance(items, list) else []


def run_facts(analysis: dict[str, Any]) -> list[Row]:
    """What was compared: models, judge, rubric, prompts, seed, run directory."""
    run = section(analysis, "run")
    keys = (
        ("Tuned model", "tuned"),
        ("Base model", "base"),
        ("Judge", "judge"),
        ("Rubric", "rubric"),
        ("Prompts", "prompts"),
        ("Seed", "seed"),
        ("Run directory", "dir"),
    )
    return [Row(label, NA if run.get(key) is None else str(run.get(key))) for label, key in keys]


def examples(analysis: dict[str, Any], limit: int = EXAMPLE_LIMIT) -> list[Example]:
    """Up to ``limit`` side-by-side examples, the "time" prompt first."""
    items = [e for e in analysis.get("examples") or [] if isinstance(e, dict)]
    items.sort(key=lambda e: not (e.get("prompt_id") == "time" or e.get("prompt") == TIME_PROMPT))
    out = []
    for item in items[:limit]:
        responses = section(item, "responses")
        scores = section(item, "scores")
        out.append(
            Example(
                prompt_id=str(item.get("prompt_id", NA)),
                prompt=str(item.get("prompt") or ""),
                responses={r: str(responses.get(r) or "") for r in ("base", "tuned")},
                details={r: _detail(item, r) for r in ("base", "tuned")},
                scores={r: _scores_text(scores.get(r)) for r in ("base", "tuned")},
            )
        )
    return out


def _detail(item: dict[str, Any], role: str) -> str:
    tokens = dig(item, "tokens", role)
    finish = dig(item, "finish_reason", role)
    parts = [
        f"{tokens} tokens" if isinstance(tokens, int) else None,
        f"finish: {finish}" if finish else None,
    ]
    return ", ".join(p for p in parts if p) or NA


def _scores_text(scores: Any) -> str:
    if not isinstance(scores, dict) or not scores:
        return NA
    return " · ".join(f"{name} {fmt_number(value)}" for name, value in scores.items())
