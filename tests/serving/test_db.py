"""The service database on real SQLite and PostgreSQL: migrations, tenancy, keys, audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import InvalidInput, NotFound
from serving.db import current_revision, make_engine, repo, sqlite_url, upgrade
from serving.db.engine import make_read_engine
from serving.db.keys import KeyLookup
from serving.db.migrate import head_revision
from serving.db.models import ApiKey, Base, Decision
from serving.db.prepared import Prepared

TABLES = {"tenants", "api_keys", "decisions", "outcomes", "idempotency_keys", "jobs", "offers",
          "webhook_endpoints", "outbox_events", "webhook_deliveries", "financing_requests",
          "financing_answers", "watchlist", "warning_notices", "disputes", "dispute_events",
          "offer_states"}  # fmt: skip


def decision_fields(tenant_id: str, **overrides: object) -> repo.DecisionFields:
    """A complete decision as the API would record it."""
    fields: repo.DecisionFields = {
        "tenant_id": tenant_id,
        "uscc": "91440300MA5FXXXX1X",
        "product": "working_capital",
        "requested_amount_cny": 500_000.0,
        "decision": "approve",
        "limit_cny": 300_000.0,
        "pd": 0.0123,
        "grade": "A",
        "binding": "cap:revenue",
        "model_name": "precredit-bank_a",
        "model_version": "3",
        "model_sha256": "a" * 64,
        "policy_version": "2026.1",
        "policy_fingerprint": "b" * 64,
        "registry_fingerprint": "c" * 64,
        "snapshot_as_of": dt.date(2026, 3, 31),
        "input_hash": "d" * 64,
        "features_json": '{"tax_paid_cny_24m": 1.5e6}',
        "reasons_json": '[{"code": "R01"}]',
        "response_json": '{"decision": "approve", "limit_cny": 300000.0, "pd": 0.0123}',
    }
    return fields | overrides  # type: ignore[return-value]


@pytest.fixture
def banks(session: Session) -> tuple[str, str]:
    """Two bank tenants, committed."""
    repo.create_tenant(session, "bank_a", "Bank A")
    repo.create_tenant(session, "bank_b", "Bank B")
    session.commit()
    return "bank_a", "bank_b"


# --- migrations -----------------------------------------------------------------------------


def test_migrations_are_idempotent_and_create_every_table(
    db_url: str, db_schema: str | None
) -> None:
    assert current_revision(db_url, schema=db_schema) is None
    upgrade(db_url, schema=db_schema)
    upgrade(db_url, schema=db_schema)
    assert current_revision(db_url, schema=db_schema) == head_revision() == "0018"
    engine = make_engine(db_url, schema=db_schema)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_hand_written_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


# --- tenants --------------------------------------------------------------------------------


def test_tenants_are_created_listed_and_validated(session: Session) -> None:
    repo.create_tenant(
        session, "platform", "Shanwei credit platform", repo.TenantOptions(platform=True)
    )
    tenant = repo.create_tenant(
        session, "bank_a", "Bank A", repo.TenantOptions(promotion_policy="auto")
    )
    session.commit()
    assert [t.id for t in repo.list_tenants(session)] == ["bank_a", "platform"]
    assert tenant.promotion_policy == "auto"
    assert not tenant.pooling_opt_in
    assert not tenant.platform
    assert tenant.created_at.tzinfo == dt.UTC
    assert repo.get_tenant(session, "nobody") is None
    with pytest.raises(InvalidInput, match="already exists"):
        repo.create_tenant(session, "bank_a", "Bank A again")
    for bad in ["Bank_a", "1bank", "b", "bank-a", "bank_a\n", "b" * 33, ""]:
        with pytest.raises(InvalidInput, match="lower_snake"):
            repo.create_tenant(session, bad, "Bad")
    with pytest.raises(InvalidInput, match="promotion_policy"):
        repo.create_tenant(
            session, "bank_c", "Bank C", repo.TenantOptions(promotion_policy="sometimes")
        )  # type: ignore[arg-type]
    session.commit()  # the refused duplicate did not spoil the transaction
    assert len(repo.list_tenants(session)) == 2


# --- API keys -------------------------------------------------------------------------------


def test_keys_authenticate_until_revoked(session: Session, banks: tuple[str, str]) -> None:
    key = repo.issue_key(session, "bank_a", ["score", "outcomes"])
    session.commit()
    assert re.fullmatch(r"pc_bank_a_[A-Za-z0-9_-]{40}", key)
    principal = repo.authenticate(session, key)
    assert principal is not None
    assert (principal.tenant_id, principal.scopes) == ("bank_a", frozenset({"score", "outcomes"}))
    repo.revoke_key(session, principal.key_id)
    repo.revoke_key(session, principal.key_id)  # again: no-op
    session.commit()
    assert repo.authenticate(session, key) is None
    [info] = repo.list_keys(session, "bank_a")
    assert info.revoked_at is not None
    assert info.prefix == key[:12]
    assert not hasattr(info, "key_hash")


def test_keys_sharing_a_prefix_each_find_their_own_row(session: Session) -> None:
    repo.create_tenant(session, "bank_of_shanwei", "Bank of Shanwei")  # prefix = tenant only
    keys = [repo.issue_key(session, "bank_of_shanwei", ["score"]) for _ in range(3)]
    session.commit()
    assert len({key[:12] for key in keys}) == 1
    principals = [repo.authenticate(session, key) for key in keys]
    ids = {p.key_id for p in principals if p is not None}
    assert ids == {info.id for info in repo.list_keys(session, "bank_of_shanwei")}
    assert len(ids) == 3


def test_garbage_and_near_miss_keys_are_refused(session: Session, banks: tuple[str, str]) -> None:
    key = repo.issue_key(session, "bank_a", ["score"])
    session.commit()
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    for bad in [
        "",
        "pc_",
        "Bearer " + key,
        key + "x",
        flipped,
        key.upper(),
        "x" * 10_000,
        key.replace("bank_a", "bank_b"),
    ]:
        assert repo.authenticate(session, bad) is None


def test_plaintext_key_is_never_stored(session: Session, banks: tuple[str, str]) -> None:
    keys = [repo.issue_key(session, "bank_a", ["score"]) for _ in range(3)]
    session.commit()
    stored = [str(value) for row in session.execute(select(ApiKey.__table__)) for value in row]
    for key in keys:
        secret = key[-40:]
        assert not any(secret in value or key in value for value in stored)


def test_key_scopes_and_ownership_are_checked(session: Session, banks: tuple[str, str]) -> None:
    repo.create_tenant(session, "platform", "Platform", repo.TenantOptions(platform=True))
    assert repo.authenticate(session, repo.issue_key(session, "platform", ["platform"]))
    for scopes in [[], ["score", "root"], ["platform"]]:
        with pytest.raises(InvalidInput, match="scope"):
            repo.issue_key(session, "bank_a", scopes)
    with pytest.raises(NotFound):
        repo.issue_key(session, "nobody", ["score"])
    key_b = repo.authenticate(session, repo.issue_key(session, "bank_b", ["admin"]))
    assert key_b is not None
    with pytest.raises(NotFound):
        repo.revoke_key(session, key_b.key_id, tenant_id="bank_a")  # not bank_a's key
    with pytest.raises(NotFound):
        repo.revoke_key(session, "no-such-id")
    assert repo.list_keys(session, "bank_a") == []


# --- decisions audit ------------------------------------------------------------------------


def test_decisions_are_isolated_per_tenant(session: Session, banks: tuple[str, str]) -> None:
    decision_id = repo.record_decision(session, **decision_fields("bank_a"))
    session.commit()
    session.expunge_all()
    stored = repo.get_decision(session, "bank_a", decision_id)
    assert stored is not None
    for name, value in decision_fields("bank_a").items():
        assert getattr(stored, name) == value
    assert stored.created_at.tzinfo == dt.UTC
    assert repo.get_decision(session, "bank_b", decision_id) is None
    assert repo.get_decision(session, "bank_a", "no-such-id") is None


def test_a_decision_can_carry_its_id_in_its_answer(
    session: Session, banks: tuple[str, str]
) -> None:
    decision_id, now = repo.new_id(), repo.utcnow()
    body = f'{{"decision_id": "{decision_id}", "created_at": "{now.isoformat()}"}}'
    fields = decision_fields("bank_a", id=decision_id, created_at=now, response_json=body)
    assert repo.record_decision(session, **fields) == decision_id
    session.commit()
    session.expunge_all()
    stored = repo.get_decision(session, "bank_a", decision_id)
    assert stored is not None
    assert stored.created_at == now
    assert stored.response_json == body


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decisions SET limit_cny = 1e9 WHERE id = :id",
        "UPDATE decisions SET tenant_id = 'bank_b'",
        "DELETE FROM decisions WHERE id = :id",
        "DELETE FROM decisions",
    ],
)
def test_decisions_are_append_only_in_the_database(
    session: Session, banks: tuple[str, str], statement: str
) -> None:
    decision_id = repo.record_decision(session, **decision_fields("bank_a"))
    session.commit()
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text(statement), {"id": decision_id})
    session.rollback()
    stored = session.get(Decision, decision_id, populate_existing=True)
    assert stored is not None
    assert stored.limit_cny == 300_000.0


def test_orm_changes_to_a_decision_are_refused(session: Session, banks: tuple[str, str]) -> None:
    decision_id = repo.record_decision(session, **decision_fields("bank_a"))
    session.commit()
    stored = repo.get_decision(session, "bank_a", decision_id)
    assert stored is not None
    stored.decision = "decline"
    with pytest.raises(IntegrityError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(stored)
    with pytest.raises(IntegrityError, match="append-only"):
        session.commit()


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # TRUNCATE is PostgreSQL only: no SQLite case to skip
def test_truncate_is_refused_on_postgres(session: Session, banks: tuple[str, str]) -> None:
    repo.record_decision(session, **decision_fields("bank_a"))
    session.commit()
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text("TRUNCATE decisions"))


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # TOAST compression is PostgreSQL's: SQLite stores the texts as they are
def test_the_audit_json_texts_compress_with_lz4_on_postgres(
    engine: Engine, db_schema: str | None
) -> None:
    with engine.connect() as connection:
        built = connection.execute(
            text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        ).scalar()
        methods = dict(
            connection.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = to_regclass(:table) AND attname LIKE '%\\_json'"
                ),
                {"table": f"{db_schema}.decisions"},
            ).all()
        )
    expected = "l" if built else ""  # a server built without lz4 keeps its default
    assert methods == dict.fromkeys(("features_json", "reasons_json", "response_json"), expected)


# --- engines --------------------------------------------------------------------------------


def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "pragmas.db"))
    first, second = engine.raw_connection(), engine.raw_connection()  # two pooled connections
    try:
        for connection in (first, second):
            cursor = connection.cursor()
            pragmas = [
                cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "foreign_keys", "recursive_triggers", "busy_timeout")
            ]
            assert pragmas == ["wal", 1, 1, 5000]
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_the_read_engine_sees_commits_at_once_and_refuses_writes(
    db_url: str, db_schema: str | None, session: Session, banks: tuple[str, str]
) -> None:
    """The request path's reads: autocommit (each read sees the last commit), never a write."""
    reads = make_read_engine(db_url, schema=db_schema, pool_size=1)
    try:
        with reads.connect() as connection:  # one pooled connection, reused below
            before = connection.execute(text("SELECT count(*) FROM tenants")).scalar_one()
            repo.create_tenant(session, "bank_c", "Bank C")
            session.commit()
            after = connection.execute(text("SELECT count(*) FROM tenants")).scalar_one()
            assert (before, after) == (2, 3)
            with pytest.raises(DBAPIError, match=r"(?i)read-?only|readonly"):
                connection.execute(text("DELETE FROM tenants WHERE id = 'bank_c'"))
        with reads.connect() as connection:  # back from the pool: still read-only
            with pytest.raises(DBAPIError, match=r"(?i)read-?only|readonly"):
                connection.execute(text("UPDATE tenants SET name = 'x'"))
            assert connection.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 3
    finally:
        reads.dispose()


