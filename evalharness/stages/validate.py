"""Judge validation: how often the judge agrees with human preference labels, and its biases there.

Each labeled pair is judged in both orders (comparison ``validate``: X = output_1, Y = output_2).
With probes on, output_1 of every pair also gets a padded variant (judged against itself:
the LBR) and an assertive and a hedged variant (judged against each other: the CBR).
Records go to a run directory of their own, so the command resumes.
"""

from __future__ import annotations

from typing import Any

from evalharness.analysis.bias import (
    length_adjusted_rate,
    longer_baseline,
    net_preferences,
    position_stats,
    preference_rate,
)
from evalharness.analysis.intervals import wilson
from evalharness.analysis.readings import (
    bias_warning,
    mass_warning,
    mode_warning,
    position_warning,
)
from evalharness.analysis.run import paired_orders
from evalharness.analysis.settings import StatsSettings
from evalharness.analysis.stats import accuracy, kappa_ci, mean_ci
from evalharness.config import RunConfig
from evalharness.judge.engine import Judge, PairItem
from evalharness.pairs import LabeledPair, load_pairs, resolve_pairs
from evalharness.probes.rewrite import make_variants
from evalharness.records import (
    CONFIDENCE_COMPARISON,
    VALIDATE_COMPARISON,
    PairwiseRecord,
    probe_comparison,
)
from evalharness.runstore import RunStore
from evalharness.stages.common import StageSummary, judge_in_chunks, make_judge
from evalharness.templates import JudgeSetup, resolve_judge_setup
from evalharness.text.markers import word_count
from evalharness.text.rules import load_rules

COMPARISON = VALIDATE_COMPARISON
LBR_COMPARISON = probe_comparison("padded")
CBR_COMPARISON = probe_comparison(CONFIDENCE_COMPARISON)


def _items(pairs: list[LabeledPair], config: RunConfig, probes: bool) -> list[PairItem]:
    items = [
        PairItem(p.id, COMPARISON, "output_1", "output_2", p.instruction, p.output_1, p.output_2)
        for p in pairs
    ]
    if probes:
        rules = load_rules(config.probe_rules)
        for p in pairs:
            v = make_variants(p.output_1, p.instruction, rules, config.seed, key=p.id)
            if v["padded"].text != p.output_1:
                items.append(
                    PairItem(
                        p.id,
                        LBR_COMPARISON,
                        "padded",
                        "original",
                        p.instruction,
                        v["padded"].text,
                        p.output_1,
                    )
                )
            if v["assertive"].text != v["hedged"].text:
                items.append(
                    PairItem(
                        p.id,
                        CBR_COMPARISON,
                        "assertive",
                        "hedged",
                        p.instruction,
                        v["assertive"].text,
                        v["hedged"].text,
                    )
                )
    return items


def run_validation(
    store: RunStore,
    config: RunConfig,
    pairs_name: str,
    limit: int | None,
    probes: bool,
    setup: JudgeSetup | None = None,
    *,
    sample: int | None = None,
) -> tuple[dict[str, Any], StageSummary]:
    """Judge the labeled pairs (resuming) and compute the validation table.

    ``setup`` is the judge setup resolved at the command's edge (from ``config`` if None);
    ``sample``: judge that many pairs, drawn with the seed.
    """
    setup = setup or resolve_judge_setup(config)
    path = resolve_pairs(pairs_name)
    pairs = load_pairs(path, limit=limit, sample=sample, seed=config.seed)
    judge: Judge = make_judge(config, setup)
    store.update_manifest(
        validation={
            "pairs": str(path),
            "n": len(pairs),
            "judge": config.judge,
            "rubric": judge.rubric.key,
            "probes": probes,
        },
        config=config.to_dict(),
    )
    done = store.keys(PairwiseRecord)
    todo = [
        item
        for item in _items(pairs, config, probes)
        if not setup.pairwise_keys(item.prompt_id, item.comparison) <= done
    ]
    summary = StageSummary("validate", done_before=len(done))
    judge_in_chunks(store, todo, judge.compare, "validate", 2, summary)
    summary.finish()
    records = [r for r in store.read(PairwiseRecord) if setup.owns(r)]
    return table(pairs, records, judge, config), summary


def _vote(p_output_1: float) -> float:
    """1 for output_1, 0 for output_2, 0.5 for an exact tie (half a vote each)."""
    return 1.0 if p_output_1 > 0.5 else 0.0 if p_output_1 < 0.5 else 0.5


def baselines(
    pairs: list[LabeledPair], count_tokens: Any, confidence: float
) -> dict[str, dict[str, Any]]:
    """Accuracy of the trivial judges on ``pairs``, each with a Wilson interval.

    ``majority_label`` always names the more frequent label; ``always_first_slot`` says
    "A" in both orders, which after both orders is a tie (half a vote) on every pair;
    ``longer_chars`` / ``longer_words`` / ``longer_tokens`` pick the longer output
    (equal length: half a vote).
    """
    labels = [p.label for p in pairs]
    n = len(labels)
    ones = sum(1 for x in labels if x == 1)
    out = {
        "majority_label": wilson(max(ones, n - ones), n, confidence).to_dict(),
        "always_first_slot": wilson(n / 2, n, confidence).to_dict(),
    }
    for name, measure in (("chars", len), ("words", word_count), ("tokens", count_tokens)):
        out[f"longer_{name}"] = longer_baseline(
            labels,
            [measure(p.output_1) for p in pairs],
            [measure(p.output_2) for p in pairs],
            confidence=confidence,
        ).to_dict()
    return out


