"""The "Human check": the judge against human labels, and the prediction-powered win rate.

Reads ``labels.jsonl`` (see evalharness/labels) and the judge's per-prompt preference of the
analysis, and returns the ``human`` section of ``analysis.json`` (schema in
docs/analysis-schema.md, section "Human check"), or None when the run has no labels.

A prompt's human value is the tuned model's win (1 tuned, 0.5 tie, 0 base), averaged over its
annotators. Only labels on the uniformly random sample enter the estimates; extra items
(the judge's hardest, flagged ``random: false``) are listed but kept out.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any

import numpy as np

from evalharness.analysis.codec import decode
from evalharness.analysis.model import Analysis
from evalharness.analysis.model_probes import Human
from evalharness.analysis.ppi import effective_labels, labels_needed, ppi_mean, quantile
from evalharness.analysis.stats import Estimate, bootstrap_mean, outcome
from evalharness.labels.records import LabelRecord, human_value, standing

TARGET_HALF_WIDTH = 0.05
CONFIDENCE = 0.95
LEVELS = ("tuned", "tie", "base")
_OUTCOME_TO_VERDICT = {"win": "tuned", "tie": "tie", "loss": "base"}


def verdict_of(value: float) -> str:
    """A (mean) human value as a verdict: tuned above 0.5, base below, tie at 0.5."""
    return "tuned" if value > 0.5 else "base" if value < 0.5 else "tie"


def _estimate(value: float, se: float, z: float, n: int, note: str = "") -> dict[str, Any]:
    if not math.isfinite(se) or se < 1e-9:
        extra = "no spread in the values; no interval"
        text = f"{note}; {extra}" if note else extra
        return Estimate(value, math.nan, math.nan, n, text).to_dict()
    return Estimate(value, value - z * se, value + z * se, n, note).to_dict()


def ppi_section(
    y: np.ndarray, f_labeled: np.ndarray, f_unlabeled: np.ndarray
) -> dict[str, Any] | None:
    """Human-only and prediction-powered means, effective labels, labels needed for ±5 pts."""
    n, big_n = len(y), len(f_unlabeled)
    if n < 2:
        return None
    z = quantile(CONFIDENCE, n)
    if big_n == 0:
        human = _estimate(float(y.mean()), float(y.std(ddof=1) / math.sqrt(n)), z, n)
        return {"human_only": human, "ppi": human, "lambda": 0.0, "correlation": None,
                "effective_labels": float(n), "labels_needed": None,
                "note": "every prompt is labeled: the human mean needs no judge"}  # fmt: skip
    batch = ppi_mean(y, f_labeled, f_unlabeled, CONFIDENCE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(np.corrcoef(y, f_labeled)[0, 1]) if n > 2 else math.nan
    needed = labels_needed(y, f_labeled, f_unlabeled, TARGET_HALF_WIDTH, CONFIDENCE)
    eff = float(effective_labels(batch, n)[0])
    return {
        "human_only": _estimate(float(batch.classical[0]), float(batch.classical_se[0]), z, n),
        "ppi": _estimate(
            float(batch.value[0]),
            float(batch.se[0]),
            z,
            n + big_n,
            f"{n} labels + judge on {big_n} unlabeled prompts",
        ),  # fmt: skip
        "lambda": float(batch.lam[0]),
        "correlation": rho if math.isfinite(rho) else None,
        "effective_labels": eff if math.isfinite(eff) else None,
        "labels_needed": {"half_width": TARGET_HALF_WIDTH, "n": needed},
        "note": "",
    }


def _kappa(table: np.ndarray) -> dict[str, Any]:
    from statsmodels.stats.inter_rater import cohens_kappa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cohens_kappa(table, return_results=True)
    n = int(table.sum())
    kappa, low, high = float(res.kappa), float(res.kappa_low), float(res.kappa_upp)
    if not math.isfinite(kappa):
        return Estimate(math.nan, math.nan, math.nan, n, "undefined (one category only)").to_dict()
    return Estimate(kappa, low, high, n, "asymptotic 95% interval (statsmodels)").to_dict()


def _inter_annotator(values: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    """Krippendorff's alpha (ordinal: base < tie < tuned) over prompts with two or more labels."""
    import krippendorff

    annotators = sorted({a for per in values.values() for a in per})
    shared = sorted(pid for pid, per in values.items() if len(per) >= 2)
    if len(annotators) < 2 or not shared:
        return None
    data = np.array([[values[p].get(a, np.nan) for p in shared] for a in annotators], dtype=float)
    exact = [len(set(values[p].values())) == 1 for p in shared]
    alpha: float | None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    except (ValueError, ZeroDivisionError):
        alpha = None
    return {
        "annotators": annotators,
        "shared_prompts": len(shared),
        "krippendorff_alpha": alpha if alpha is not None and math.isfinite(alpha) else None,
        "exact_agreement": sum(exact) / len(exact),
    }


def _criteria(
    labels: list[LabelRecord],
    labeled: list[str],
    scores: dict[tuple[str, str], dict[str, float]],
    criteria: list[str],
) -> dict[str, Any] | None:
    """PPI means of each criterion's human score (tuned, base, tuned - base)."""
    human: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in labels:
        for role, per in r.scores.items():
            for c, s in per.items():
                human[(role, c)][r.prompt_id].append(s)
    out: dict[str, Any] = {}
    for c in criteria:
        judge_t, judge_b = scores.get(("tuned", c), {}), scores.get(("base", c), {})
        ht, hb = human.get(("tuned", c), {}), human.get(("base", c), {})
        ids = [p for p in labeled if p in ht and p in hb and p in judge_t and p in judge_b]
        if len(ids) < 2:
            continue
        rest = sorted((judge_t.keys() & judge_b.keys()) - set(ids) - _all(human, c))
        hum_t = np.array([np.mean(ht[p]) for p in ids])
        hum_b = np.array([np.mean(hb[p]) for p in ids])
        jt, jb = np.array([judge_t[p] for p in ids]), np.array([judge_b[p] for p in ids])
        ut, ub = np.array([judge_t[p] for p in rest]), np.array([judge_b[p] for p in rest])
        entry = {
            "tuned": ppi_section(hum_t, jt, ut),
            "base": ppi_section(hum_b, jb, ub),
            "tuned_minus_base": ppi_section(hum_t - hum_b, jt - jb, ut - ub),
        }
        out[c] = entry
    return out or None