def test_prepared_look_ups_match_core_and_keep_the_error_contract(
    db_url: str, db_schema: str | None, session: Session, banks: tuple[str, str]
) -> None:
    """The request path's prepared look-ups give Core's answers; driver errors stay SQLAlchemy's."""
    key = repo.issue_key(session, "bank_a", ["score"])
    revoked = repo.issue_key(session, "bank_b", ["admin"])
    session.commit()
    repo.revoke_key(session, repo.list_keys(session, "bank_b")[0].id)
    session.commit()
    reads = make_read_engine(db_url, schema=db_schema, pool_size=1)
    try:
        lookup = KeyLookup(reads)
        for plaintext in (key, revoked, key[:-1] + ("A" if key[-1] != "A" else "B"), "garbage"):
            assert lookup.authenticate(plaintext) == repo.authenticate(session, plaintext)
        found = lookup.authenticate(key)
        assert found is not None
        assert (found.tenant_id, found.scopes) == ("bank_a", frozenset({"score"}))
        assert lookup.authenticate(revoked) is None
        broken = Prepared(reads, select(ApiKey.id).where(ApiKey.prefix == bindparam("prefix")))
        missing = Prepared(reads, text("SELECT secret FROM no_such_table WHERE x = :prefix"))
        with pytest.raises(DBAPIError) as raised:  # a driver error, as SQLAlchemy's, no secret
            missing.rows(prefix="pc_bank_a_sEcReT")
        assert "pc_bank_a_sEcReT" not in str(raised.value)
        assert broken.rows(prefix="nothing") == []
    finally:
        reads.dispose()


