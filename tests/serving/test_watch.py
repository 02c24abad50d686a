"""Watchlists and early warnings over HTTP (SQLite and PostgreSQL), and their webhook events."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from api_fixtures import LiveApi
from sqlalchemy import select
from trained_home import SNAPSHOT_DATE

from catalog import store
from platform_services.warnings.run import warnings_for
from serving import watch
from serving.db import webhooks
from serving.db.models import OutboxEvent


@pytest.fixture(scope="module")
def warned(api_stacks) -> list[str]:  # type: ignore[no-untyped-def]
    """Codes of the test platform on which at least one warning fires at the snapshot date."""
    with store.connect(api_stacks.home / "platform.duckdb", read_only=True) as con:
        codes = [r[0] for r in con.execute("SELECT uscc FROM feature_snapshot").fetchall()]
        found = warnings_for(con, codes, SNAPSHOT_DATE)
    hits = sorted({w.uscc for w in found})
    assert len(hits) >= 3, "the test platform should have a few warned entities"
    return hits


def test_a_bank_watches_entities_and_reads_their_warnings(
    live_api: LiveApi, warned: list[str]
) -> None:
    bank_a = live_api.client(live_api.keys.bank_a)
    response = bank_a.post("/v1/watchlist", json={"codes": warned[:2], "source": "borrower"})
    assert response.status_code == 200, response.text
    assert (
        bank_a.post("/v1/watchlist", json={"codes": warned[:2]}).json()["added"] == 0
    )  # idempotent
    assert set(warned[:2]) <= set(bank_a.get("/v1/watchlist").json()["codes"])
    answer = bank_a.get("/v1/warnings").json()
    assert answer["as_of"] == SNAPSHOT_DATE.isoformat()
    mine = {w["uscc"] for w in answer["warnings"]}
    assert set(warned[:2]) <= mine
    for warning in answer["warnings"]:
        assert warning["evidence"]
        assert warning["rule"]
        assert warning["first_evidence_date"] <= warning["last_evidence_date"] <= answer["as_of"]


def test_one_bank_never_learns_another_banks_watchlist(
    live_api: LiveApi, warned: list[str]
) -> None:
    live_api.client(live_api.keys.bank_a).post("/v1/watchlist", json={"codes": [warned[2]]})
    bank_b = live_api.client(live_api.keys.bank_b)
    assert warned[2] not in bank_b.get("/v1/watchlist").json()["codes"]
    assert warned[2] not in {w["uscc"] for w in bank_b.get("/v1/warnings").json()["warnings"]}
    assert bank_b.delete(f"/v1/watchlist/{warned[2]}").status_code == 404  # like a missing entry
    assert warned[2] in live_api.client(live_api.keys.bank_a).get("/v1/watchlist").json()["codes"]


@pytest.mark.parametrize(
    "body",
    [
        {"codes": []},
        {"codes": ["91441500MA4XXXXX1X"]},
        {"codes": ["x"], "source": "friend"},
        {"codes": "abc"},
    ],
)
def test_bad_watch_requests_are_422(live_api: LiveApi, body: dict[str, object]) -> None:
    response = live_api.client(live_api.keys.bank_a).post("/v1/watchlist", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"]


def test_new_warnings_are_queued_once_for_subscribed_banks_only(
    live_api: LiveApi, warned: list[str]
) -> None:
    with live_api.sessions() as session:
        dev = webhooks.EndpointOptions(allow_private=True)
        webhooks.add_endpoint(
            session, "bank_b", "http://127.0.0.1:9/hook", ["warning.created"], dev
        )
        watch.add(session, "bank_b", warned[3:5], "offer")
        session.commit()
    with store.connect(live_api.home / "platform.duckdb", read_only=True) as con:
        first = watch.notify(live_api.sessions, con, SNAPSHOT_DATE)
        again = watch.notify(live_api.sessions, con, SNAPSHOT_DATE)
    assert first["bank_b"] >= 2
    assert again["bank_b"] == 0
    assert first.get("bank_a", 0) == 0  # no endpoint subscribed: nothing queued for bank_a
    with live_api.sessions() as session:
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == "warning.created")
        ).all()
    assert {e.tenant_id for e in events} == {"bank_b"}
    payloads = [json.loads(e.payload_json)["data"]["warning"] for e in events]
    assert {p["uscc"] for p in payloads} <= set(warned[3:5])
    assert all(dt.date.fromisoformat(p["as_of"]) == SNAPSHOT_DATE for p in payloads)
