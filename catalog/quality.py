"""Data quality of a platform store: completeness, validity, timeliness, orphans, codes.

Set-based DuckDB SQL, one scan per table plus one for the gaps of monthly tables. Validity
uses the same checks as import (`catalog.validate`); credit codes are checked in Python once
per distinct code. Findings never raise; only a broken store does (`store.connect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from catalog import schema
from catalog.quality_report import (
    LATE_AFTER_DAYS,
    TARGET_PER_10K,
    CodeQuality,
    IngestLag,
    QualityReport,
    TableQuality,
)
from catalog.validate import (
    CODE_REASON,
    FLAGGED_CODE_REASONS,
    REJECTED_CODE_REASONS,
    first_failure,
    ident,
    literal,
    value_checks,
)
from catalog.validate import code_reasons as _code_reasons

__all__ = ["MONTHLY_TABLES", "QualityReport", "check_store"]

Connection = duckdb.DuckDBPyConnection
MONTHLY_TABLES = ("social_insurance", "utilities")
_CODES = "_quality_codes"


def check_store(con: Connection) -> QualityReport:
    """Measure every catalog and bank table of the store behind `con`."""
    tables = list(schema.IMPORTABLE.values())
    codes = _store_codes(con, tables)
    con.register(_CODES, codes)
    try:
        measured = [_measure(con, table) for table in tables]
    finally:
        con.unregister(_CODES)
    return QualityReport(measured, _code_quality(con, codes), _quarantine(con))


def _store_codes(con: Connection, tables: Sequence[schema.Table]) -> pa.Table:
    """(uscc, reason, in_entities) for every distinct code in any table."""
    union = " UNION ".join(f"SELECT uscc FROM {t.name}" for t in tables if t.has_uscc)
    rows = con.execute(
        f"SELECT u.uscc, u.uscc IN (SELECT uscc FROM entities) FROM ({union}) u "
        "WHERE u.uscc IS NOT NULL"
    ).fetchall()
    checked = _code_reasons(str(code) for code, _ in rows)
    return pa.table(
        {
            "uscc": checked.column("raw"),
            "reason": checked.column("reason"),
            "in_entities": pa.array([bool(flag) for _, flag in rows], pa.bool_()),
        }
    )


def _measure(con: Connection, table: schema.Table) -> TableQuality:
    """One scan of `table`: counts, completeness, validity, versions, orphans, lag."""
    items = _aggregates(table)
    joined = (
        f"SELECT t.*, k.reason AS {CODE_REASON}, k.in_entities AS _in_entities "
        f"FROM {table.name} t LEFT JOIN {_CODES} k ON t.uscc = k.uscc"
        if table.has_uscc
        else f"SELECT * FROM {table.name}"
    )
    checks = first_failure(value_checks(table, with_codes=True))
    [row] = con.execute(
        f"SELECT {', '.join(items.values())} FROM (SELECT *, {checks} AS _reason FROM ({joined}))"
    ).fetchall()
    values = dict(zip(items, row, strict=True))
    quality = _table_quality(table, values)
    if table.name in MONTHLY_TABLES:
        quality.missing_months, quality.entities_with_gaps = _month_gaps(con, table)
    return quality


def _aggregates(table: schema.Table) -> dict[str, str]:
    """Named aggregate expressions of the per-table scan."""
    names = set(table.column_names)
    items = {
        "rows": "count(*)",
        "valid": "count(*) FILTER (WHERE _reason IS NULL)",
        "reasons": "histogram(_reason)",
    }
    items |= {f"nn:{c}": f"count({ident(c)})" for c in table.column_names}
    if table.has_uscc:
        flagged = ", ".join(map(literal, FLAGGED_CODE_REASONS))
        items["flagged"] = f"count(*) FILTER (WHERE {CODE_REASON} IN ({flagged}))"
        if table.name != "entities":
            items["orphans"] = "count(*) FILTER (WHERE _in_entities IS NOT TRUE)"
    if "version" in names:
        items["corrected"] = "count(*) FILTER (WHERE version > 1)"
    if "retracted" in names:
        items["retracted"] = "count(*) FILTER (WHERE retracted)"
    if table.event_dates and "ingest_date" in names:
        items |= _lag_aggregates(table)
    return items


def _lag_aggregates(table: schema.Table) -> dict[str, str]:
    """Ingest lag of first versions (later versions are corrections, late by nature)."""
    lag = f"date_diff('day', {ident(table.event_dates[0])}, ingest_date)"
    first = "version = 1" if "version" in table.column_names else "true"
    return {
        "lag_rows": f"count({lag}) FILTER (WHERE {first})",
        "lag_q": f"quantile_disc({lag}, [0.5, 0.9, 0.99]) FILTER (WHERE {first})",
        "lag_max": f"max({lag}) FILTER (WHERE {first})",
        "lag_late": f"count(*) FILTER (WHERE {first} AND {lag} > {LATE_AFTER_DAYS})",
    }


def _table_quality(table: schema.Table, v: dict[str, Any]) -> TableQuality:
    """Turn the scan's named values into a `TableQuality`."""
    rows = int(v["rows"])
    required = [c.name for c in table.columns if not c.nullable]
    present = sum(int(v[f"nn:{c}"]) for c in required)
    return TableQuality(
        table=table.name,
        kind=table.kind,
        rows=rows,
        completeness={c: _share(v[f"nn:{c}"], rows) for c in table.column_names},
        complete_required_share=_share(present, rows * len(required)),
        valid_rows=int(v["valid"]),
        valid_share=_share(v["valid"], rows),
        invalid_reasons=dict(sorted(dict(v["reasons"] or {}).items())),
        flagged_code_rows=_opt_int(v.get("flagged")),
        orphans=_opt_int(v.get("orphans")),
        corrected=_opt_int(v.get("corrected")),
        retracted=_opt_int(v.get("retracted")),
        ingest_lag=_lag(v) if "lag_rows" in v else None,
    )