def test_an_event_loop_reads_on_its_own_connection_when_the_pool_is_taken(
    db_url: str, db_schema: str | None, session: Session, banks: tuple[str, str]
) -> None:
    """Authentication in an `async` dependency never waits for the threads' read pool: a
    connection held by a thread-pool route (released only once the loop runs again) cannot
    stall the loop until the pool's timeout. Revocation still counts at the next read."""
    key = repo.issue_key(session, "bank_a", ["score"])
    session.commit()
    reads = make_read_engine(db_url, schema=db_schema, pool_size=1)
    loop_reads = make_read_engine(db_url, schema=db_schema, pool_size=1)
    try:
        lookup = KeyLookup(reads, loop_reads)
        held = reads.connect()  # a thread-pool route holds the pool's only connection
        try:

            async def authenticate() -> tuple[repo.Principal | None, float]:
                started = time.monotonic()
                return lookup.authenticate(key), time.monotonic() - started

            found, seconds = asyncio.run(authenticate())
            assert found is not None
            assert found.tenant_id == "bank_a"
            assert seconds < 2.0  # the pool's own timeout is 10 s
            repo.revoke_key(session, repo.list_keys(session, "bank_a")[0].id)
            session.commit()
            assert asyncio.run(authenticate())[0] is None  # revoked: the very next request
        finally:
            held.close()
        assert lookup.authenticate(key) is None  # a thread (no loop) reads on the pool
    finally:
        reads.dispose()
        loop_reads.dispose()


