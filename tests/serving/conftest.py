"""Service-database fixtures: every test runs on SQLite (a tmp file) and on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
from api_fixtures import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    PG_ADMIN_URL,
    WEBHOOK_KEY,
    ApiStacks,
    LiveApi,
    pg_missing,
    pg_unreachable,
)
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from trained_home import build_home

from serving.app import create_app
from serving.config import Settings
from serving.db import make_engine, session_factory, sqlite_url, upgrade
from serving.http import Limits, ServerThread

PG_URL = os.environ.get(
    "PRECREDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _conninfo(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def _pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (asked once per session), or None when it answers."""
    try:
        with psycopg.connect(_conninfo(PG_URL), connect_timeout=2) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, or the PostgreSQL test server."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "service.db")
    reason = _pg_unreachable()
    if reason is not None:
        pg_missing(make_url(PG_URL).render_as_string(hide_password=True), reason)
    return PG_URL


@pytest.fixture
def db_schema(db_url: str) -> Iterator[str | None]:
    """A fresh PostgreSQL schema for this test only (dropped afterwards); None on SQLite."""
    if make_url(db_url).get_backend_name() != "postgresql":
        yield None
        return
    schema = f"pc_test_{uuid.uuid4().hex}"
    with psycopg.connect(_conninfo(db_url), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(_conninfo(db_url), autocommit=True) as connection:
            connection.execute("SET lock_timeout = '10s'")
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def engine(db_url: str, db_schema: str | None) -> Iterator[Engine]:
    """An engine on the migrated database."""
    upgrade(db_url, schema=db_schema)
    engine = make_engine(db_url, schema=db_schema)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory the API would use."""
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session; the test commits what it wants others to see."""
    with sessions() as session:
        yield session


# --- a live API over HTTP (tests/serving/test_api.py, test_bad_input.py) --------------------
# The helpers live in api_fixtures.py; the fixtures are declared here so both test modules
# share one trained home and one server per service database.


@pytest.fixture(scope="session")
def api_stacks(
    tiny_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiStacks]:
    """A trained home (snapshot + promoted platform model); servers started on first use."""
    home = build_home(tiny_store, tmp_path_factory.mktemp("api") / "home")
    stacks = ApiStacks(home)
    yield stacks
    stacks.close()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live_api(request: pytest.FixtureRequest, api_stacks: ApiStacks) -> LiveApi:
    """The running API on a SQLite, then a fresh PostgreSQL, service database."""
    if request.param == "postgres":
        reason = pg_unreachable()
        if reason is not None:
            pg_missing(PG_ADMIN_URL, reason)
    return api_stacks.get(request.param)


@pytest.fixture(scope="session")
def sqlite_api(api_stacks: ApiStacks) -> LiveApi:
    """The running API on SQLite only (the same server as live_api['sqlite'])."""
    return api_stacks.get("sqlite")


@pytest.fixture(scope="module")
def route_only(live_api: LiveApi) -> Iterator[str]:
    """A second server on live_api's home and database, the lane off: its base URL."""
    settings = Settings(
        home=live_api.home,
        database_url=live_api.database_url,
        model_poll_seconds=0,
        max_batch=MAX_BATCH,
        max_body_bytes=MAX_BODY_BYTES,
        webhook_key=WEBHOOK_KEY,
        fast_preapprovals=False,
    )
    server = ServerThread(create_app(settings), name="api-route-only", limits=Limits.of(settings))
    with server:
        yield server.base_url
