"""Compile the feature registry to one set-based, point-in-time SQL query.

Input: a relation `pairs(pair_id, uscc, as_of)`. Per source table the query keeps rows of
the pair's entity with event date and ingest date on or before `as_of`, the latest ingested
version of each record, drops retracted ones, applies the table's visibility rule, and
aggregates every feature of that table in one GROUP BY with `FILTER` clauses. The outer
query left-joins the per-table results to the pairs and evaluates derived features.
The SQL is plain ANSI plus DuckDB's `date_diff`/`max_by`; `features.spark_sql` transpiles it to
Spark SQL (where `date_diff` means something else) and the Spark tests hold both engines equal.
"""

from __future__ import annotations

from features.registry import Feature, Registry, Source

_NEUTRAL = {"count": "0", "any": "0"}


def _window(feature: Feature, date: str) -> str | None:
    if feature.window_months is None:
        return None
    return f"t.{date} > p.as_of - INTERVAL {feature.window_months} MONTH"


def _filter(feature: Feature, source: Source) -> str:
    parts = [c for c in (_window(feature, source.date), feature.where) if c]
    return f" FILTER (WHERE {' AND '.join(f'({c})' for c in parts)})" if parts else ""


def _value(feature: Feature) -> str:
    if feature.dtype != "category":
        return feature.value
    cases = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(feature.categories))
    return f"CASE {feature.value} {cases} END"


def aggregate(feature: Feature, source: Source) -> str:
    """The SQL aggregate computing one non-derived feature over visible rows `t`."""
    flt, value = _filter(feature, source), _value(feature)
    match feature.agg:
        case "count":
            return f"count(*){flt}"
        case "any":
            return f"CAST(count(*){flt} > 0 AS INTEGER)"
        case "sum":  # exact decimal sums: identical results whatever the thread order
            return f"CAST(sum(CAST({value} AS DECIMAL(38, 6))){flt} AS DOUBLE)"
        case "avg":  # the exact sum over the count, divided once in double: equal on every engine
            total = f"CAST(sum(CAST({value} AS DECIMAL(38, 6))){flt} AS DOUBLE)"
            return f"{total} / nullif(count({value}){flt}, 0)"
        case "max" | "min":
            return f"{feature.agg}({value}){flt}"
        case "count_distinct":
            return f"count(DISTINCT {value}){flt}"
        case "latest" | "value":  # ties on the date broken by the record key, deterministically
            return (
                f"max_by({value}, CAST(t.{source.date} AS VARCHAR) || t.{source.record_key}){flt}"
            )
        case "months_since":
            return f"date_diff('month', max(t.{source.date}){flt}, max(p.as_of))"
    raise ValueError(f"{feature.name}: no aggregate for {feature.agg}")


def visible_rows(source: Source, prefix: str = "") -> str:
    """Rows of `source` visible at each pair's as_of: latest ingested version, not retracted."""
    table = prefix + source.table
    entities = source.table == "entities"
    order = "t.version DESC, t.ingest_date DESC" + (", t.name" if entities else "")
    retracted = "" if entities else " AND NOT v.retracted"
    return f"""
    SELECT * FROM (
      SELECT p.pair_id, t.*,
        row_number() OVER (PARTITION BY p.pair_id, t.{source.record_key} ORDER BY {order}) AS _rank
      FROM pairs p JOIN {table} t ON t.uscc = p.uscc
      WHERE t.ingest_date <= p.as_of AND t.{source.date} <= p.as_of
    ) v WHERE v._rank = 1{retracted}"""


def visible_join(source: Source, prefix: str = "") -> str:
    """`FROM` body pairing each pair `p` with the records `t` that count at its as_of (DOMAIN §4).

    The one visibility rule: features aggregate over it, record-level readers (warnings,
    evidence) select from it.
    """
    return f"""pairs p JOIN ({visible_rows(source, prefix)}
    ) t ON t.pair_id = p.pair_id
    WHERE {source.visible}"""


def table_query(source: Source, features: list[Feature], prefix: str = "") -> str:
    """One GROUP BY per source table computing all of its features."""
    columns = ",\n      ".join(f"{aggregate(f, source)} AS {f.name}" for f in features)
    return f"""
    SELECT p.pair_id,
      {columns}
    FROM {visible_join(source, prefix)}
    GROUP BY p.pair_id"""


def _outer(feature: Feature, alias: str) -> str:
    expr = f"{alias}.{feature.name}"
    if feature.default is None:
        return f"{expr} AS {feature.name}"
    return f"coalesce({expr}, {feature.default}) AS {feature.name}"


def compile_registry(registry: Registry, prefix: str = "") -> str:
    """The full query: pairs in, (pair_id, uscc, as_of, feature...) out, ordered by pair_id.

    `prefix` names the source tables (`<prefix><table>`), e.g. per-request extracts.
    """
    by_source: dict[str, list[Feature]] = {}
    for feature in registry.features:
        if feature.agg != "derived":
            by_source.setdefault(feature.source, []).append(feature)
    ctes: list[str] = []
    joins: list[str] = []
    base: list[str] = []
    for i, (table, features) in enumerate(by_source.items()):
        ctes.append(f"s{i} AS ({table_query(registry.sources[table], features, prefix)}\n)")
        joins.append(f"LEFT JOIN s{i} ON s{i}.pair_id = p.pair_id")
        base.extend(_outer(f, f"s{i}") for f in features)
    derived = [f"{f.sql} AS {f.name}" for f in registry.features if f.agg == "derived"]
    ordered = ", ".join(f"CAST({name} AS DOUBLE) AS {name}" for name in registry.names)
    return f"""
WITH {", ".join(ctes)},
base AS (
  SELECT p.pair_id, p.uscc, p.as_of,
    {", ".join(base)}
  FROM pairs p {" ".join(joins)}
)
SELECT pair_id, uscc, as_of, {ordered}
FROM (SELECT *, {", ".join(derived) or "NULL AS _none"} FROM base) b
ORDER BY pair_id"""
