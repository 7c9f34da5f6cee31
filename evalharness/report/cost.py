"""The report's run-cost table: one row per stage, then one per probe kind."""

from __future__ import annotations

from evalharness.analysis.model import Analysis

COST_HEADER = ("stage", "work", "tokens", "seconds", "share of run")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def cost_rows(analysis: Analysis) -> list[tuple[str, str, str, str, str]]:
    """Rows of the run-cost table (stage, work, tokens, seconds, share of run)."""
    cost = analysis.cost
    gen, share = cost.stages.generate, cost.share
    sources = sorted({r.token_source for r in gen.by_role.values()})
    tokens = f"{gen.output_tokens:,} generated, {gen.prompt_tokens:,} prompt"
    rows = [
        (
            "generate",
            f"{gen.answers} answers",
            f"{tokens} ({', '.join(s for s in sources if s)})",
            f"{gen.seconds:.1f}",
            _pct(share.get("generate")),
        )
    ]
    for stage, row in (("judge", cost.stages.judge), ("bias", cost.stages.bias)):
        if not row.judgments:
            continue
        computed = row.judge_tokens_computed
        rows.append(
            (
                stage,
                f"{row.judgments} judgments",
                "–" if computed is None else f"{computed:,} computed by the judge",
                f"{row.seconds:.1f}",
                _pct(share.get(stage)),
            )
        )
    probe_share = cost.probe_share_of_run or {}
    for kind, spent in (cost.probe_seconds or {}).items():
        rows.append((f"bias: {kind}", "", "", f"{spent:.1f}", _pct(probe_share.get(kind))))
    return rows
