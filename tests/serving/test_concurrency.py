"""100 concurrent requests to every write route through a real server: no 5xx but 503.

On SQLite (one uvicorn in a thread, `ServerThread`) and on PostgreSQL behind
`precredit serve --workers 2` (a subprocess on a free port). Each burst checks that every
answer is 2xx or 503 `database_busy` with `Retry-After`, and that the database holds exactly
what was acknowledged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fixtures import (
    WEBHOOK_KEY,
    ApiStacks,
    LiveApi,
    create_banks,
    pg_database,
    pg_missing,
    pg_unreachable,
    snapshot_codes,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.db import make_engine, repo, session_factory, sqlite_url, upgrade
from serving.db.models import Decision, FinancingRequest, Outcome, WatchedEntity, WebhookEndpoint
from serving.http import free_port

BURST = 100
REQUEST = {"amount_cny": 400_000.0, "term_months": 12, "purpose": "working capital"}


@dataclass
class Target:
    """A server to hammer: its URL, keys and a session factory on its database."""

    base_url: str
    bank_key: str
    admin_key: str
    platform_key: str
    codes: list[str]
    sessions: sessionmaker[Session]


def platform_setup(sessions: sessionmaker[Session]) -> str:
    """A `platform` key; bank_a opted in to financing requests."""
    with sessions() as session:
        key = repo.issue_key(session, "platform", ["platform"])
        tenant = repo.get_tenant(session, "bank_a")
        assert tenant is not None
        tenant.financing_opt_in = True
        session.commit()
    return key


def burst(
    base_url: str, key: str, send: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """`BURST` requests released together, one client (connection) each."""
    start = threading.Barrier(BURST)

    def one(index: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base_url, timeout=120, headers=headers) as client:
            start.wait(timeout=60)
            return send(client, index)

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(one, range(BURST)))


def acknowledged(responses: list[httpx.Response], ok: int) -> list[httpx.Response]:
    """The acknowledged answers; every other one is 503 database_busy with Retry-After."""
    for response in responses:
        if response.status_code == ok:
            continue
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_busy"
        assert response.headers["Retry-After"].isdigit()
    return [r for r in responses if r.status_code == ok]


def count(sessions: sessionmaker[Session], query: Any) -> int:
    """A count query's answer."""
    with sessions() as session:
        return int(session.scalar(query) or 0)


def check_watchlist(target: Target) -> None:
    code = target.codes[7]
    responses = burst(
        target.base_url,
        target.bank_key,
        lambda client, _: client.post("/v1/watchlist", json={"codes": [code]}),
    )
    ok = acknowledged(responses, 200)
    assert ok, "no request was acknowledged"
    assert sum(r.json()["added"] for r in ok) == 1
    rows = select(func.count()).where(
        WatchedEntity.tenant_id == "bank_a", WatchedEntity.uscc == code
    )
    assert count(target.sessions, rows) == 1


def check_outcomes(target: Target) -> None:
    loan = f"loan-{uuid.uuid4().hex[:12]}"

    def send(client: httpx.Client, index: int) -> httpx.Response:
        body = {
            "loan_id": loan,
            "uscc": target.codes[8],
            "application_date": "2025-01-10",
            "granted_amount_cny": 200_000.0,
            "drawn_amount_cny": 150_000.0,
            "default_flag": False,
            "observation_date": f"2025-{6 + index % 6:02d}-28",
        }
        return client.post("/v1/outcomes", json=body)

    ok = acknowledged(burst(target.base_url, target.bank_key, send), 200)
    assert ok
    with target.sessions() as session:
        rows = session.scalars(
            select(Outcome).where(Outcome.tenant_id == "bank_a", Outcome.loan_id == loan)
        ).all()
    assert len(rows) == 1
    reported = [json.loads(r.request.content)["observation_date"] for r in ok]
    assert rows[0].observation_date.isoformat() == max(reported)  # the newest report wins


def check_financing(target: Target) -> None:
    code = target.codes[9]
    before = count(target.sessions, select(func.count()).select_from(FinancingRequest))
    responses = burst(
        target.base_url,
        target.platform_key,
        lambda client, _: client.post("/v1/financing-requests", json={"uscc": code, **REQUEST}),
    )
    ok = acknowledged(responses, 201)
    assert ok
    after = count(target.sessions, select(func.count()).select_from(FinancingRequest))
    assert after - before == len(ok)
    ids = {r.json()["request_id"] for r in ok}
    stored = select(func.count()).where(FinancingRequest.id.in_(ids))
    assert count(target.sessions, stored) == len(ids) == len(ok)


