"""The writer process's DB-API path stores what the Session path stores, byte for byte, chained.

Real SQLite and PostgreSQL: the same rows (ids and times given) written once through
`record_decisions` on a Session and once through `AuditRecorder` into two databases of one
kind; every column read back raw must be equal, both chains verify, and a row refused by the
database leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from api_fixtures import assert_chains_whole, migrate_with_tenants, service_database
from sqlalchemy import text
from test_db import decision_fields

from serving.db.audit import DecisionFields, record_decisions
from serving.db.audit_dbapi import AuditRecorder
from serving.db.audit_verify import verify_tenant
from serving.db.engine import make_engine, session_factory

TENANTS = ("bank_a", "bank_b")


@contextmanager
def _database(kind: str, path: Path) -> Iterator[str]:
    path.mkdir()
    with service_database(kind, path) as found:
        migrate_with_tenants(found, TENANTS)
        yield found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two migrated service databases of one kind, each with the two banks."""
    with (
        _database(request.param, tmp_path / "a") as first,
        _database(request.param, tmp_path / "b") as second,
    ):
        yield first, second


def _rows() -> list[DecisionFields]:
    """Rows with the values most likely to be stored differently: floats, times, text."""
    at = dt.datetime(2026, 12, 5, 3, 4, 5, 678_901, tzinfo=dt.UTC)
    odd = {
        "pd": 0.1 + 0.2,
        "limit_cny": 1e16,
        "requested_amount_cny": None,
        "uscc": "\u4e2d\u6587",
        "features_json": '{"a":1e-07,"b":null,"t":"\\u0000\\"\u4e2d"}',
        "consent_id": "c-1",
        "consent_purpose": "preapproval",
    }
    rows = []
    for i in range(7):
        fields = decision_fields(TENANTS[i % 2], **(odd if i % 3 == 0 else {"pd": i / 7}))
        fields["id"] = f"00000000-0000-4000-8000-{i:012d}"
        fields["created_at"] = at + dt.timedelta(microseconds=i)
        rows.append(fields)
    return rows


def _table(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [
                tuple(r) for r in connection.execute(text("SELECT * FROM decisions ORDER BY id"))
            ]
    finally:
        engine.dispose()


def test_the_dbapi_path_stores_the_session_paths_rows(urls: tuple[str, str]) -> None:
    by_session, by_dbapi = urls
    rows = _rows()
    engine = make_engine(by_session)
    with session_factory(engine)() as session:  # two commits: the chain continues across them
        record_decisions(session, rows[:3])
        session.commit()
        record_decisions(session, rows[3:])
        session.commit()
    engine.dispose()
    engine = make_engine(by_dbapi)
    recorder = AuditRecorder(engine)
    assert recorder.record(rows[:3]) == [r["id"] for r in rows[:3]]
    assert recorder.record(rows[3:]) == [r["id"] for r in rows[3:]]
    assert recorder.record([]) == []
    engine.dispose()
    stored = _table(by_dbapi)
    assert len(stored) == len(rows)
    expected = _table(by_session)
    for mine, theirs in zip(stored, expected, strict=True):
        assert [
            (i, a, b) for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b
        ] == []
    assert stored == expected  # every column, raw, as the database returns it
    assert_chains_whole(by_dbapi, TENANTS, nonempty=True)


def test_a_refused_row_leaves_nothing_and_the_next_commit_chains_on(urls: tuple[str, str]) -> None:
    url = urls[0]
    engine = make_engine(url)
    recorder = AuditRecorder(engine)
    good = _rows()[:2]
    recorder.record(good[:1])
    stranger = decision_fields("no_such_bank")  # the tenant's foreign key refuses it
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own IntegrityError
        recorder.record([good[1], stranger])
    assert [r[0] for r in _table(url)] == [good[0]["id"]]
    recorder.record(good[1:])
    engine.dispose()
    assert len(_table(url)) == 2
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert verify_tenant(session, "bank_a").broken is None
        assert verify_tenant(session, "bank_b").broken is None
    engine.dispose()
