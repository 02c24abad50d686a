"""A real precredit API for tests: trained home, service database, tenants, uvicorn in a thread.

`trained_home.build_home` prepares what `precredit serve` reads (store + snapshot, promoted
platform model); `LiveApi.start` migrates a service database, creates the banks and their keys,
and serves the app in a `serving.http.ServerThread` until `stop`. The fixtures that use these live in `conftest.py`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from catalog import store, uscc
from features import snapshot as feature_snapshot
from serving.app import create_app
from serving.config import Settings
from serving.db import make_engine, repo, session_factory, sqlite_url, upgrade
from serving.db.audit_verify import verify_tenant
from serving.db.secrets import SecretBox
from serving.http import Limits, ServerThread

PG_ADMIN_URL = os.environ.get(
    "PRECREDIT_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MAX_BATCH = 5
MAX_BODY_BYTES = 100_000
WEBHOOK_KEY = SecretBox.new_key()  # seals the webhook secrets of the test servers
AUDITED_TABLES = ("decisions", "outcomes", "idempotency_keys")


def snapshot_codes(home: Path, limit: int = 50) -> list[str]:
    """Valid credit codes present in the home's feature snapshot (pilot-era codes left out)."""
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        rows = con.execute(f"SELECT uscc FROM {feature_snapshot.TABLE} ORDER BY uscc").fetchall()
    return [row[0] for row in rows if uscc.is_valid(row[0])][:limit]


def pg_unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it answers."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def pg_missing(where: str, reason: str) -> NoReturn:
    """PostgreSQL does not answer: fail under CI (it promises the server), skip elsewhere."""
    message = f"PostgreSQL not reachable at {where}: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: the PostgreSQL tests must run)")
    pytest.skip(message)


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"pc_api_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def service_database(kind: str, directory: Path) -> Iterator[str]:
    """An empty service database's URL: a SQLite file in `directory`, or a fresh PostgreSQL one.

    PostgreSQL not answering fails under CI and skips elsewhere (`pg_missing`).
    """
    if kind == "sqlite":
        yield sqlite_url(directory / "service.db")
        return
    reason = pg_unreachable()
    if reason is not None:
        pg_missing(PG_ADMIN_URL, reason)
    with pg_database() as found:
        yield found


def migrate_with_tenants(url: str, tenants: tuple[str, ...]) -> None:
    """Migrate the service database at `url` and create `tenants` (each named as its id)."""
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        for tenant in tenants:
            repo.create_tenant(session, tenant, tenant)
        session.commit()
    engine.dispose()


def assert_chains_whole(url: str, tenants: tuple[str, ...], nonempty: bool = False) -> None:
    """Every tenant's audit hash chain verifies (and, with `nonempty`, holds rows)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            for tenant in tenants:
                report = verify_tenant(session, tenant)
                assert report.broken is None, report.broken
                if nonempty:
                    assert report.head.seq > 0
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Keys:
    """The plaintext API keys the tests use."""

    bank_a: str  # score + outcomes
    bank_b: str  # score + outcomes
    admin_a: str  # score + outcomes + admin
    score_only_a: str  # score
    revoked_a: str  # was score + outcomes
    platform: str  # the platform's own tenant: score


def create_banks(sessions: sessionmaker[Session]) -> Keys:
    """bank_a, bank_b and the platform tenant with their keys (one of bank_a's revoked)."""
    with sessions() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        repo.create_tenant(session, "bank_b", "Bank B")
        repo.create_tenant(session, "platform", "Platform", repo.TenantOptions(platform=True))
        keys = Keys(
            bank_a=repo.issue_key(session, "bank_a", ["score", "outcomes"]),
            bank_b=repo.issue_key(session, "bank_b", ["score", "outcomes"]),
            admin_a=repo.issue_key(session, "bank_a", ["score", "outcomes", "admin"]),
            score_only_a=repo.issue_key(session, "bank_a", ["score"]),
            revoked_a=repo.issue_key(session, "bank_a", ["score", "outcomes"]),
            platform=repo.issue_key(session, "platform", ["score"]),
        )
        revoked = repo.authenticate(session, keys.revoked_a)
        assert revoked is not None
        repo.revoke_key(session, revoked.key_id)
        session.commit()
    return keys


@dataclass
class LiveApi:
    """One running API: its URL, keys, settings and a session factory on its service DB."""

    kind: str
    home: Path
    database_url: str
    keys: Keys
    codes: list[str]
    engine: Engine
    sessions: sessionmaker[Session]
    base_url: str = ""
    _server: ServerThread | None = None
    _clients: list[httpx.Client] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)  # extra Settings

    @classmethod
    def start(cls, kind: str, home: Path, database_url: str, **overrides: Any) -> LiveApi:
        """Migrate, create the banks, and serve on a free port (waits for /healthz)."""
        upgrade(database_url)
        engine = make_engine(database_url)
        sessions = session_factory(engine)
        api = cls(
            kind,
            home,
            database_url,
            create_banks(sessions),
            snapshot_codes(home),
            engine,
            sessions,
            overrides=overrides,
        )
        api._serve()
        return api

    def _serve(self) -> None:
        options: dict[str, Any] = {
            "model_poll_seconds": 0,
            "max_batch": MAX_BATCH,
            "max_body_bytes": MAX_BODY_BYTES,
            "webhook_key": WEBHOOK_KEY,
        } | self.overrides
        settings = Settings(home=self.home, database_url=self.database_url, **options)
        self._server = ServerThread(
            create_app(settings), name=f"api-{self.kind}", limits=Limits.of(settings)
        ).start()
        self.base_url = self._server.base_url

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client on the API, with `Authorization: Bearer key` when given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def counts(self) -> dict[str, int]:
        """Rows in the tables a request may write."""
        with self.engine.connect() as connection:
            return {
                t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in AUDITED_TABLES
            }

    def stop(self) -> None:
        """Stop the server, close clients and the engine."""
        for client in self._clients:
            client.close()
        if self._server is not None:
            self._server.stop()
        self.engine.dispose()


class ApiStacks:
    """Servers built on first use, one per service-database kind, stopped together."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._apis: dict[str, LiveApi] = {}
        self._databases = ExitStack()

    def get(self, kind: str) -> LiveApi:
        """The running API on `kind` ("sqlite" or "postgres")."""
        if kind not in self._apis:
            url = (
                sqlite_url(self.home / f"service-{kind}.db")
                if kind == "sqlite"
                else self._databases.enter_context(pg_database())
            )
            self._apis[kind] = LiveApi.start(kind, self.home, url)
        return self._apis[kind]

    def close(self) -> None:
        """Stop every server, then drop the PostgreSQL databases."""
        for api in self._apis.values():
            api.stop()
        self._databases.close()
