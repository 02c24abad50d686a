"""Point-in-time visibility of each catalog table (DOMAIN.md §4).

Common to all: a record version counts only once ingested (`ingest_date <= as_of`), the
latest such version of a record wins, and a retracted record never counts. On top of that:
a penalty counts only while published, `decision_date <= t < min(repair_date, publicity_end)`;
court-debtor and serious-dishonesty entries only while listed (their removal is a repair); a
reorganisation plan only while in execution, `approved_date <= t < min(terminated_date,
execution_end)` (企业破产法 arts. 86, 93).
"""

from __future__ import annotations

from features.registry import Source

NEVER = "DATE '9999-12-31'"

SOURCES: dict[str, Source] = {
    s.table: s
    for s in (
        Source("entities", "founded_date", record_key="uscc"),
        Source("registration_changes", "change_date"),
        Source(
            "penalties",
            "decision_date",
            f"p.as_of < least(coalesce(t.repair_date, {NEVER}), t.publicity_end)",
        ),
        Source("licences", "decision_date"),
        Source(
            "court_debtors",
            "publish_date",
            "(t.removed_date IS NULL OR t.removed_date > p.as_of)",
        ),
        Source("abnormal_operations", "listed_date"),
        Source(
            "serious_dishonesty",
            "listed_date",
            "(t.removed_date IS NULL OR t.removed_date > p.as_of)",
        ),
        Source("tax_ratings", "published_date"),
        Source("tax_payments", "period_end"),
        Source("social_insurance", "month"),
        Source("utilities", "month"),
        Source("honours", "awarded_date"),
        Source("commitments", "commitment_date"),
        Source(
            "reorganisation_plans",
            "approved_date",
            f"p.as_of < least(coalesce(t.terminated_date, {NEVER}), t.execution_end)",
        ),
    )
}
