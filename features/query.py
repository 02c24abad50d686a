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

from dataclasses import replace

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
    return _final(registry, ctes, joins, base)


def _final(registry: Registry, ctes: list[str], joins: list[str], base: list[str]) -> str:
    """Pairs left-joined to the per-group results, derived features, registry order."""
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


# --- One union of every table's visible rows, aggregated once (the Spark engine's form) ---
#
# `compile_registry` runs one window and one GROUP BY per source table, then left-joins the
# per-table results: in DuckDB a cheap plan, in Spark ~14 shuffles, sorts and generated
# pipelines. `compile_union` writes the same features from the same declarations as one relation:
# each table's rows of the pairs' entities, projected onto shared typed slots (a table's DATE
# columns onto d0, d1, ..., its text onto s0, ...: the union is as wide as the widest table, not
# the sum of them), tagged with the table's number `_src`; one window picks each record's latest
# version, the tables' visibility rules filter by `_src`, and one GROUP BY computes every
# feature with `_src = k` in its FILTER. Column references of the declarations (`t.col`,
# `p.as_of`) are rewritten onto the slots with sqlglot, never by hand.

_SLOT_PREFIX = {"DATE": "d", "VARCHAR": "s", "DOUBLE": "x", "INTEGER": "i", "BOOLEAN": "b"}
_RANKING = {"version": "_ver", "ingest_date": "_ing"}  # window columns every table has


def _columns(text: str) -> set[str]:
    """Names of the `t.` columns an SQL fragment of the registry reads."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(text, read="duckdb")
    return {c.name for c in tree.find_all(exp.Column) if c.table == "t"}


def _source_columns(source: Source, features: list[Feature]) -> list[str]:
    """The columns of `source` its features, date and visibility rule read (sorted)."""
    used = {source.date} | _columns(source.visible)
    for feature in features:
        used |= _columns(_value(feature))
        if feature.where:
            used |= _columns(feature.where)
    return sorted(used - {source.record_key, *_RANKING})


def _slot_maps(
    registry: Registry, by_source: dict[str, list[Feature]]
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per source, its used column -> slot name; and every slot's SQL type."""
    from catalog import schema

    maps: dict[str, dict[str, str]] = {}
    types: dict[str, str] = {}
    for table, features in by_source.items():
        source, columns = registry.sources[table], schema.TABLES[table]
        counters: dict[str, int] = {}
        mapping = {source.record_key: "_rk", **_RANKING}
        for name in _source_columns(source, features):
            dtype = columns.column(name).dtype
            prefix = _SLOT_PREFIX.get(dtype, "o" + "".join(ch for ch in dtype if ch.isalnum()))
            slot = f"{prefix}{counters.get(prefix, 0)}"
            counters[prefix] = counters.get(prefix, 0) + 1
            mapping[name], types[slot] = slot, dtype
        maps[table] = mapping
    return maps, types


def _onto_slots(text: str, mapping: dict[str, str]) -> str:
    """An SQL fragment over `t` (one table) and `p` (the pair) rewritten onto the union `t`."""
    import sqlglot
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column) or node.table not in ("t", "p"):
            return node
        if node.table == "p" and node.name != "as_of":
            raise ValueError(f"the union carries only p.as_of, not p.{node.name}")
        if node.table == "t" and node.name.startswith("_"):  # the union's own columns
            return node
        name = "_as_of" if node.table == "p" else mapping[node.name]
        return exp.column(name, table="t")

    return sqlglot.parse_one(text, read="duckdb").transform(rewrite).sql(dialect="duckdb")


def _union_branch(
    number: int, source: Source, mapping: dict[str, str], types: dict[str, str], prefix: str
) -> str:
    """One table's candidate rows (pair's entity, dated and ingested by as_of) on the slots."""
    entities = source.table == "entities"
    slot_of = {slot: column for column, slot in mapping.items() if not slot.startswith("_")}
    slots = [
        f"t.{slot_of[slot]} AS {slot}" if slot in slot_of else f"CAST(NULL AS {kind}) AS {slot}"
        for slot, kind in sorted(types.items())
    ]
    return f"""
    SELECT p.pair_id, p.as_of AS _as_of, {number} AS _src,
      CAST(t.{source.record_key} AS VARCHAR) AS _rk, t.version AS _ver, t.ingest_date AS _ing,
      {"t.name" if entities else "CAST(NULL AS VARCHAR)"} AS _tie,
      {"FALSE" if entities else "t.retracted"} AS _ret,
      {", ".join(slots)}
    FROM pairs p JOIN {prefix}{source.table} t ON t.uscc = p.uscc
    WHERE t.ingest_date <= p.as_of AND t.{source.date} <= p.as_of"""