def check_webhooks(target: Target) -> None:
    url = f"https://93.184.215.14/hooks/{uuid.uuid4().hex}"  # public: resolved, never called
    responses = burst(
        target.base_url,
        target.admin_key,
        lambda client, _: client.post("/v1/webhooks", json={"url": url}),
    )
    ok = acknowledged(responses, 201)
    assert ok
    stored = select(func.count()).where(WebhookEndpoint.url == url)
    assert count(target.sessions, stored) == len({r.json()["endpoint_id"] for r in ok}) == len(ok)


def check_preapprovals(target: Target) -> None:
    code = target.codes[10]
    mine = select(func.count()).where(Decision.tenant_id == "bank_a", Decision.uscc == code)
    before = count(target.sessions, mine)
    responses = burst(
        target.base_url,
        target.bank_key,
        lambda client, _: client.post("/v1/preapprovals", json={"uscc": code}),
    )
    ok = [r for r in responses if r.status_code == 200]
    for response in responses:  # a busy audit is 503 audit_unavailable: never a 500
        assert response.status_code in {200, 503}, response.text
    assert ok
    assert count(target.sessions, mine) - before == len(ok)


CHECKS = [check_watchlist, check_outcomes, check_financing, check_webhooks, check_preapprovals]


@pytest.fixture(scope="module")
def sqlite_target(
    api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """A server of its own (one process) on a fresh SQLite database."""
    url = sqlite_url(tmp_path_factory.mktemp("burst") / "service.db")
    api = LiveApi.start("sqlite-burst", api_stacks.home, url)
    key = platform_setup(api.sessions)
    yield Target(api.base_url, api.keys.bank_a, api.keys.admin_a, key, api.codes, api.sessions)
    api.stop()


@pytest.fixture(scope="module")
def postgres_target(api_stacks: ApiStacks) -> Iterator[Target]:
    """`precredit serve --workers 2` on a fresh PostgreSQL database."""
    reason = pg_unreachable()
    if reason is not None:
        pg_missing("127.0.0.1:5432", reason)
    with pg_database() as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        keys = create_banks(sessions)
        key = platform_setup(sessions)
        with serve_two_workers(api_stacks.home, url) as base_url:
            codes = snapshot_codes(api_stacks.home)
            yield Target(base_url, keys.bank_a, keys.admin_a, key, codes, sessions)
        engine.dispose()


class _Served:
    def __init__(self, home: Path, url: str) -> None:
        self.port = free_port()
        env = os.environ | {
            "PRECREDIT_HOME": str(home),
            "PRECREDIT_DATABASE_URL": url,
            "PRECREDIT_MODEL_POLL_SECONDS": "0",
            "PRECREDIT_WEBHOOK_KEY": WEBHOOK_KEY,
        }
        command = [
            sys.executable,
            "-m",
            "precredit.cli",
            "serve",
            "--workers",
            "2",
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(command, env=env, cwd=home)

    def wait(self, seconds: float = 180.0) -> str:
        base_url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + seconds
        ready = 0
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                ready = (
                    ready + 1
                    if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
                    else 0
                )
            except httpx.TransportError:
                ready = 0
            if ready >= 10:  # both workers have had time to come up
                return base_url
            time.sleep(0.3)
        raise AssertionError("precredit serve --workers 2 did not answer /healthz")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


class serve_two_workers:  # noqa: N801 - used as a context manager
    """`precredit serve --workers 2` on a free port for the duration of a `with`."""

    def __init__(self, home: Path, url: str) -> None:
        self._served = _Served(home, url)

    def __enter__(self) -> str:
        try:
            return self._served.wait()
        except BaseException:
            self._served.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self._served.stop()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_sqlite_write_routes_survive_a_burst(
    sqlite_target: Target, check: Callable[[Target], None]
) -> None:
    check(sqlite_target)


@pytest.mark.postgres
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_postgres_two_workers_write_routes_survive_a_burst(
    postgres_target: Target, check: Callable[[Target], None]
) -> None:
    check(postgres_target)
