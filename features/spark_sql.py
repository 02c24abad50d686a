"""The point-in-time feature query in Spark SQL, transpiled from the one DuckDB query.

There is no second definition: `features.query.compile_registry` writes the query from the
registry's declarations and sqlglot translates it. Where the same spelling means something
else in Spark, the syntax tree is rewritten before Spark SQL is generated:

- `date_diff('month', a, b)` counts calendar-month boundaries in DuckDB; Spark's
  `DATEDIFF(MONTH, a, b)` counts whole months elapsed (2024-01-31 to 2024-02-01: 1 against 0).
  It becomes `(year(b) - year(a)) * 12 + month(b) - month(a)` (years and quarters alike).

Everything else the query uses means the same in both dialects, and the Spark equality test
proves it on every feature: `FILTER (WHERE ...)` clauses, `max_by`, `row_number()`, date minus
a month interval (both clamp to the month's last day), exact `DECIMAL(38, 6)` sums, `ln`,
`least`, `nullif`, string concatenation.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp

from features.compute import sql
from features.registry import Registry, RegistryError

_MONTHS_PER_UNIT = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def _ordinal(date: exp.Expression, unit: str) -> exp.Expression:
    """The calendar index of `date` in `unit`s (months, quarters or years since year 0)."""
    year = exp.Year(this=date.copy())
    if unit == "YEAR":
        return year
    part: exp.Expression = (
        exp.Quarter(this=date.copy()) if unit == "QUARTER" else exp.Month(this=date.copy())
    )
    per_year = exp.Literal.number(12 // _MONTHS_PER_UNIT[unit])
    return exp.Paren(this=exp.Add(this=exp.Mul(this=year, expression=per_year), expression=part))


def _boundaries(node: exp.DateDiff) -> exp.Expression:
    """DuckDB's `date_diff(unit, start, end)`: unit boundaries crossed from start to end."""
    unit = node.text("unit").upper()
    start, end = node.expression, node.this
    if unit == "DAY":
        return exp.DateDiff(this=end.copy(), expression=start.copy())
    if unit not in _MONTHS_PER_UNIT:
        raise RegistryError(f"date_diff by {unit.lower()} has no Spark translation here")
    diff = exp.Sub(this=_ordinal(end, unit), expression=_ordinal(start, unit))
    return exp.Paren(this=diff)


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
        return _boundaries(node)
    return node


def transpile(duckdb_sql: str) -> str:
    """One DuckDB statement as Spark SQL, with the semantic gaps above closed."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.transform(_rewrite).sql(dialect="spark")


@lru_cache(maxsize=8)
def compile_spark(registry: Registry) -> str:
    """The registry's point-in-time query for Spark: pairs in, one row of features per pair out."""
    return transpile(sql(registry))