def _union_group(
    registry: Registry,
    by_source: dict[str, list[Feature]],
    numbers: dict[str, int],
    prefix: str,
) -> str:
    """One union of the sources `by_source` and one GROUP BY of their features (pair_id, ...)."""
    maps, types = _slot_maps(registry, by_source)
    branches = [
        _union_branch(numbers[t], registry.sources[t], maps[t], types, prefix) for t in by_source
    ]
    rules = [
        f"WHEN {numbers[t]} THEN ({_onto_slots(registry.sources[t].visible, maps[t])})"
        for t in by_source
        if registry.sources[t].visible.strip().upper() != "TRUE"
    ]
    visible = f"CASE t._src {' '.join(rules)} ELSE TRUE END" if rules else "TRUE"
    columns = []
    for table, features in by_source.items():
        source = registry.sources[table]
        tagged = replace(source, visible="TRUE")
        for feature in features:
            where = f"t._src = {numbers[table]}" + (f" AND ({feature.where})" if feature.where else "")
            text = aggregate(replace(feature, where=where), tagged)
            columns.append(f"{_onto_slots(text, maps[table])} AS {feature.name}")
    return f"""
    SELECT t.pair_id,
      {(", " + chr(10) + "      ").join(columns)}
    FROM (
      SELECT * FROM (
        SELECT u.*, row_number() OVER (
          PARTITION BY u.pair_id, u._src, u._rk ORDER BY u._ver DESC, u._ing DESC, u._tie
        ) AS _rank
        FROM ({" UNION ALL ".join(branches)}
        ) u
      ) r WHERE r._rank = 1 AND NOT r._ret
    ) t
    WHERE {visible}
    GROUP BY t.pair_id"""


def _balanced(by_source: dict[str, list[Feature]], groups: int) -> list[dict[str, list[Feature]]]:
    """Sources split into `groups` unions of about equal feature counts (registry order kept)."""
    out: list[dict[str, list[Feature]]] = [{} for _ in range(max(1, min(groups, len(by_source))))]
    sizes = [0] * len(out)
    for table, features in sorted(by_source.items(), key=lambda item: -len(item[1])):
        i = sizes.index(min(sizes))
        out[i][table], sizes[i] = features, sizes[i] + len(features)
    order = list(by_source)
    return [dict(sorted(g.items(), key=lambda item: order.index(item[0]))) for g in out if g]


def compile_union(registry: Registry, prefix: str = "", groups: int = 1) -> str:
    """The full query of `compile_registry`, every table's rows aggregated in `groups` unions.

    Same columns, rows and values. Distinct counts stay in their table's own GROUP BY: in one
    with other aggregates and a FILTER, Spark would expand every row of the union to compute it.
    """
    by_source: dict[str, list[Feature]] = {}
    distinct: dict[str, list[Feature]] = {}
    for feature in registry.features:
        if feature.agg == "count_distinct":
            distinct.setdefault(feature.source, []).append(feature)
        elif feature.agg != "derived":
            by_source.setdefault(feature.source, []).append(feature)
    numbers = {table: i for i, table in enumerate(registry.sources)}
    ctes: list[str] = []
    joins: list[str] = []
    alias: dict[str, str] = {}
    for i, group in enumerate(_balanced(by_source, groups)):
        ctes.append(f"g{i} AS ({_union_group(registry, group, numbers, prefix)}\n)")
        joins.append(f"LEFT JOIN g{i} ON g{i}.pair_id = p.pair_id")
        alias |= {f.name: f"g{i}" for features in group.values() for f in features}
    for i, (table, features) in enumerate(distinct.items()):
        ctes.append(f"c{i} AS ({table_query(registry.sources[table], features, prefix)}\n)")
        joins.append(f"LEFT JOIN c{i} ON c{i}.pair_id = p.pair_id")
        alias |= {f.name: f"c{i}" for f in features}
    base = [_outer(f, alias[f.name]) for f in registry.features if f.agg != "derived"]
    return _final(registry, ctes, joins, base)