def baseline_warning(acc: dict[str, Any], base: dict[str, dict[str, Any]]) -> str | None:
    """Warn when the judge's accuracy is not above the best trivial baseline by its interval."""
    low = acc.get("low")
    rivals = {k: v["value"] for k, v in base.items() if v.get("value") is not None}
    if low is None or not rivals:
        return None
    best = max(rivals, key=lambda k: rivals[k])
    if low > rivals[best]:
        return None
    return (
        f"The judge's accuracy ({acc['value']:.0%}, CI {acc['low']:.0%}..{acc['high']:.0%}) is "
        f"not clearly above the best trivial baseline ({best.replace('_', ' ')}: "
        f"{rivals[best]:.0%}): do not trust its verdicts on these data."
    )


def table(
    pairs: list[LabeledPair], records: list[PairwiseRecord], judge: Judge, config: RunConfig
) -> dict[str, Any]:
    """Accuracy, kappa, baselines, position statistics, LBR, CBR and the warnings."""
    boot: dict[str, Any] = {
        "settings": StatsSettings(config.seed, config.bootstrap, config.confidence)
    }
    by_comparison = paired_orders(records)
    orders = by_comparison.get(COMPARISON, {})
    judged = [p for p in pairs if p.id in orders]
    labels = [p.label for p in judged]
    votes = [_vote(sum(orders[p.id]) / 2) for p in judged]
    predictions = [1.0 if v == 1.0 else 2.0 if v == 0.0 else 1.5 for v in votes]
    mine = [r for r in records if r.comparison == COMPARISON]
    logprob_records = [r for r in records if r.error is None and r.mode == "logprobs"]
    modes: dict[str, int] = {}
    for r in records:
        if r.error is None:
            modes[r.mode] = modes.get(r.mode, 0) + 1
    base = baselines(judged, judge.backend.count_tokens, config.confidence)
    n_label_1 = sum(1 for x in labels if x == 1)
    result: dict[str, Any] = {
        "pairs": len(pairs),
        "judged": len(judged),
        "failed": sum(1 for r in mine if r.error),
        "accuracy": accuracy(labels, predictions, **boot).to_dict(),
        "ties": sum(1 for v in votes if v == 0.5),
        "cohen_kappa": kappa_ci(labels, votes, **boot).to_dict(),
        "label_1_share": wilson(n_label_1, len(labels), config.confidence).to_dict(),
        "baselines": base,
        "longer_baseline_accuracy": base["longer_tokens"],
        "mean_mass": mean_ci([r.mass for r in logprob_records], **boot).to_dict(),
        "modes": modes,
        "position": None,
        "lbr": None,
        "cbr": None,
        "cbr_length_adjusted": None,
    }
    if judged:
        first = [orders[p.id][0] for p in judged]
        second = [1 - orders[p.id][1] for p in judged]
        clusters = [p.id for p in judged]
        result["position"] = position_stats(first, second, clusters=clusters, **boot).to_dict()
    for name, comparison in (("lbr", LBR_COMPARISON), ("cbr", CBR_COMPARISON)):
        probe = by_comparison.get(comparison, {})
        if probe:
            ids = sorted(probe)
            result[name] = preference_rate(
                [probe[i][0] for i in ids], [probe[i][1] for i in ids], clusters=ids, **boot
            ).to_dict()
    cbr_pairs = by_comparison.get(CBR_COMPARISON, {})
    if cbr_pairs:
        result["cbr_length_adjusted"] = _cbr_adjusted(pairs, cbr_pairs, judge, config).to_dict()
    result["warnings"] = validation_warnings(result)
    return result


def _cbr_adjusted(
    pairs: list[LabeledPair],
    cbr_pairs: dict[str, tuple[float, float]],
    judge: Judge,
    config: RunConfig,
) -> Any:
    """The CBR read at equal length (regression on the assertive − hedged token difference)."""
    rules = load_rules(config.probe_rules)
    by_id = {p.id: p for p in pairs}
    ids = [i for i in sorted(cbr_pairs) if i in by_id]
    count = judge.backend.count_tokens
    gaps = []
    for i in ids:
        p = by_id[i]
        v = make_variants(p.output_1, p.instruction, rules, config.seed, key=p.id)
        gaps.append(float(count(v["assertive"].text) - count(v["hedged"].text)))
    net = net_preferences([cbr_pairs[i][0] for i in ids], [cbr_pairs[i][1] for i in ids])
    return length_adjusted_rate(
        net, gaps, ids, StatsSettings(config.seed, config.bootstrap, config.confidence)
    )


def validation_warnings(result: dict[str, Any]) -> list[str]:
    """The same readings as `run` (position, length, confidence, mass, modes) plus baselines."""
    out = [
        baseline_warning(result["accuracy"], result["baselines"]),
        position_warning(result.get("position")),
        bias_warning("lbr", result.get("lbr")),
        bias_warning("cbr", result.get("cbr"), result.get("cbr_length_adjusted")),
        mass_warning("pairwise", result.get("mean_mass")),
        mode_warning(result.get("modes") or {}),
    ]
    return [w for w in out if w]
