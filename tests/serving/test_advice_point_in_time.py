"""Advice reads each record as it was visible on the day asked (point in time).

A record's version ingested later (a correction, a repair, a removal from the list) must not
hide the version that was visible then, nor act before it was ingested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import store
from serving.advice_actions import actions

CODE = "91441500MA4W000001"
AS_OF = dt.date(2025, 6, 30)
LATER = dt.date(2025, 9, 1)
BEFORE = dt.date(2025, 1, 10)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[store.Connection]:
    path = tmp_path / "one.duckdb"
    store.create(path)
    with store.connect(path) as connection:
        connection.execute(
            "INSERT INTO entities VALUES (?, 1, 'One Co', 'company', '441500', 'C', "
            "DATE '2015-01-01', 1000000, NULL, DATE '2015-01-02')",
            [CODE],
        )
        yield connection


def penalty(
    con: store.Connection, version: int, repaired: dt.date | None, ingested: dt.date
) -> None:
    con.execute(
        "INSERT INTO penalties VALUES ('P1', ?, false, ?, 'SW-2025-1', DATE '2025-01-05', "
        "'fine', 'general', 'market', 50000, 0, 'SAMR', DATE '2028-01-05', ?, ?)",
        [version, CODE, repaired, ingested],
    )


def listing(
    con: store.Connection, version: int, removed: dt.date | None, ingested: dt.date
) -> None:
    con.execute(
        "INSERT INTO abnormal_operations VALUES ('A1', ?, false, ?, 'no annual report', "
        "DATE '2025-02-01', ?, 'SAMR', ?)",
        [version, CODE, removed, ingested],
    )


def kinds(con: store.Connection, as_of: dt.date) -> set[str]:
    return {a.kind for a in actions(con, as_of)}


def test_a_later_version_does_not_hide_the_record_visible_then(con: store.Connection) -> None:
    penalty(con, 1, None, BEFORE)
    penalty(con, 2, LATER, LATER)  # repaired later: not yet on AS_OF
    listing(con, 1, None, dt.date(2025, 2, 2))
    listing(con, 2, LATER, LATER)  # removed later
    assert kinds(con, AS_OF) == {"repair_penalty", "leave_abnormal_list"}
    assert kinds(con, LATER) == set()  # repaired and removed by then


def test_a_record_ingested_after_the_day_gives_no_advice(con: store.Connection) -> None:
    penalty(con, 1, None, LATER)  # decided before AS_OF, but the platform learnt of it later
    assert kinds(con, AS_OF) == set()
    assert "repair_penalty" in kinds(con, LATER)
