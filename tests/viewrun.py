"""A synthetic run with planted features, for the view, show and export tests.

Records are written directly (no model, no judge), so a 1,000-prompt run takes a second,
and which prompts have an order flip, low mass, a failure, a probe flip or a disagreeing
human label is decided here, independently of the code under test.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalharness.config import RunConfig
from evalharness.records import GenerationRecord, PairwiseRecord, PointwiseRecord, ProbeRecord
from evalharness.runstore import RunStore
from evalharness.templates import resolve_judge_setup

SCRIPT = '<script>window.__pwned=1;document.title="pwned"</script>'
IMG = '<img src=x onerror="window.__pwned=2">'
PAYLOAD = f"Sure. {SCRIPT} and {IMG} [bold red]markup[/] &amp; done"
EVIL_ID = '<img src=x onerror="window.__pwned=3">'
CONFIG = RunConfig(base="fake:b", tuned="fake:t", judge="fake:j")


@dataclass
class Planted:
    """Which prompts carry which feature."""

    ids: list[str] = field(default_factory=list)
    order_flips: set[str] = field(default_factory=set)
    low_mass: set[str] = field(default_factory=set)
    failures: set[str] = field(default_factory=set)
    probe_flips: set[str] = field(default_factory=set)
    labeled: set[str] = field(default_factory=set)
    human_disagrees: set[str] = field(default_factory=set)
    payload_ids: set[str] = field(default_factory=set)


def _pair(
    prompt_id: str,
    comparison: str,
    x: str,
    y: str,
    order: str,
    p_x: float,
    mass: float,
    rubric: str,
    template: str,
) -> PairwiseRecord:
    p_first = p_x if order == "xy" else 1 - p_x
    return PairwiseRecord(
        prompt_id=prompt_id,
        comparison=comparison,
        x=x,
        y=y,
        order=order,
        judge=CONFIG.judge,
        rubric=rubric,
        template=template,
        rendered_prompt=f"compare {x} and {y}",
        probs={"A": p_first * mass, "B": (1 - p_first) * mass},
        mass=mass,
        p_first=p_first,
        p_x=p_x,
        low_mass=mass < CONFIG.low_mass,
        mode="logprobs",
    )


def _point(
    prompt_id: str,
    subject: str,
    criterion: str,
    centre: int,
    mass: float,
    rubric: str,
    template: str,
) -> PointwiseRecord:
    weights = {str(s): 1.0 / (1 + abs(s - centre)) for s in range(1, 6)}
    total = sum(weights.values())
    probs = {k: mass * w / total for k, w in weights.items()}
    expected = sum(int(k) * p for k, p in probs.items()) / sum(probs.values())
    return PointwiseRecord(
        prompt_id=prompt_id,
        subject=subject,
        judge=CONFIG.judge,
        rubric=rubric,
        template=template,
        criterion=criterion,
        rendered_prompt=f"score {subject} on {criterion}",
        probs=probs,
        mass=mass,
        expected=expected,
        argmax=centre,
        low_mass=mass < CONFIG.low_mass,
        mode="logprobs",
    )


def make_run(run_dir: Path, n: int, labels: bool = True) -> Planted:
    """Write a run of ``n`` prompts (plus one whose id is HTML) and return what was planted."""
    store = RunStore(run_dir)
    store.update_manifest(config=asdict(CONFIG))
    setup = resolve_judge_setup(CONFIG)
    rubric = setup.rubric
    point_t, pair_t = setup.pointwise.key, setup.pairwise.key
    criteria = setup.criteria
    planted = Planted()
    records: list = []
    label_lines: list[str] = []
    for i in range(n + 1):
        pid = EVIL_ID if i == n else f"p{i:04d}"
        planted.ids.append(pid)
        payload = i % 7 == 0 or i == n
        if payload:
            planted.payload_ids.add(pid)
        for role in ("base", "tuned"):
            text = f"{role} answer {i}: the sky is blue because of Rayleigh scattering."
            records.append(
                GenerationRecord(
                    prompt_id=pid,
                    role=role,
                    model=getattr(CONFIG, role),
                    resolved=f"fake:{role}",
                    prompt=f"Question {i}: why is the sky blue? {PAYLOAD if i == 1 else ''}",
                    rendered_prompt=f"Q{i}",
                    output=PAYLOAD if payload and role == "tuned" else text,
                    prompt_tokens=8,
                    output_tokens=12 + (role == "tuned") * 5,
                    finish_reason="stop",
                    seconds=0.01,
                    params={"temperature": 0.0, "max_new_tokens": 96},
                    category="science" if i % 2 else None,
                    history=[{"role": "user", "content": f"Earlier {SCRIPT}"}] if i == 2 else None,
                    reference=f"Reference {IMG}" if i == 2 else None,
                )
            )
        low = i % 11 == 3
        if low:
            planted.low_mass.add(pid)
        for role in ("base", "tuned"):
            for k, criterion in enumerate(criteria):
                centre = 3 + (role == "tuned") * ((i + k) % 3 - 1)
                records.append(
                    _point(pid, role, criterion, centre, 0.3 if low else 0.95, rubric.key, point_t)
                )
        if i % 13 == 5:
            planted.failures.add(pid)
            failed = _point(pid, "tuned/padded", criteria[0], 3, 0.9, rubric.key, point_t)
            failed.probs, failed.mass, failed.expected, failed.argmax = {}, 0.0, None, None
            failed.mode, failed.raw_text = "text", f"I cannot decide. {PAYLOAD}"
            failed.error = "no verdict among 1,2,3,4,5 in 'I cannot decide.'"
            records.append(failed)
        flip = i % 5 == 2
        if flip:
            planted.order_flips.add(pid)
        p_xy, p_yx = (0.8, 0.3) if flip else (0.7, 0.66)
        for order, p in (("xy", p_xy), ("yx", p_yx)):
            records.append(
                _pair(pid, "tuned_vs_base", "tuned", "base", order, p, 0.9, rubric.key, pair_t)
            )
        variant = (
            f"To answer the question: tuned answer {i}: the sky is blue because of Rayleigh "
            "scattering. In short, that is it."
        )
        records.append(
            ProbeRecord(
                prompt_id=pid,
                source="tuned",
                kind="padded",
                rewriter="rules@test",
                text=variant,
                original_tokens=17,
                variant_tokens=30,
                noop=False,
            )
        )
        probe_flip = i % 9 == 4
        if probe_flip:
            planted.probe_flips.add(pid)
        q_xy, q_yx = (0.9, 0.85) if probe_flip else (0.52, 0.49)
        for order, p in (("xy", q_xy), ("yx", q_yx)):
            records.append(
                _pair(
                    pid,
                    "probe:padded:tuned",
                    "tuned/padded",
                    "tuned",
                    order,
                    p,
                    0.9,
                    rubric.key,
                    pair_t,
                )
            )
        if labels and i % 10 == 0 and i < n:
            planted.labeled.add(pid)
            mean = (p_xy + p_yx) / 2
            judge = "tuned" if mean > 0.55 else "base" if mean < 0.45 else "tie"
            human = "base" if i % 20 == 0 else "tuned"
            if human != judge:
                planted.human_disagrees.add(pid)
            label = {"prompt_id": pid, "annotator": "ann", "revision": 1, "slot_a": "tuned"}
            label |= {"choice": "A" if human == "tuned" else "B", "verdict": human}
            label["note"] = PAYLOAD
            if i % 30 == 0:  # a blind slot verdict, mapped through the shown order
                label = {"prompt_id": pid, "annotator": "ann", "note": PAYLOAD}
                label["verdict"] = "A" if human == "tuned" else "B"
                label["shown_order"] = ["tuned", "base"]
            label_lines.append(json.dumps(label))
            # superseded: an earlier revision (later in the file) and a second annotator's undo
            earlier = {"prompt_id": pid, "annotator": "ann", "revision": 0, "verdict": "tie"}
            if "revision" in label:
                label_lines.append(json.dumps(earlier))
            for revision, choice in ((0, "A"), (1, "undo")):
                label_lines.append(
                    json.dumps(
                        {"prompt_id": pid, "annotator": "other", "revision": revision}
                        | {"slot_a": "base", "choice": choice}
                        | {"verdict": "base" if choice == "A" else None}
                    )
                )
    store.append(records)
    if labels:
        label_lines.append("{not json")
        (run_dir / "labels.jsonl").write_text("\n".join(label_lines) + "\n", encoding="utf-8")
    return planted


def make_viewed_run(run_dir: Path, n: int) -> Planted:
    """:func:`make_run`, then ``evalharness view`` on it (view.html and its pages)."""
    from helpers import invoke

    planted = make_run(run_dir, n)
    invoke("view", str(run_dir))
    return planted


FILTERS = {
    "order-flips": "order_flips",
    "low-mass": "low_mass",
    "failures": "failures",
    "probe-flips": "probe_flips",
    "judge-vs-human": "human_disagrees",
}
"""view.html's filter anchors and the :class:`Planted` set each should show."""
