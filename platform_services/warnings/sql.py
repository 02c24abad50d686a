"""Compile warning rules to one set-based query over the visible records of each source.

Input: a relation `pairs(pair_id, uscc, as_of)`. Records come from `features.query.visible_join`,
the same point-in-time visibility every feature uses; each source adds only its domain, the
evidence detail and, for the abnormal-operations list (whose shared rule keeps removed entries
for history features), that the entry is still listed. Output: one row per warning with its
evidence records as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.definitions import SOURCES
from features.definitions.finance import GRADE_SCORE
from features.query import visible_join
from platform_services.warnings.rules import WarningRule

LISTED = "(t.removed_date IS NULL OR t.removed_date > p.as_of)"


@dataclass(frozen=True)
class RecordShape:
    """How a source's records appear as evidence: domain, detail, value, still in force."""

    domain: str
    detail: str
    value: str = "CAST(NULL AS DOUBLE)"
    in_force: str = "TRUE"


SHAPES: dict[str, RecordShape] = {
    "penalties": RecordShape(
        "t.domain",
        "json_object('decision_no', t.decision_no, 'severity', t.severity, 'penalty_type', "
        "t.penalty_type, 'fine_cny', t.fine_cny, 'authority', t.authority)",
    ),
    "court_debtors": RecordShape(
        "'judicial'",
        "json_object('case_no', t.case_no, 'court', t.court, 'obligation_cny', t.obligation_cny, "
        "'performance', t.performance)",
    ),
    "serious_dishonesty": RecordShape(
        "'dishonesty'", "json_object('reason', t.reason, 'authority', t.authority)"
    ),
    "abnormal_operations": RecordShape(  # the list is kept by market regulation (市场监管)
        "'market'", "json_object('reason', t.reason, 'authority', t.authority)", in_force=LISTED
    ),
    "social_insurance": RecordShape(
        "'social_insurance'",
        "json_object('arrears_cny', t.arrears_cny, 'headcount', t.headcount)",
        value="t.arrears_cny",
    ),
    "tax_ratings": RecordShape(
        "'tax'", "json_object('rating_year', t.rating_year, 'grade', t.grade)", value=GRADE_SCORE
    ),
}

EVIDENCE = (
    "CAST(to_json(list(struct_pack(table_name := source, record_id := record_id, "
    "date := event_date, domain := domain, detail := detail) "
    "ORDER BY event_date, source, record_id)) AS VARCHAR)"
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def records(table: str, prefix: str = "") -> str:
    """Visible records of one source table in the common evidence shape."""
    source, shape = SOURCES[table], SHAPES[table]
    return f"""
    SELECT p.uscc, p.as_of, '{table}' AS source, t.record_id, t.{source.date} AS event_date,
      {shape.domain} AS domain, {shape.detail} AS detail, CAST({shape.value} AS DOUBLE) AS value,
      {shape.in_force} AS in_force
    FROM {visible_join(source, prefix)}"""


def _evidence(rule: WarningRule) -> str:
    """The records a rule may cite: in force and inside its window; for a rating drop, the
    latest two ratings whatever their age (the latest must be recent, see `_having`)."""
    union = " UNION ALL ".join(f"SELECT * FROM rec_{table}" for table in rule.sources)
    where = ["in_force"]
    if rule.kind != "rating_drop":
        where.append(f"event_date > as_of - INTERVAL {rule.window_months} MONTH")
    if rule.kind == "arrears":
        where.append("value > 0")
    records = f"SELECT * FROM ({union}) u WHERE {' AND '.join(where)}"
    if rule.kind != "rating_drop":
        return records
    order = "PARTITION BY uscc, as_of ORDER BY event_date DESC, record_id DESC"
    ranked = f"SELECT *, row_number() OVER ({order}) AS seq FROM ({records}) r"
    return f"SELECT * FROM ({ranked}) k WHERE seq <= 2"


def _having(rule: WarningRule) -> tuple[str, str, str]:
    """(domain column, GROUP BY, HAVING) of a rule's kind."""
    n, months = rule.threshold, rule.window_months
    match rule.kind:
        case "frequent":
            return "domain", "uscc, as_of, domain", f"count(*) >= {n}"
        case "cross_domain":
            domains = "string_agg(DISTINCT domain, ',' ORDER BY domain)"
            return domains, "uscc, as_of", f"count(DISTINCT domain) >= {n}"
        case "new_listing" | "arrears":
            return "NULL", "uscc, as_of", f"count(*) >= {n}"
        case "rating_drop":  # seq 1: the latest rating, seq 2: the one before it
            fell = f"max(value) FILTER (WHERE seq = 2) - max(value) FILTER (WHERE seq = 1) >= {n}"
            recent = f"max(event_date) FILTER (WHERE seq = 1) > as_of - INTERVAL {months} MONTH"
            return "NULL", "uscc, as_of", f"{fell} AND {recent}"
    raise ValueError(f"{rule.code}: no query for kind {rule.kind}")


def _aggregate(rule: WarningRule) -> str:
    """Group the evidence per warning and keep the groups that reach the threshold."""
    domain, group, having = _having(rule)
    return f"""
    SELECT uscc, as_of, {domain} AS domain, count(*) AS n, min(event_date) AS first_date,
      max(event_date) AS last_date, {EVIDENCE} AS evidence
    FROM ({_evidence(rule)}) e GROUP BY {group} HAVING {having}"""


def _rule_query(rule: WarningRule) -> str:
    return f"""
  SELECT uscc, as_of, {_literal(rule.code)} AS rule, {_literal(rule.zh)} AS rule_zh,
    {_literal(rule.en)} AS rule_en, {_literal(rule.severity)} AS severity, domain,
    {rule.window_months} AS window_months, {rule.threshold} AS threshold,
    CAST(n AS INTEGER) AS evidence_count, first_date AS first_evidence_date,
    last_date AS last_evidence_date, evidence
  FROM ({_aggregate(rule)}) a"""


def compile_rules(rules: tuple[WarningRule, ...], pairs: str, prefix: str = "") -> str:
    """The warnings query (at least one rule): `pairs` is a SELECT of (pair_id, uscc, as_of)."""
    tables = list(dict.fromkeys(t for rule in rules for t in rule.sources))
    ctes = [f"pairs AS ({pairs})"] + [f"rec_{t} AS ({records(t, prefix)}\n)" for t in tables]
    body = "\n  UNION ALL".join(_rule_query(rule) for rule in rules)
    return f"WITH {', '.join(ctes)}\nSELECT * FROM ({body}\n) w ORDER BY uscc, rule, domain"