def _all(human: dict[tuple[str, str], dict[str, list[int]]], criterion: str) -> set[str]:
    return {p for (_, c), per in human.items() if c == criterion for p in per}


def human_check(
    records: list[LabelRecord],
    per_prompt: dict[str, dict[str, Any]],
    tie_band: float,
    texts: dict[str, dict[str, str]],
    scores: dict[tuple[str, str], dict[str, float]] | None = None,
    criteria: list[str] | None = None,
) -> dict[str, Any] | None:
    """The ``human`` section of the analysis; None without labels.

    ``per_prompt`` is the headline's per-prompt judge preference (``p_tuned``), ``texts``
    maps prompt id to ``{"prompt", "base", "tuned"}`` for the list of disagreements.
    """
    labels = standing(records)
    if not labels:
        return None
    by_prompt: dict[str, dict[str, float]] = defaultdict(dict)
    notes: dict[str, list[str]] = defaultdict(list)
    random_ids = set()
    for r in labels:
        value = human_value(r.verdict)
        if value is None:
            continue
        by_prompt[r.prompt_id][r.annotator] = value
        if r.note:
            notes[r.prompt_id].append(f"{r.annotator}: {r.note}")
        if r.random:
            random_ids.add(r.prompt_id)
    judged = {pid: float(v["p_tuned"]) for pid, v in per_prompt.items()}
    labeled = sorted(p for p in random_ids if p in judged)
    extra = sorted(p for p in by_prompt if p not in random_ids)
    unlabeled = sorted(p for p in judged if p not in by_prompt)
    human_mean = {p: float(np.mean(list(v.values()))) for p, v in by_prompt.items()}

    confusion = {h: dict.fromkeys(LEVELS, 0) for h in LEVELS}
    agree, disagreements = [], []
    for pid in sorted(p for p in by_prompt if p in judged):
        h = verdict_of(human_mean[pid])
        j = _OUTCOME_TO_VERDICT[outcome(judged[pid], tie_band)]
        if pid in random_ids:
            confusion[h][j] += 1
            agree.append(1.0 - abs(human_value(h) - human_value(j)))  # type: ignore[operator]
        if h != j:
            text = texts.get(pid, {})
            disagreements.append(
                {
                    "prompt_id": pid,
                    "prompt": text.get("prompt", ""),
                    "responses": {"base": text.get("base", ""), "tuned": text.get("tuned", "")},
                    "judge_p_tuned": judged[pid],
                    "judge": j,
                    "human": h,
                    "human_value": human_mean[pid],
                    "notes": notes.get(pid, []),
                    "random": pid in random_ids,
                }  # fmt: skip
            )
    table = np.array([[confusion[h][j] for j in LEVELS] for h in LEVELS], dtype=float)
    y = np.array([human_mean[p] for p in labeled])
    section = ppi_section(y, np.array([judged[p] for p in labeled]),
                          np.array([judged[p] for p in unlabeled]))  # fmt: skip
    all_f = np.array(list(judged.values()))
    judge_only = (
        _estimate(
            float(all_f.mean()),
            float(all_f.std(ddof=1) / math.sqrt(len(all_f))),
            quantile(CONFIDENCE, len(all_f)),
            len(all_f),
            "the judge alone: its interval ignores its bias",
        )  # fmt: skip
        if len(all_f) >= 2
        else None
    )
    return {
        "n_labels": len(labeled),
        "n_label_records": len(records),
        "annotators": sorted({r.annotator for r in labels}),
        "extra_labeled": extra,
        "unlabeled_prompts": len(unlabeled),
        "labels_without_judgment": sorted(p for p in by_prompt if p not in judged),
        "agreement": bootstrap_mean(np.array(agree)).to_dict() if agree else None,
        "kappa": _kappa(table) if agree else None,
        "confusion": confusion,
        "disagreements": disagreements,
        "inter_annotator": _inter_annotator(by_prompt),
        "human_win_rate": section["human_only"] if section else None,
        "ppi_win_rate": section["ppi"] if section else None,
        "judge_win_rate": judge_only,
        "lambda": section["lambda"] if section else None,
        "correlation": section["correlation"] if section else None,
        "effective_labels": section["effective_labels"] if section else None,
        "labels_needed": section["labels_needed"] if section else None,
        "criteria": _criteria(labels, labeled, scores or {}, criteria or []),
    }


def human_for_run(
    store: Any,
    analysis: Analysis,
    scores: dict[tuple[str, str], dict[str, float]],
    criteria: list[str],
    tie_band: float,
) -> Human | None:
    """The ``human`` section for a run directory (its labels.jsonl), None without labels.

    ``analysis`` gives the judge's per-prompt preferences and the texts of the examples.
    """
    records = store.read(LabelRecord)
    if not records:
        return None
    texts = {e.prompt_id: {"prompt": e.prompt, **e.responses} for e in analysis.examples}
    per_prompt = {k: {"p_tuned": v.p_tuned} for k, v in analysis.headline.per_prompt.items()}
    section = human_check(records, per_prompt, tie_band, texts, scores, criteria)
    return None if section is None else decode(Human, section, "human")
