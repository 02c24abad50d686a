"""Concurrent audited pre-approvals through a real uvicorn server keep each tenant's chain whole.

On PostgreSQL the server runs as the least-privileged API role, migrated by the owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_fixtures import (
    PG_ADMIN_URL,
    ApiStacks,
    LiveApi,
    create_banks,
    pg_database,
    pg_missing,
    pg_unreachable,
    snapshot_codes,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url

from serving.db import make_engine, session_factory, sqlite_url, upgrade
from serving.db.audit_verify import verify_tenant

REQUESTS = 50
API_ROLE = "precredit_api"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def chain_api(request: pytest.FixtureRequest, api_stacks: ApiStacks) -> Iterator[LiveApi]:
    """A fresh server on its own service database (PostgreSQL: served as the API role)."""
    home = api_stacks.home
    if request.param == "sqlite":
        api = LiveApi.start("chain-sqlite", home, sqlite_url(home / "service-chain.db"))
        yield api
        api.stop()
        return
    reason = pg_unreachable()
    if reason is not None:
        pg_missing(PG_ADMIN_URL, reason)
    with pg_database() as owner_url:
        upgrade(owner_url)
        engine = make_engine(owner_url)
        sessions = session_factory(engine)
        runtime_url = make_url(owner_url).set(username=API_ROLE)
        api = LiveApi(
            "chain-postgres",
            home,
            runtime_url.render_as_string(hide_password=False),
            create_banks(sessions),
            snapshot_codes(home),
            engine,
            sessions,
            overrides={"migration_database_url": owner_url},
        )
        api._serve()
        try:
            yield api
        finally:
            api.stop()


def test_concurrent_preapprovals_keep_a_gap_free_chain(chain_api: LiveApi) -> None:
    codes = chain_api.codes
    jobs = [
        (chain_api.keys.bank_a if i % 3 else chain_api.keys.bank_b, codes[i % len(codes)])
        for i in range(REQUESTS)
    ]

    def post(job: tuple[str, str]) -> httpx.Response:
        key, code = job
        with httpx.Client(base_url=chain_api.base_url, timeout=60) as client:
            headers = {"Authorization": f"Bearer {key}"}
            return client.post("/v1/preapprovals", json={"uscc": code}, headers=headers)

    with ThreadPoolExecutor(REQUESTS) as pool:
        responses = list(pool.map(post, jobs))
    assert [r.status_code for r in responses] == [200] * REQUESTS, responses[0].text
    answered = {r.json()["decision_id"] for r in responses}
    with chain_api.sessions() as session:
        reports = [verify_tenant(session, tenant) for tenant in ("bank_a", "bank_b")]
        stored = set(session.scalars(text("SELECT id FROM decisions")))
    assert [r.broken for r in reports] == [None, None]
    assert [r.head.seq for r in reports] == [
        sum(1 for key, _ in jobs if key == chain_api.keys.bank_a),
        sum(1 for key, _ in jobs if key == chain_api.keys.bank_b),
    ]
    assert stored == answered
