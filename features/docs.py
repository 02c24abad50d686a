"""Generate the feature reference (`docs/features.md`) from the registry."""

from __future__ import annotations

from catalog import schema
from features.definitions import REGISTRY
from features.registry import Registry

DIRECTION = {1: "+1 (more = riskier)", -1: "-1 (more = safer)", 0: "0 (unconstrained)"}


def _window(months: int | None) -> str:
    return f"{months} m" if months else "-"


def render(registry: Registry = REGISTRY) -> str:
    """Markdown: one table per catalog category, every field of every declaration."""
    lines = [
        "# Feature reference",
        "",
        "Generated from `features/definitions/` by `precredit features docs`; do not edit by hand.",
        f"{len(registry.features)} features; registry fingerprint `{registry.fingerprint()[:16]}`.",
        "",
        "Point-in-time rule: a record counts at `as_of` only if its event date and ingest date are",
        "on or before `as_of`, in its latest version ingested by then, not retracted, and (penalties)",
        "`decision_date <= as_of < min(repair_date, publicity_end)`; court-debtor and",
        "serious-dishonesty entries only while listed; reorganisation plans while in execution,",
        "`approved_date <= as_of < min(terminated_date, execution_end)`.",
    ]
    for key, (zh, en) in schema.CATEGORIES.items():
        chosen = [f for f in registry.features if f.category == key]
        if not chosen:
            continue
        lines += [
            "",
            f"## {zh} / {en}",
            "",
            "| feature | 中文 | English | source | aggregation | window | monotone | missing | legal basis |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| `{f.name}` | {f.zh} | {f.en} | `{f.source}` | {f.agg} | {_window(f.window_months)} "
            f"| {DIRECTION[f.monotone]} | {f.missing} | {f.legal_basis} |"
            for f in chosen
        ]
    return "\n".join(lines) + "\n"
