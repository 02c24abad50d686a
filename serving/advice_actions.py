"""The lawful actions advice may propose, found in and applied to one entity's scratch store.

Only steps the entity itself may take, on its own records, under a named rule:

- **repair a penalty** once its minimum publicity period has passed (`platform_services.repair`:
  general 3 months, serious 1 year; never a minor one, which is not published);
- **leave the abnormal-operations list** after filing what was missing (企业经营异常名录管理
  暂行办法, 第十一条);
- **clear social-insurance arrears**: pay what the latest month's record shows as owed
  (社会保险法 第六十条、第八十六条), which that month's record then shows as paid;
- **file overdue tax returns** for the quarters of the last two years with no return on
  record whose filing deadline (15 days after the quarter) has passed, from the entity's first
  return on (税收征收管理法 第二十五条、第六十二条); their effect is computed for nil returns
  (no revenue, no tax), since what the entity will declare is not known.

A deregistered entity gets no action. A scratch store holds the rows of one entity (or of several copies of it, one per scenario,
each under a code of its own); `apply` records an action for one code as of a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from platform_services.repair import LEGAL_BASIS as REPAIR_BASIS
from platform_services.repair import PenaltyFacts, add_months, earliest_repair_date

ABNORMAL_BASIS = (
    "企业经营异常名录管理暂行办法(国家工商总局令第68号)第十一条 / SAIC Order No. 68, art. 11"
)
SOCIAL_INSURANCE_BASIS = (
    "中华人民共和国社会保险法 第六十条、第八十六条(按时足额缴纳社会保险费，逾期限期缴纳或者补足) / "
    "Social Insurance Law arts. 60, 86"
)
TAX_RETURN_BASIS = (
    "中华人民共和国税收征收管理法 第二十五条、第六十二条(依法如期办理纳税申报，逾期的限期改正) / "
    "Tax Collection and Administration Law arts. 25, 62"
)
FILING_DAYS = 15  # a quarterly return is due within 15 days of the quarter's end
RETURN_WINDOW_MONTHS = 24  # the features count returns of the last 8 quarters
VISIBLE = (  # the latest version of each record ingested by `as_of`, not retracted
    "SELECT * EXCLUDE (_rank) FROM (SELECT *, row_number() OVER (PARTITION BY record_id "
    "ORDER BY version DESC, ingest_date DESC) AS _rank FROM {table} WHERE ingest_date <= $as_of "
    "AND {date} <= $as_of) WHERE _rank = 1 AND NOT retracted"
)


@dataclass(frozen=True)
class Action:
    """One lawful step: what, on which record (or periods), under which rule, from when."""

    action_id: str
    kind: str  # repair_penalty | leave_abnormal_list | clear_si_arrears | file_tax_returns
    table: str
    record_id: str | None
    text_zh: str
    text_en: str
    legal_basis: str
    available_from: dt.date
    periods: tuple[dt.date, ...] = ()  # file_tax_returns: the quarters' last days


def actions(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[Action]:
    """The lawful actions open to the (only) entity of a scratch store, as of `as_of`
    (none once it is deregistered: there is no entity left to act)."""
    if _deregistered(con, as_of):
        return []
    return [
        *_repairs(con, as_of),
        *_abnormal_exits(con, as_of),
        *_arrears(con, as_of),
        *_overdue_returns(con, as_of),
    ]


def _deregistered(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> bool:
    row = con.execute(
        "SELECT deregistered_date FROM entities WHERE ingest_date <= $as_of "
        "ORDER BY version DESC, ingest_date DESC LIMIT 1",
        {"as_of": as_of},
    ).fetchone()
    return row is not None and row[0] is not None and row[0] <= as_of


def _repairs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    rows = con.execute(
        f"SELECT record_id, decision_no, severity, decision_date, publicity_end, repair_date "
        f"FROM ({VISIBLE.format(table='penalties', date='decision_date')}) "
        "WHERE $as_of < least(coalesce(repair_date, DATE '9999-12-31'), publicity_end) "
        "ORDER BY record_id",
        {"as_of": as_of},
    ).fetchall()
    for record_id, number, severity, decided, publicity_end, repaired in rows:
        earliest = earliest_repair_date(PenaltyFacts(severity, decided, publicity_end, repaired))
        if earliest is None:
            continue
        yield Action(
            f"repair_penalty:{record_id}",
            "repair_penalty",
            "penalties",
            str(record_id),
            f"申请信用修复：行政处罚 {number}",
            f"apply for credit repair of penalty {number}",
            REPAIR_BASIS,
            max(earliest, as_of),
        )


def _abnormal_exits(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    rows = con.execute(
        f"SELECT record_id, reason FROM "
        f"({VISIBLE.format(table='abnormal_operations', date='listed_date')}) "
        "WHERE removed_date IS NULL OR removed_date > $as_of ORDER BY record_id",
        {"as_of": as_of},
    ).fetchall()
    for record_id, reason in rows:
        yield Action(
            f"leave_abnormal_list:{record_id}",
            "leave_abnormal_list",
            "abnormal_operations",
            str(record_id),
            f"补报或更正公示信息后申请移出经营异常名录（列入原因：{reason}）",
            f"file or correct the public information, then apply to leave the abnormal-operations "
            f"list (listed for: {reason})",
            ABNORMAL_BASIS,
            as_of,
        )


def _arrears(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    """Arrears on the latest month's record (the month `si_arrears_cny_latest` reads)."""
    row = con.execute(
        f"SELECT record_id, month, arrears_cny FROM ({VISIBLE.format(table='social_insurance', date='month')}) "
        "ORDER BY CAST(month AS VARCHAR) || record_id DESC LIMIT 1",
        {"as_of": as_of},
    ).fetchone()
    if row is None or not row[2] > 0:
        return
    record_id, month, arrears = row
    yield Action(
        f"clear_si_arrears:{record_id}",
        "clear_si_arrears",
        "social_insurance",
        str(record_id),
        f"补缴社会保险费欠费{arrears:,.0f}元（{month:%Y年%m月}记录）",
        f"pay the social-insurance arrears of CNY {arrears:,.0f} (record of {month:%Y-%m})",
        SOCIAL_INSURANCE_BASIS,
        as_of,
    )


