"""Signed webhooks from the outbox to real HTTP receivers on 127.0.0.1, on SQLite and PostgreSQL.

A receiver is a `ThreadingHTTPServer` that checks every signature with the endpoint's secret
(by our helper and by an independent HMAC) and can answer 500 to its first N requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from api_fixtures import ApiStacks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from catalog import store
from catalog.errors import InvalidInput, NotFound
from precredit.cli import app
from precredit.settings import get_settings
from serving import http
from serving.db import repo
from serving.db import webhooks as outbox
from serving.db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from serving.db.secrets import SecretBox
from serving.decision.model_store import ModelHolder
from serving.offer.run import OfferOptions, OfferSources, run_offers
from serving.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    deliver_all_due,
    deliver_due,
    signature_header,
    verify_signature,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
POLICY = RetryPolicy(
    base_seconds=10, factor=2, max_attempts=4, timeout_seconds=5, allow_private=True
)  # the receivers listen on 127.0.0.1: the development setting


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A real HTTP server that records requests and checks their signatures."""

    fail_first: int = 0
    secret: str = ""
    redirect: str = ""  # answer 307 to this Location instead
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """Record one request; 500 for the first `fail_first`, then 204."""
        header = headers.get(SIGNATURE_HEADER, "")
        stamp, digest = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header).groups()  # type: ignore[union-attr]
        independent = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        verified = verify_signature(self.secret, header, body) and hmac.compare_digest(
            digest, independent.hexdigest()
        )
        with self._lock:
            self.requests.append(Received(path, headers, body, verified))
            if self.redirect:
                return 307
            return 500 if len(self.requests) <= self.fail_first else 204

    def events(self) -> list[dict[str, Any]]:
        """Bodies of the requests received, parsed."""
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A running receiver and its URL."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code = state.handle(self.path, dict(self.headers.items()), body)
            self.send_response(code)
            if code == 307:
                self.send_header("Location", state.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/precredit"
    server.shutdown()
    server.server_close()


@pytest.fixture
def banks(sessions: sessionmaker[Session]) -> tuple[str, str]:
    """bank_a and bank_b, committed."""
    with sessions.begin() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        repo.create_tenant(session, "bank_b", "Bank B")
    return "bank_a", "bank_b"


def endpoint(sessions: sessionmaker[Session], tenant: str, url: str, **kw: object) -> str:
    """Register an endpoint a day before T0; its secret."""
    with sessions.begin() as session:
        options = outbox.EndpointOptions(now=T0 - dt.timedelta(days=1), allow_private=True)
        _, secret = outbox.add_endpoint(session, tenant, url, options=options, **kw)  # type: ignore[arg-type]
    return secret


def one_event(sessions: sessionmaker[Session], tenant: str = "bank_a") -> str:
    """Write one offer.created event at T0; its id."""
    with sessions.begin() as session:
        outbox.add_events(session, tenant, [("offer.created", {"offer": {"offer_id": "o-1"}})], T0)
    with sessions() as session:
        return session.scalars(select(OutboxEvent.id)).one()


def event_row(sessions: sessionmaker[Session], event_id: str) -> OutboxEvent:
    with sessions() as session:
        row = session.get(OutboxEvent, event_id)
        assert row is not None
        return row


def deliveries(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.at, WebhookDelivery.attempt)
        return list(session.scalars(query))


# --- signatures -----------------------------------------------------------------------------


def test_signatures_verify_and_refuse_tampering_replay_and_garbage() -> None:
    body, secret, now = b'{"id":"e1","type":"offer.created"}', "whsec_test", 1_767_603_600
    header = signature_header(secret, body, now)
    expected = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={now},v1={expected}"
    assert verify_signature(secret, header, body, now=now + 299)
    assert not verify_signature("whsec_other", header, body, now=now)
    assert not verify_signature(secret, header, body + b" ", now=now)
    assert not verify_signature(secret, header, body, now=now + 301)  # a replay, too old
    assert not verify_signature(secret, header, body, now=now - 301)
    assert verify_signature(secret, f"t={now},v1={'0' * 64},v1={expected}", body, now=now)
    for bad in [
        "",
        "t=",
        f"v1={expected}",
        f"t=abc,v1={expected}",
        f"t={now}",
        f"t={now},t={now},v1={expected}",
        f"t={now};v1={expected}",
        "=,=,",
    ]:
        assert not verify_signature(secret, bad, body, now=now), bad


# --- endpoints ------------------------------------------------------------------------------


def test_endpoints_are_per_tenant_and_their_secret_is_shown_once(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    secret = endpoint(sessions, "bank_a", "https://bank-a.example/hooks", events=["offer.revoked"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)
    with sessions() as session:
        [info] = outbox.list_endpoints(session, "bank_a")
        assert outbox.list_endpoints(session, "bank_b") == []
    assert info.events == ("offer.revoked",)
    assert info.disabled_at is None
    assert secret not in repr(info)
    assert not hasattr(info, "secret")
    with sessions.begin() as session:
        with pytest.raises(NotFound):
            outbox.disable_endpoint(session, "bank_b", info.id, T0)
        with pytest.raises(NotFound):
            outbox.add_endpoint(session, "bank_zz", "https://x.example/")
        assert outbox.disable_endpoint(session, "bank_a", info.id, T0).disabled_at == T0
        assert outbox.subscribed_types(session, "bank_a") == frozenset()


@pytest.mark.parametrize(
    "url",
    [
        "http://bank-a.example/hooks",
        "ftp://bank-a.example/",
        "https://user:pw@bank-a.example/",
        "https:///no-host",
        "bank-a.example/hooks",
        "https://bank a.example/",
        "https://x.example/" + "a" * 2000,
        "http://10.0.0.5/admin",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        outbox.checked_url(url)


def test_loopback_http_and_https_urls_are_accepted() -> None:
    assert (
        outbox.checked_url("https://bank-a.example/hooks?x=1") == "https://bank-a.example/hooks?x=1"
    )
    for url in ["http://127.0.0.1:8080/h", "http://localhost/h", "http://[::1]:9/h"]:
        with pytest.raises(InvalidInput):
            outbox.checked_url(url)  # plain http only with the development setting
        assert outbox.checked_url(url, allow_private=True) == url


# --- delivery -------------------------------------------------------------------------------


def test_a_host_that_now_resolves_inside_is_not_called(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    """DNS rebinding: the endpoint was accepted, its host resolves inside at delivery."""
    state, url = receiver
    state.secret = endpoint(sessions, "bank_a", url)  # registered under the development rule
    one_event(sessions)
    strict = dataclasses.replace(POLICY, allow_private=False)
    report = deliver_due(sessions, T0, policy=strict)
    assert (report.claimed, report.failures) == (1, 1)
    assert state.requests == []  # never called
    [attempt] = deliveries(sessions)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("refused: ")


def test_redirects_are_not_followed(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.secret, state.redirect = endpoint(sessions, "bank_a", url), "http://127.0.0.1:9/"
    one_event(sessions)
    report = deliver_due(sessions, T0, policy=POLICY)
    assert report.failures == 1
    assert len(state.requests) == 1
    [attempt] = deliveries(sessions)
    assert attempt.status_code == 307


def test_failed_deliveries_are_retried_with_backoff_until_delivered(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.secret, state.fail_first = endpoint(sessions, "bank_a", url), 2
    event_id = one_event(sessions)
    first = deliver_due(sessions, T0, policy=POLICY)
    assert (first.claimed, first.retrying, first.failures) == (1, 1, 1)
    row = event_row(sessions, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        T0 + dt.timedelta(seconds=10),
    )
    assert deliver_due(sessions, T0 + dt.timedelta(seconds=9), policy=POLICY).claimed == 0
    second = deliver_due(sessions, T0 + dt.timedelta(seconds=10), policy=POLICY)
    assert second.retrying == 1
    assert event_row(sessions, event_id).next_attempt_at == T0 + dt.timedelta(seconds=30)
    third = deliver_due(sessions, T0 + dt.timedelta(seconds=30), policy=POLICY)
    assert third.delivered == 1
    row = event_row(sessions, event_id)
    assert (row.status, row.attempts, row.delivered_at) == (
        "delivered",
        3,
        T0 + dt.timedelta(seconds=30),
    )
    assert [(d.attempt, d.status_code) for d in deliveries(sessions)] == [
        (1, 500),
        (2, 500),
        (3, 204),
    ]
    assert all(d.duration_ms >= 0 and d.tenant_id == "bank_a" for d in deliveries(sessions))
    assert [r.verified for r in state.requests] == [True] * 3
    assert {r.headers[EVENT_ID_HEADER] for r in state.requests} == {event_id}
    assert len({r.body for r in state.requests}) == 1  # the same bytes on every retry
    assert state.requests[0].path == "/hooks/precredit"
    assert deliver_due(sessions, T0 + dt.timedelta(days=1), policy=POLICY).claimed == 0


def test_an_unreachable_endpoint_makes_the_event_dead_after_max_attempts(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    endpoint(sessions, "bank_a", f"http://127.0.0.1:{http.free_port()}/nobody")
    event_id = one_event(sessions)
    moment = T0
    for attempt in range(1, POLICY.max_attempts + 1):
        report = deliver_due(sessions, moment, policy=POLICY)
        assert report.claimed == 1
        assert report.dead == int(attempt == POLICY.max_attempts)
        moment += POLICY.delay(attempt)
    row = event_row(sessions, event_id)
    assert (row.status, row.attempts, row.delivered_at) == ("dead", POLICY.max_attempts, None)
    rows = deliveries(sessions)
    assert [d.attempt for d in rows] == [1, 2, 3, 4]
    assert all(d.status_code is None and d.error and "ConnectError" in d.error for d in rows)
    assert deliver_due(sessions, moment + dt.timedelta(days=30), policy=POLICY).claimed == 0


def test_a_served_endpoint_is_not_posted_again_while_another_is_retried(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.secret = endpoint(sessions, "bank_a", url)
    flaky = endpoint(sessions, "bank_a", f"http://127.0.0.1:{http.free_port()}/down")
    assert flaky != state.secret
    one_event(sessions)
    deliver_due(sessions, T0, policy=POLICY)
    deliver_due(sessions, T0 + POLICY.delay(1), policy=POLICY)
    assert len(state.requests) == 1  # the healthy endpoint got the event once
    attempts = sorted((d.attempt, d.status_code or 0) for d in deliveries(sessions))
    assert attempts == [(1, 0), (1, 204), (2, 0)]


def test_an_event_whose_endpoints_were_all_disabled_is_dead_without_a_request(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.secret = endpoint(sessions, "bank_a", url)
    event_id = one_event(sessions)
    with sessions.begin() as session:
        [info] = outbox.list_endpoints(session, "bank_a")
        outbox.disable_endpoint(session, "bank_a", info.id, T0)
    assert deliver_due(sessions, T0, policy=POLICY).dead == 1
    assert (event_row(sessions, event_id).status, state.requests) == ("dead", [])


def test_concurrent_dispatchers_post_each_event_once(
    sessions: sessionmaker[Session], banks: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.secret = endpoint(sessions, "bank_a", url)
    with sessions.begin() as session:
        outbox.add_events(session, "bank_a", [("offer.created", {"n": n}) for n in range(60)], T0)
    reports = []

    def work() -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(10):
                reports.append(deliver_due(sessions, T0, client=client, policy=POLICY, limit=7))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.delivered for r in reports) == 60
    assert sorted(e["data"]["n"] for e in state.events()) == list(range(60))


# --- offers end to end ----------------------------------------------------------------------


@pytest.fixture
def platform(api_stacks: ApiStacks, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only copy of the API tests' store (snapshot included)."""
    path = tmp_path / "platform.duckdb"
    shutil.copy(api_stacks.home / "platform.duckdb", path)
    with store.connect(path, read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def holder(api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory) -> ModelHolder:
    """The trained platform model of the API tests."""
    home = api_stacks.home
    return ModelHolder(
        f"sqlite:///{home / 'mlflow.db'}",
        home / "mlartifacts",
        tmp_path_factory.mktemp("webhook-models"),
    )


def test_each_tenant_receives_its_own_offers_signed_with_its_own_secret(
    sessions: sessionmaker[Session],
    banks: tuple[str, str],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    receiver: tuple[Receiver, str],
) -> None:
    state_a, url = receiver
    state_a.secret = endpoint(sessions, "bank_a", url)
    state_b = Receiver()
    secret_b = endpoint(
        sessions, "bank_b", "https://bank-b.example/hooks", events=["offer.revoked"]
    )
    sources = OfferSources(sessions, holder, platform)
    run_a = run_offers(sources, "bank_a", OfferOptions(now=T0))
    run_b = run_offers(sources, "bank_b", OfferOptions(now=T0))
    assert run_a.counts.events == run_a.counts.created > 0
    assert run_b.counts.events == 0
    report = deliver_all_due(sessions, policy=POLICY)
    assert report.delivered == run_a.counts.events
    assert report.failures == 0
    bodies = state_a.events()
    assert {b["tenant_id"] for b in bodies} == {"bank_a"}
    assert state_b.requests == []
    assert all(r.verified for r in state_a.requests)
    assert not any(
        verify_signature(secret_b, r.headers[SIGNATURE_HEADER], r.body) for r in state_a.requests
    )
    offered = {b["data"]["offer"]["offer_id"] for b in bodies}
    with sessions() as session:
        assert session.scalars(select(OutboxEvent.status).distinct()).all() == ["delivered"]
        assert session.scalars(
            select(WebhookEndpoint.url).where(WebhookEndpoint.tenant_id == "bank_b")
        ).one()
    assert len(offered) == run_a.counts.created


# --- the command line -----------------------------------------------------------------------


def test_webhooks_commands_add_list_and_deliver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    monkeypatch.setenv("PRECREDIT_WEBHOOK_ALLOW_PRIVATE", "true")  # the receiver is on loopback
    monkeypatch.setenv("PRECREDIT_WEBHOOK_KEY", SecretBox.new_key())
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert (
            runner.invoke(
                app, ["banks", "add", "Bank A", "--id", "bank_a", "--no-require-consent"]
            ).exit_code
            == 0
        )
        added = runner.invoke(app, ["webhooks", "add", "--tenant", "bank_a", url])
        listed = runner.invoke(app, ["webhooks", "list", "--tenant", "bank_a"])
        refused = runner.invoke(
            app, ["webhooks", "add", "--tenant", "bank_a", "http://bank.example/"]
        )
        state.secret = added.output.strip().splitlines()[-1]
        from serving.db import make_engine, session_factory, sqlite_url

        sessions = session_factory(make_engine(sqlite_url(tmp_path / "service.db")))
        with sessions() as session:
            stored = session.scalars(select(WebhookEndpoint.secret)).one()
        with sessions.begin() as session:
            outbox.add_events(
                session, "bank_a", [("offer.created", {"n": 1})], dt.datetime.now(dt.UTC)
            )
        time.sleep(0.01)
        delivered = runner.invoke(app, ["webhooks", "deliver", "--once"])
    finally:
        get_settings.cache_clear()
    assert added.exit_code == 0
    assert re.fullmatch(r"whsec_\S{43}", state.secret)
    assert stored.startswith("fernet:")  # sealed at rest
    assert state.secret not in stored
    assert listed.exit_code == 0
    assert url in listed.output
    assert state.secret not in listed.output
    assert isinstance(refused.exception, InvalidInput)
    assert delivered.exit_code == 0, delivered.output
    assert "delivered 1" in delivered.output
    assert [r.verified for r in state.requests] == [True]