def _lag(v: dict[str, Any]) -> IngestLag:
    """The ingest-lag findings from the scan's values."""
    rows = int(v["lag_rows"])
    q = v["lag_q"] or [None, None, None]
    p50, p90, p99 = (_opt_int(x) for x in q)
    late = int(v["lag_late"])
    return IngestLag(rows, p50, p90, p99, _opt_int(v["lag_max"]), late, _share(late, rows))


def _month_gaps(con: Connection, table: schema.Table) -> tuple[int, int]:
    """Entity-months absent between each entity's first and last month, and entities with any."""
    [(missing, entities)] = con.execute(
        "SELECT coalesce(sum(gap), 0), count(*) FILTER (WHERE gap > 0) FROM ("
        "SELECT date_diff('month', min(m), max(m)) + 1 - count(*) AS gap FROM ("
        f"SELECT DISTINCT uscc, date_trunc('month', month) AS m FROM {table.name}) "
        "GROUP BY uscc)"
    ).fetchall()
    return int(missing), int(entities)


def _code_quality(con: Connection, codes: pa.Table) -> CodeQuality:
    """Codes of `entities`: failing checks, duplicated version-1 rows, rate per 10,000."""
    in_entities = codes.column("in_entities").to_pylist()
    reasons = [
        r for r, keep in zip(codes.column("reason").to_pylist(), in_entities, strict=True) if keep
    ]
    flagged = sum(r in FLAGGED_CODE_REASONS for r in reasons)
    invalid = sum(r in REJECTED_CODE_REASONS for r in reasons)
    [(duplicates,)] = con.execute(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM entities "
        "WHERE version = 1 GROUP BY uscc HAVING count(*) > 1)"
    ).fetchall()
    distinct = len(reasons)
    rate = (flagged + invalid + int(duplicates)) / distinct * 10_000 if distinct else None
    meets = None if rate is None else rate < TARGET_PER_10K
    return CodeQuality(distinct, flagged, invalid, int(duplicates), rate, TARGET_PER_10K, meets)


def _quarantine(con: Connection) -> dict[str, dict[str, int]]:
    """Quarantined rows by table and reason."""
    rows = con.execute(
        "SELECT table_name, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    found: dict[str, dict[str, int]] = {}
    for table, reason, n in rows:
        found.setdefault(str(table), {})[str(reason)] = int(n)
    return found


def _share(part: Any, whole: int) -> float | None:
    """part / whole, None when whole is 0."""
    return int(part) / whole if whole else None


def _opt_int(value: Any) -> int | None:
    """An int, or None."""
    return None if value is None else int(value)
