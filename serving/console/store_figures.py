"""Figures the console reads from the platform store, each from the code its CLI report uses.

Data quality is `catalog.quality.check_store` (`precredit data check --json`), code errors
`catalog.code_errors`, grades the `entity_evaluation` table (`precredit evaluate-entities`),
warnings the `entity_warnings` table (`precredit warnings run`), routed to the department that
holds each evidence record. Everything is JSON-ready: `/v1/platform/...` answers these dicts
and the console's pages render the same ones.
"""

from __future__ import annotations

from typing import Any

from catalog import code_errors, schema
from catalog.quality import check_store
from catalog.store import Connection
from platform_services.evaluation import table as evaluation_table
from platform_services.warnings.run import TABLE as WARNINGS

# Where a record has no authority column, the department that holds the source table.
TABLE_DEPARTMENT = {
    "court_debtors": "法院",
    "tax_ratings": "税务",
    "tax_payments": "税务",
    "social_insurance": "人社",
    "utilities": "水电气",
    "commitments": "信用办",
}
_WITH_AUTHORITY = tuple(t.name for t in schema.IMPORTABLE.values() if "authority" in t.column_names)


def _exists(con: Connection, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


def _records(con: Connection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def quality(con: Connection) -> dict[str, Any]:
    """`precredit data check --json`, plus rows, corrections and retractions by department."""
    report = check_store(con).to_dict()
    parts = [
        f"SELECT '{name}' AS table_name, authority AS department, count(*) AS rows, "
        "count(*) FILTER (WHERE version > 1) AS corrected, "
        "count(*) FILTER (WHERE coalesce(retracted, false)) AS retracted "
        f"FROM {name} GROUP BY authority"
        for name in _WITH_AUTHORITY
    ]
    sql = " UNION ALL ".join(parts) + " ORDER BY department, table_name"
    report["by_department"] = _records(con, sql)
    return report


def codes(con: Connection) -> dict[str, Any]:
    """Failing and duplicated credit codes by issuing authority."""
    return code_errors.to_dict(code_errors.code_errors(con))


def grades(con: Connection) -> dict[str, Any]:
    """The composite evaluation's grades: entities per grade and status."""
    if not evaluation_table.exists(con):
        return {"evaluated": 0, "as_of": None, "by_grade": []}
    rows = _records(
        con,
        f"SELECT grade, any_value(grade_zh) AS grade_zh, any_value(grade_en) AS grade_en, "
        f"count(*) AS entities, count(*) FILTER (WHERE status = 'active') AS active "
        f"FROM {evaluation_table.TABLE} GROUP BY grade ORDER BY grade",
    )
    total = sum(int(r["entities"]) for r in rows)
    for row in rows:
        row["share"] = round(int(row["entities"]) / total, 4) if total else None
    as_of = con.execute(f"SELECT max(as_of) FROM {evaluation_table.TABLE}").fetchone()
    return {"evaluated": total, "as_of": str(as_of[0]) if as_of else None, "by_grade": rows}


def _department_sql() -> str:
    """(table_name, record_id, department) for every evidence record that can be routed."""
    held = [
        f"SELECT '{n}' AS table_name, record_id, max(authority) AS department FROM {n} "
        "GROUP BY record_id"
        for n in _WITH_AUTHORITY
    ]
    held.append(
        "SELECT 'court_debtors', record_id, max(court) FROM court_debtors GROUP BY record_id"
    )
    return " UNION ALL ".join(held)


def _routed_sql() -> str:
    """One row per (warning, department holding one of its evidence records), latest day."""
    fixed = " ".join(f"WHEN '{t}' THEN '{d}'" for t, d in TABLE_DEPARTMENT.items())
    return f"""
WITH w AS (SELECT * FROM {WARNINGS} WHERE as_of = (SELECT max(as_of) FROM {WARNINGS})),
ev AS (
  SELECT w.uscc, w.as_of, w.rule, w.rule_zh, w.rule_en, w.severity, w.domain, w.evidence_count,
    w.first_evidence_date, w.last_evidence_date, e.table_name, e.record_id
  FROM w, unnest(from_json(w.evidence, '[{{"table_name":"VARCHAR","record_id":"VARCHAR"}}]'))
    AS u(e), LATERAL (SELECT u.e.table_name, u.e.record_id) e
),
routed AS (
  SELECT DISTINCT ev.* EXCLUDE (table_name, record_id),
    coalesce(d.department, CASE ev.table_name {fixed} END, '(unrouted)') AS department
  FROM ev LEFT JOIN ({_department_sql()}) d USING (table_name, record_id)
),
names AS (SELECT uscc, name, industry FROM entities QUALIFY
  row_number() OVER (PARTITION BY uscc ORDER BY version DESC) = 1)
SELECT r.department, r.uscc, n.name, n.industry, r.rule, r.rule_zh, r.rule_en, r.severity,
  r.domain, r.evidence_count, r.first_evidence_date, r.last_evidence_date, r.as_of
FROM routed r LEFT JOIN names n USING (uscc)
ORDER BY r.department, r.uscc, r.rule, r.domain"""


def routed_warnings(con: Connection, department: str | None = None) -> list[dict[str, Any]]:
    """The latest day's warnings, one row per responsible department (or only `department`)."""
    if not _exists(con, WARNINGS):
        return []
    rows = _records(con, _routed_sql())
    return [r for r in rows if department is None or r["department"] == department]


def _count(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Warnings and distinct entities per value of `key`, most warnings first."""
    groups: dict[str, tuple[set[tuple[str, str, str | None]], set[str]]] = {}
    for row in rows:
        found, entities = groups.setdefault(str(row[key] or "-"), (set(), set()))
        found.add((row["uscc"], row["rule"], row["domain"]))
        entities.add(row["uscc"])
    counted = [
        {key: name, "warnings": len(found), "entities": len(entities)}
        for name, (found, entities) in groups.items()
    ]
    return sorted(counted, key=lambda r: (-int(r["warnings"]), str(r[key])))


def warnings(con: Connection) -> dict[str, Any]:
    """The latest day's warnings by sector (GB/T 4754 section) and by responsible department."""
    if not _exists(con, WARNINGS):
        return {"as_of": None, "warnings": 0, "entities": 0, "by_sector": [], "by_department": []}
    rows = routed_warnings(con)
    [(as_of, total, entities)] = con.execute(
        f"SELECT max(as_of), count(*), count(DISTINCT uscc) FROM {WARNINGS} "
        f"WHERE as_of = (SELECT max(as_of) FROM {WARNINGS})"
    ).fetchall()
    return {
        "as_of": str(as_of) if as_of else None,
        "warnings": int(total),
        "entities": int(entities),
        "by_sector": _count(rows, "industry"),
        "by_department": _count(rows, "department"),
    }


def a_grade_taxpayers(con: Connection) -> list[dict[str, Any]]:
    """Per rating year: rated entities, A-rated ones and their share (latest version of each)."""
    return _records(
        con,
        """
SELECT rating_year, count(*) AS rated, count(*) FILTER (WHERE grade = 'A') AS a_grade,
  round(count(*) FILTER (WHERE grade = 'A') / count(*), 4) AS a_share
FROM (SELECT * FROM tax_ratings QUALIFY row_number() OVER (
  PARTITION BY uscc, rating_year ORDER BY version DESC) = 1) latest
WHERE NOT coalesce(retracted, false)
GROUP BY rating_year ORDER BY rating_year""",
    )