def _overdue_returns(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    """Quarters of the last 8 without a return, their deadline passed, after the first return."""
    visible = VISIBLE.format(table="tax_payments", date="period_end")
    filed = {
        r[0]
        for r in con.execute(f"SELECT period_end FROM ({visible})", {"as_of": as_of}).fetchall()
    }
    first = con.execute(f"SELECT min(period_end) FROM ({visible})", {"as_of": as_of}).fetchone()
    if not filed or first is None or first[0] is None:
        return
    start = add_months(as_of, -RETURN_WINDOW_MONTHS)
    missing = tuple(
        end
        for end in _quarter_ends(start, as_of)
        if end >= first[0] and end not in filed and end + dt.timedelta(FILING_DAYS) <= as_of
    )
    if not missing:
        return
    names = "、".join(_quarter(end) for end in missing)
    yield Action(
        "file_tax_returns:" + ",".join(_quarter(end) for end in missing),
        "file_tax_returns",
        "tax_payments",
        None,
        f"补办逾期纳税申报：{names}（测算按零申报计）",
        f"file the overdue tax returns for {', '.join(_quarter(e) for e in missing)} (effect "
        "computed for nil returns)",
        TAX_RETURN_BASIS,
        as_of,
        missing,
    )


def _quarter_ends(after: dt.date, until: dt.date) -> list[dt.date]:
    """Last days of the calendar quarters ending in (after, until]."""
    ends = []
    for year in range(after.year, until.year + 1):
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31)):
            end = dt.date(year, month, day)
            if after < end <= until:
                ends.append(end)
    return ends


def _quarter(end: dt.date) -> str:
    return f"{end.year}Q{(end.month - 1) // 3 + 1}"


def apply(con: duckdb.DuckDBPyConnection, action: Action, on: dt.date, code: str) -> None:
    """Put `action` in force on `on` for `code`'s copy of the records."""
    if action.kind == "file_tax_returns":
        for end in action.periods:
            con.execute(
                "INSERT INTO tax_payments (record_id, version, retracted, uscc, period_start, "
                "period_end, tax_paid_cny, revenue_cny, ingest_date) VALUES (?, 1, false, ?, ?, ?, "
                "0, 0, ?)",
                [nil_return_id(code, end), code, dt.date(end.year, end.month - 2, 1), end, on],
            )
        return
    change = {
        "repair_penalty": "repair_date = $on",
        "leave_abnormal_list": "removed_date = $on",
        "clear_si_arrears": "paid_cny = paid_cny + arrears_cny, arrears_cny = 0",
    }[action.kind]
    con.execute(
        f"UPDATE {action.table} SET {change} WHERE record_id = $id AND uscc = $code",
        {"on": on, "id": action.record_id, "code": code}
        if "$on" in change
        else {"id": action.record_id, "code": code},
    )


def nil_return_id(code: str, end: dt.date) -> str:
    """The record id a nil return filed for quarter `end` gets in a scenario."""
    return f"NIL-{code}-{end.isoformat()}"
