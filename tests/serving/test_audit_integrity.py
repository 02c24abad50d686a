"""The audit cannot be rewritten unseen: REPLACE refused on SQLite, a least-privileged PostgreSQL
role for the API, and a hash chain that `precredit audit verify` checks (real SQLite and PG)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from test_db import decision_fields
from typer.testing import CliRunner

from precredit.cli import app
from precredit.settings import get_settings
from serving.db import make_engine, promotions, repo, session_factory, upgrade
from serving.db.audit_chain import GENESIS
from serving.db.audit_verify import Head, read_anchors, verify, verify_tenant, write_anchors
from serving.db.models import Decision
from training.promotion import PromotionRecord

API_ROLE = "precredit_api"
COLUMNS = [c.name for c in Decision.__table__.columns]
runner = CliRunner()


@pytest.fixture
def chained(sessions: sessionmaker[Session]) -> list[str]:
    """bank_a with five decisions (seq 1..5), bank_b with two; bank_a's ids in seq order."""
    with sessions() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        repo.create_tenant(session, "bank_b", "Bank B")
        session.commit()
        ids = [repo.record_decision(session, **decision_fields("bank_a", pd=0.01 * (i + 1)))
               for i in range(3)]  # fmt: skip
        session.commit()  # several transactions: the chain continues across them
        ids += repo.record_decisions(
            session, [decision_fields("bank_a"), decision_fields("bank_a")]
        )
        repo.record_decisions(session, [decision_fields("bank_b"), decision_fields("bank_b")])
        session.commit()
    return ids