def test_urls_are_normalised_or_refused() -> None:
    for url in ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"]:
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()
    with pytest.raises(InvalidInput) as refused:
        make_engine("mysql://user:hunter2@h/db")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(InvalidInput, match="schema"):
        make_engine("sqlite://", schema="pc_test")
    for schema in ["x; DROP TABLE decisions", "pc_test\n", "Upper"]:
        with pytest.raises(InvalidInput, match="schema"):
            make_engine("postgresql://u@h/db", schema=schema)


def test_session_factory_keeps_objects_readable_after_commit(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        tenant = repo.create_tenant(session, "bank_a", "Bank A")
        session.commit()
    assert tenant.name == "Bank A"  # detached, not expired


def test_every_migration_applies_to_a_database_holding_rows(
    db_url: str, db_schema: str | None
) -> None:
    """A service database in use (tenants, keys, decisions) upgrades step by step to head."""
    upgrade(db_url, schema=db_schema, revision="0001")
    engine = make_engine(db_url, schema=db_schema)
    try:
        with engine.begin() as connection:  # rows as revision 0001 knew them
            connection.execute(
                text(
                    "INSERT INTO tenants (id, name, created_at, pooling_opt_in, promotion_policy, platform) "
                    "VALUES ('bank_a', 'Bank A', CURRENT_TIMESTAMP, false, 'manual', false)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO api_keys (id, tenant_id, prefix, key_hash, scopes, created_at) "
                    "VALUES ('k1', 'bank_a', 'pc_bank_a_', :hash, 'score', CURRENT_TIMESTAMP)"
                ),
                {"hash": "e" * 64},
            )
        for revision in (
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
            "0015",
            "0016",
            "0017",
            "0018",
        ):
            upgrade(db_url, schema=db_schema, revision=revision)
        assert current_revision(db_url, schema=db_schema) == head_revision()
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, financing_opt_in FROM tenants")).all()
        assert [(r[0], bool(r[1])) for r in rows] == [("bank_a", False)]
    finally:
        engine.dispose()
