"""Row checks shared by platform import and the data quality report: declared once, as SQL.

A check is a SQL condition over a table's typed columns that is true when a row fails, and
the stable reason it reports (`enum:<col>`, `range:<col>`, `uscc:<reason>`,
`date_order:<col>`...). Import adds the checks that only make sense on raw text (`missing`,
`type`, `encoding`); both callers take the first failing check of a row.

Credit codes are checked in Python (`catalog.uscc.reasons_for`) once per distinct code and
joined back: codes failing only their check characters are flagged, never rejected
(DOMAIN.md §2: early pilot codes fail the checks and must be counted, not dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from catalog import schema, uscc

FLAGGED_CODE_REASONS: tuple[str, ...] = (uscc.REASON_ORG_CHECK, uscc.REASON_CHECK_CHAR)
REJECTED_CODE_REASONS: tuple[str, ...] = tuple(
    r for r in uscc.REASONS if r not in FLAGGED_CODE_REASONS
)

DATE_ORDER: tuple[tuple[str, str], ...] = (
    ("founded_date", "deregistered_date"),
    ("decision_date", "publicity_end"),
    ("decision_date", "repair_date"),
    ("valid_from", "valid_to"),
    ("awarded_date", "valid_to"),
    ("filing_date", "publish_date"),
    ("publish_date", "removed_date"),
    ("listed_date", "removed_date"),
    ("period_start", "period_end"),
    ("commitment_date", "status_date"),
)
"""(earlier, later) column pairs: a row whose `later` date precedes `earlier` is impossible."""

CODE_REASON = "_code_reason"
"""Name of the joined column holding a row's credit-code failure reason (NULL when valid)."""


@dataclass(frozen=True)
class Check:
    """One row check: `fails` is a SQL condition, `reason` a SQL expression naming the failure."""

    reason: str
    fails: str


def ident(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def date_pairs(table: schema.Table) -> list[tuple[str, str]]:
    """The (earlier, later) date pairs that apply to `table`, ingest date included."""
    names = set(table.column_names)
    pairs = [(a, b) for a, b in DATE_ORDER if a in names and b in names]
    if table.event_dates and "ingest_date" in names:
        pairs.insert(0, (table.event_dates[0], "ingest_date"))
    return pairs


def value_checks(table: schema.Table, *, with_codes: bool) -> list[Check]:
    """Checks on typed values: finite numbers, enums, ranges, credit codes, date order."""
    checks = [
        Check(literal(f"type:{c.name}"), f"NOT isfinite({ident(c.name)})")
        for c in table.columns
        if c.dtype == "DOUBLE"
    ]
    checks += [_enum_check(c) for c in table.columns if c.enum]
    checks += [
        Check(literal(f"range:{c.name}"), f"{ident(c.name)} < {c.min_value!r}")
        for c in table.columns
        if c.min_value is not None
    ]
    if with_codes and table.has_uscc:
        rejected = ", ".join(map(literal, REJECTED_CODE_REASONS))
        checks.append(Check(f"'uscc:' || {CODE_REASON}", f"{CODE_REASON} IN ({rejected})"))
    checks += [
        Check(literal(f"date_order:{later}"), f"{ident(later)} < {ident(earlier)}")
        for earlier, later in date_pairs(table)
    ]
    return checks


def _enum_check(column: schema.Column) -> Check:
    allowed = ", ".join(map(literal, column.enum or ()))
    return Check(literal(f"enum:{column.name}"), f"{ident(column.name)} NOT IN ({allowed})")


def first_failure(checks: Sequence[Check]) -> str:
    """A SQL expression: the reason of the first failing check, NULL when every check passes."""
    if not checks:
        return "CAST(NULL AS VARCHAR)"
    whens = " ".join(f"WHEN {c.fails} THEN {c.reason}" for c in checks)
    return f"CASE {whens} END"


def code_reasons(raw_codes: Iterable[str]) -> pa.Table:
    """(raw, code, reason) for every raw code: its normalised spelling and failure reason."""
    raws = list(raw_codes)
    codes = [uscc.normalize(raw) for raw in raws]
    reasons = uscc.reasons_for(codes)
    return pa.table(
        {
            "raw": pa.array(raws, pa.string()),
            "code": pa.array(codes, pa.string()),
            "reason": pa.array(reasons, pa.string()),
        }
    )