def as_owner(engine: Engine, *statements: str, **params: object) -> None:
    """Run `statements` as the database owner would, with the append-only triggers out of the way."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE decisions DISABLE TRIGGER USER"))
        else:
            for name in ("update", "delete", "replace"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS decisions_no_{name}"))
        for statement in statements:
            connection.execute(text(statement), params)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE decisions ENABLE TRIGGER USER"))


# --- the chain --------------------------------------------------------------------------------


def test_decisions_are_chained_per_tenant(session: Session, chained: list[str]) -> None:
    rows = session.execute(
        text(
            "SELECT tenant_id, seq, prev_hash, row_hash, id FROM decisions ORDER BY tenant_id, seq"
        )
    ).all()
    assert [(r[0], r[1]) for r in rows] == [("bank_a", s) for s in range(1, 6)] + [
        ("bank_b", 1),
        ("bank_b", 2),
    ]
    assert [r[4] for r in rows[:5]] == chained
    for tenant_rows in (rows[:5], rows[5:]):
        assert tenant_rows[0][2] == GENESIS
        for before, after in itertools.pairwise(tenant_rows):
            assert after[2] == before[3]
    assert len({r[3] for r in rows}) == 7
    reports = verify(session)
    assert [(r.tenant_id, r.head.seq, r.broken) for r in reports] == [
        ("bank_a", 5, None),
        ("bank_b", 2, None),
    ]


def test_writers_in_separate_engines_keep_one_chain(
    db_url: str, db_schema: str | None, engine: Engine, chained: list[str]
) -> None:
    """Four engines (as four worker processes would hold) record 20 decisions each at once."""

    def write(worker: int) -> None:
        own = make_engine(db_url, schema=db_schema)
        try:
            for i in range(20):
                with session_factory(own)() as session:
                    fields = decision_fields("bank_a", input_hash=f"{worker:02d}{i:062d}")
                    repo.record_decisions(session, [fields])
                    session.commit()
        finally:
            own.dispose()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    with session_factory(engine)() as session:
        report = verify_tenant(session, "bank_a")
    assert (report.head.seq, report.broken) == (5 + 80, None)


def test_a_row_rewritten_by_the_owner_is_named(
    engine: Engine, session: Session, chained: list[str]
) -> None:
    as_owner(engine, "UPDATE decisions SET limit_cny = 999999999, decision = 'approve' WHERE id = :id",
             id=chained[2])  # fmt: skip
    broken = verify_tenant(session, "bank_a").broken
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (3, chained[2])
    assert "contents do not match" in broken.line()
    assert verify_tenant(session, "bank_b").broken is None


def test_a_rewritten_row_with_a_recomputed_hash_is_still_named(
    engine: Engine, session: Session, chained: list[str]
) -> None:
    """The owner rewrites seq 2 and its row_hash: seq 3 no longer follows it."""
    as_owner(
        engine,
        "UPDATE decisions SET limit_cny = 999999999, row_hash = :fake WHERE id = :id",
        id=chained[1],
        fake="f" * 64,
    )
    broken = verify_tenant(session, "bank_a").broken
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (2, chained[1])


def test_a_deleted_row_is_named(engine: Engine, session: Session, chained: list[str]) -> None:
    as_owner(engine, "DELETE FROM decisions WHERE id = :id", id=chained[3])
    broken = verify_tenant(session, "bank_a").broken
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (4, None)
    assert "missing" in broken.line()


def test_a_cut_tail_is_found_with_the_anchor(
    engine: Engine, session: Session, chained: list[str], tmp_path: Path
) -> None:
    anchor = tmp_path / "anchor.json"
    write_anchors(anchor, {r.tenant_id: r.head for r in verify(session)})
    session.rollback()  # end the read: SQLite's owner below needs the write lock
    as_owner(engine, "DELETE FROM decisions WHERE id IN (:a, :b)", a=chained[3], b=chained[4])
    assert verify_tenant(session, "bank_a").broken is None  # what is left is a valid chain
    broken = verify_tenant(session, "bank_a", read_anchors(anchor)["bank_a"]).broken
    assert broken is not None
    assert broken.seq == 4
    assert "tail was removed" in broken.line()


def test_a_rewritten_chain_is_found_with_the_anchor(
    engine: Engine, session: Session, chained: list[str]
) -> None:
    """An owner who rewrites the last row and re-seals it passes the chain, not the anchor."""
    anchor = verify_tenant(session, "bank_a").head
    row = session.execute(text("SELECT * FROM decisions WHERE id = :id"), {"id": chained[4]})
    fields = dict(row.mappings().one())
    fields.update(limit_cny=999_999_999.0, created_at=repo.utcnow())
    from serving.db.audit_chain import row_hash

    sealed = row_hash(fields, fields["prev_hash"])
    session.rollback()
    as_owner(
        engine,
        "UPDATE decisions SET limit_cny = 999999999, created_at = :at, row_hash = :h WHERE id = :id",
        at=fields["created_at"].replace(tzinfo=None)
        if engine.dialect.name == "sqlite"
        else fields["created_at"],
        h=sealed,
        id=chained[4],
    )
    session.expire_all()
    assert verify_tenant(session, "bank_a").broken is None
    broken = verify_tenant(session, "bank_a", anchor).broken
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (5, chained[4])
    assert Head(5, sealed) != anchor


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_url: str, db_schema: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`precredit` pointed at the test's service database."""
    url = make_url(db_url)
    if db_schema is not None:
        url = url.update_query_dict({"options": f"-csearch_path={db_schema}"})
    monkeypatch.setenv("PRECREDIT_DATABASE_URL", url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_audit_verify_command(
    engine: Engine, chained: list[str], cli_env: None, tmp_path: Path
) -> None:
    anchor = tmp_path / "anchor.json"
    intact = runner.invoke(app, ["audit", "verify", "--anchor", str(anchor)])
    assert intact.exit_code == 0, intact.output
    assert "bank_a: 5 decisions, chain intact" in intact.stdout
    assert json.loads(anchor.read_text())["heads"]["bank_a"]["seq"] == 5
    as_owner(engine, "DELETE FROM decisions WHERE id = :id", id=chained[4])
    one = runner.invoke(app, ["audit", "verify", "--tenant", "bank_b"])
    assert one.exit_code == 0, one.output
    assert "bank_a" not in one.stdout
    cut = runner.invoke(app, ["audit", "verify", "--anchor", str(anchor)])
    assert cut.exit_code == 1
    assert cut.stderr.strip().splitlines() == [
        "audit chain of bank_a broken at seq 5 (no decision): "
        "the chain ends at seq 4 but the anchor holds seq 5: the tail was removed"
    ]
    assert json.loads(anchor.read_text())["heads"]["bank_a"]["seq"] == 5  # not moved on a break
    as_owner(engine, "UPDATE decisions SET pd = 0.5 WHERE id = :id", id=chained[0])
    rewritten = runner.invoke(app, ["audit", "verify", "--tenant", "bank_a"])
    assert rewritten.exit_code == 1
    assert f"seq 1 (decision {chained[0]})" in rewritten.stderr


def test_a_damaged_anchor_is_refused(tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.json"
    anchor.write_text('{"format": "something else"}')
    from catalog.errors import InvalidInput

    with pytest.raises(InvalidInput, match="cannot be read"):
        read_anchors(anchor)


# --- SQLite: REPLACE -------------------------------------------------------------------------

REWRITES = [
    "REPLACE INTO decisions ({cols}) SELECT {forged} FROM decisions WHERE id = :id",
    "INSERT OR REPLACE INTO decisions ({cols}) SELECT {forged} FROM decisions WHERE id = :id",
    # a new id in the old row's (tenant, seq): REPLACE would delete the old row through the
    # unique constraint instead of the primary key
    "INSERT OR REPLACE INTO decisions ({cols}) SELECT {forged_new_id} FROM decisions WHERE id = :id",
    "INSERT INTO decisions ({cols}) SELECT {forged} FROM decisions WHERE id = :id "
    "ON CONFLICT (id) DO UPDATE SET limit_cny = excluded.limit_cny",
]


def _rewrite(statement: str) -> str:
    forged = {"decision": "'approve'", "limit_cny": "999999999"}
    values = [forged.get(c, c) for c in COLUMNS]
    new_id = ["'forged-id'" if c == "id" else v for c, v in zip(COLUMNS, values, strict=True)]
    return statement.format(
        cols=", ".join(COLUMNS), forged=", ".join(values), forged_new_id=", ".join(new_id)
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # REPLACE is SQLite's
@pytest.mark.parametrize("pragma", [True, False], ids=["engine", "bare-connection"])
@pytest.mark.parametrize("statement", REWRITES)
def test_replace_cannot_rewrite_a_decision_on_sqlite(
    db_url: str, session: Session, chained: list[str], statement: str, pragma: bool
) -> None:
    sql = _rewrite(statement)
    if pragma:  # the service's own connections (recursive_triggers on)
        with pytest.raises(IntegrityError, match="append-only"):
            session.execute(text(sql), {"id": chained[2]})
        session.rollback()
    else:  # any other client of the file, without the pragma: the INSERT trigger holds
        database = make_url(db_url).database
        assert database is not None
        with sqlite3.connect(database) as bare:
            assert bare.execute("PRAGMA recursive_triggers").fetchone() == (0,)
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                bare.execute(sql, {"id": chained[2]})
    stored = repo.get_decision(session, "bank_a", chained[2])
    assert stored is not None
    assert (stored.decision, stored.limit_cny, stored.seq) == ("approve", 300_000.0, 3)
    assert session.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 7
    assert verify_tenant(session, "bank_a").broken is None


# --- PostgreSQL: the API's role ---------------------------------------------------------------


@pytest.fixture
def api_engine(db_url: str, db_schema: str | None, engine: Engine) -> Iterator[Engine]:
    """An engine connected as the API's least-privileged role on the migrated schema."""
    assert db_url.startswith("postgresql")  # tests using it are parametrised on PostgreSQL only
    role_engine = make_engine(
        make_url(db_url).set(username=API_ROLE).render_as_string(hide_password=False),
        schema=db_schema,
    )
    yield role_engine
    role_engine.dispose()


FORBIDDEN = [
    "UPDATE decisions SET limit_cny = 999999999",
    "DELETE FROM decisions",
    "TRUNCATE decisions",
    "ALTER TABLE decisions DISABLE TRIGGER decisions_no_update_delete",
    "ALTER TABLE decisions DISABLE TRIGGER ALL",
    "DROP TRIGGER decisions_no_update_delete ON decisions",
    "DROP TABLE decisions",
    "CREATE TABLE decisions_copy (id text)",
    "UPDATE alembic_version SET version_num = '0001'",
    "SET session_replication_role = replica",
    "UPDATE promotions SET approved_by = 'key:someone-else'",  # promotions are append-only too
    "DELETE FROM promotions",
]


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # roles are PostgreSQL's
@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_api_role_cannot_rewrite_the_audit(
    api_engine: Engine, engine: Engine, chained: list[str], statement: str
) -> None:
    with api_engine.connect() as connection, pytest.raises(DBAPIError) as refused:
        connection.execute(text(statement))
    assert refused.value.orig is not None
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 7


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # roles are PostgreSQL's
def test_the_api_role_records_and_reads_decisions(api_engine: Engine, chained: list[str]) -> None:
    with api_engine.connect() as connection:
        flags = connection.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
        owner = connection.execute(
            text("SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables "
                 "WHERE tablename = 'decisions' AND schemaname = current_schema()")
        ).scalar_one()  # fmt: skip
    assert tuple(flags) == (False, False, False, False)
    assert owner is False
    with session_factory(api_engine)() as session:
        decision_id = repo.record_decision(session, **decision_fields("bank_a"))
        repo.create_tenant(session, "bank_c", "Bank C")  # the service's other tables: writable
        session.commit()
        stored = repo.get_decision(session, "bank_a", decision_id)
        assert stored is not None
        assert stored.seq == 6
        assert verify_tenant(session, "bank_a").broken is None


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # roles are PostgreSQL's
def test_the_api_role_records_and_lists_promotions(api_engine: Engine) -> None:
    record = PromotionRecord(
        "bank_a", "precredit-bank_a", "3", "run-3", "key:maker", "key:checker", False,
        "reviewed", "override reason of twenty characters", dt.datetime.now(dt.UTC),
    )  # fmt: skip
    with session_factory(api_engine)() as session:
        promotions.record(session, record)
        session.commit()
        listed = promotions.history(session, ["bank_a"])
    assert [(p.approved_by, p.gate_passed) for p in listed] == [("key:checker", False)]


# --- the migration ----------------------------------------------------------------------------


def test_the_migration_chains_decisions_already_stored(db_url: str, db_schema: str | None) -> None:
    """Decisions recorded before revision 0006 are chained in (created_at, id) order."""
    upgrade(db_url, schema=db_schema, revision="0005")
    engine = make_engine(db_url, schema=db_schema)
    later = ("seq", "prev_hash", "row_hash", "consent_id", "consent_purpose")  # 0006, 0011
    old_columns = [c for c in COLUMNS if c not in later]
    insert = text(
        f"INSERT INTO decisions ({', '.join(old_columns)}) "
        f"VALUES ({', '.join(':' + c for c in old_columns)})"
    )
    start = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)
    try:
        with engine.begin() as connection:  # raw SQL: the tenants table as of 0005
            for tenant in ("bank_a", "bank_b"):
                connection.execute(
                    text(
                        "INSERT INTO tenants (id, name, created_at, pooling_opt_in, "
                        "promotion_policy, platform) VALUES (:id, :id, :at, false, 'manual', false)"
                    ),
                    {"id": tenant, "at": start.replace(tzinfo=None)},
                )
        rows = [  # inserted out of time order; bank_b's between bank_a's
            ("a3", "bank_a", 3), ("b1", "bank_b", 1), ("a1", "bank_a", 1), ("a2", "bank_a", 2)
        ]  # fmt: skip
        with engine.begin() as connection:
            for decision_id, tenant, minute in rows:
                fields = decision_fields(tenant, id=decision_id)
                fields["created_at"] = start + dt.timedelta(minutes=minute)
                if engine.dialect.name == "sqlite":  # raw SQL: SQLAlchemy's SQLite text form
                    fields["created_at"] = fields["created_at"].replace(tzinfo=None)
                connection.execute(insert, dict(fields))
        upgrade(db_url, schema=db_schema)
        with session_factory(engine)() as session:
            order = session.execute(text("SELECT id, seq FROM decisions ORDER BY tenant_id, seq"))
            assert [tuple(r) for r in order] == [("a1", 1), ("a2", 2), ("a3", 3), ("b1", 1)]
            reports = verify(session)
            assert [(r.head.seq, r.broken) for r in reports] == [(3, None), (1, None)]
            repo.record_decision(session, **decision_fields("bank_a"))  # and the chain goes on
            session.commit()
            assert verify_tenant(session, "bank_a").head.seq == 4
            assert verify_tenant(session, "bank_a").broken is None
    finally:
        engine.dispose()
