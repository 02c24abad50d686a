"""Webhook endpoints and the outbox: register, list, disable; write, claim and settle events.

Events are inserted by the transaction that changes the offers they describe (the outbox), and
only when the tenant has an enabled endpoint for their type: an endpoint receives what happens
after it is registered. Delivery (HTTP) is `serving.webhooks`; this module only reads and
writes rows, each function in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput, NotFound
from serving.db.bulk import insert_rows
from serving.db.models import (
    OutboxEvent,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
    utcnow,
)
from serving.db.secrets import SecretBox, open_secret, seal_secret

EVENT_TYPES = (
    "offer.created",
    "offer.changed",
    "offer.revoked",
    "warning.created",
    "dispute.resolved",
)
LOOPBACK_HOSTS = frozenset({"localhost"})
MAX_URL_LENGTH = 2000
EVENTS = cast(Table, OutboxEvent.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)


@dataclass(frozen=True)
class EndpointInfo:
    """What may be shown about an endpoint: never its secret."""

    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    created_at: dt.datetime
    disabled_at: dt.datetime | None


@dataclass(frozen=True)
class Target:
    """An endpoint an event is still owed to, with the secret that signs it."""

    id: str
    url: str
    secret: str


@dataclass(frozen=True)
class DueEvent:
    """A claimed event: what to post, to whom, and how many attempts it has had."""

    id: str
    tenant_id: str
    event_type: str
    body: str
    created_at: dt.datetime
    attempts: int


@dataclass(frozen=True)
class EndpointOptions:
    """How an endpoint is registered: when, the key sealing its secret, private targets."""

    now: dt.datetime | None = None
    box: SecretBox | None = None  # None: the secret is stored as it is (tests, development)
    allow_private: bool = False  # development only: plain http and loopback/private hosts


def add_endpoint(
    session: Session,
    tenant_id: str,
    url: str,
    events: Iterable[str] | None = None,
    options: EndpointOptions | None = None,
) -> tuple[EndpointInfo, str]:
    """Register an endpoint; returns it and its signing secret (the only time it is shown).

    The URL's form is checked here; whether its host resolves to public addresses is
    `serving.targets.check_target`, asked by the entry points and again at every delivery.
    """
    chosen_options = options or EndpointOptions()
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    chosen = _checked_events(events)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    row = WebhookEndpoint(
        tenant_id=tenant_id,
        url=checked_url(url, chosen_options.allow_private),
        secret=seal_secret(chosen_options.box, secret),
        events=",".join(chosen),
        created_at=chosen_options.now or utcnow(),
    )
    session.add(row)
    session.flush()
    return _info(row), secret


def list_endpoints(session: Session, tenant_id: str) -> list[EndpointInfo]:
    """The tenant's endpoints, oldest first, disabled ones included."""
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [_info(row) for row in rows]


def disable_endpoint(
    session: Session, tenant_id: str, endpoint_id: str, now: dt.datetime
) -> EndpointInfo:
    """Stop sending to an endpoint (idempotent); another tenant's endpoint is NotFound."""
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("no such webhook endpoint")
    if row.disabled_at is None:
        row.disabled_at = now
        session.flush()
    return _info(row)


def subscribed_types(session: Session, tenant_id: str) -> frozenset[str]:
    """Event types at least one of the tenant's enabled endpoints wants."""
    rows = session.scalars(
        select(WebhookEndpoint.events).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.disabled_at.is_(None)
        )
    )
    return frozenset(kind for events in rows for kind in events.split(","))


def add_events(
    session: Session,
    tenant_id: str,
    events: Sequence[tuple[str, dict[str, Any]]],
    now: dt.datetime,
) -> int:
    """Insert events `(type, data)` due now; each body carries its own id, type and time."""
    rows = []
    for kind, data in events:
        event_id = new_id()
        body = {
            "id": event_id,
            "type": kind,
            "created_at": now.isoformat(),
            "tenant_id": tenant_id,
            "data": data,
        }
        rows.append(
            {
                "id": event_id,
                "tenant_id": tenant_id,
                "event_type": kind,
                "payload_json": orjson.dumps(body).decode(),
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    insert_rows(session, EVENTS, rows)
    return len(rows)


def claim_due(
    session: Session, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[DueEvent]:
    """Pending events due by `now`, oldest first, leased until `now + lease` to this caller.

    On PostgreSQL concurrent dispatchers skip each other's locked rows; on SQLite the
    transaction holds the write lock. A dispatcher that dies leaves its events due again
    when the lease runs out.
    """
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.status == "pending", OutboxEvent.next_attempt_at <= now)
        .order_by(OutboxEvent.next_attempt_at, OutboxEvent.created_at, OutboxEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.next_attempt_at = now + lease
    session.flush()
    return [
        DueEvent(r.id, r.tenant_id, r.event_type, r.payload_json, r.created_at, r.attempts)
        for r in rows
    ]


def targets(session: Session, event: DueEvent, box: SecretBox | None = None) -> list[Target]:
    """The event tenant's enabled endpoints for its type, registered by then, not yet served."""
    served = select(WebhookDelivery.endpoint_id).where(
        WebhookDelivery.event_id == event.id,
        WebhookDelivery.status_code >= 200,
        WebhookDelivery.status_code < 300,
    )
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.tenant_id == event.tenant_id,
            WebhookEndpoint.disabled_at.is_(None),
            WebhookEndpoint.created_at <= event.created_at,
            WebhookEndpoint.id.not_in(served),
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [
        Target(r.id, r.url, open_secret(box, r.secret))
        for r in rows
        if event.event_type in r.events.split(",")
    ]


def record_attempts(session: Session, event: DueEvent, attempts: Sequence[dict[str, Any]]) -> None:
    """Log one attempt per endpoint (`endpoint_id`, `status_code`, `error`, `duration_ms`, `at`)."""
    rows = [
        {
            "id": new_id(),
            "tenant_id": event.tenant_id,
            "event_id": event.id,
            "attempt": event.attempts + 1,
            **attempt,
        }
        for attempt in attempts
    ]
    if rows:
        session.execute(insert(DELIVERIES), rows)


@dataclass(frozen=True)
class Settlement:
    """Where an event goes after a dispatch: its status, next attempt, and whether one was made."""

    status: str  # delivered, pending (backoff) or dead
    next_attempt_at: dt.datetime
    now: dt.datetime
    attempted: bool = True  # False: no endpoint left to try (the attempt count stays)


def settle(session: Session, event: DueEvent, outcome: Settlement) -> None:
    """Set the event's status after an attempt: delivered, pending again (backoff) or dead.

    A no-op when another dispatcher settled the event meanwhile (this one's lease ran out).
    """
    session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == event.id,
            OutboxEvent.status == "pending",
            OutboxEvent.attempts == event.attempts,
        )
        .values(
            status=outcome.status,
            attempts=event.attempts + int(outcome.attempted),
            next_attempt_at=outcome.next_attempt_at,
            delivered_at=outcome.now if outcome.status == "delivered" else None,
        )
    )


def checked_url(url: str, allow_private: bool = False) -> str:
    """The URL if it is https (http to a loopback host with `allow_private`); else InvalidInput."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise InvalidInput(f"a webhook URL is at most {MAX_URL_LENGTH} characters, no spaces")
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidInput("a webhook URL is an absolute https:// URL")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL carries no credentials: requests are signed instead")
    if parts.scheme == "http" and not (allow_private and _loopback(parts.hostname)):
        raise InvalidInput("a webhook URL must use https")
    return url


def _loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_events(events: Iterable[str] | None) -> list[str]:
    chosen = sorted(set(EVENT_TYPES if events is None else events))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown or not chosen:
        raise InvalidInput(f"webhook events are one or more of {', '.join(EVENT_TYPES)}")
    return chosen


def _info(row: WebhookEndpoint) -> EndpointInfo:
    return EndpointInfo(
        row.id,
        row.tenant_id,
        row.url,
        tuple(row.events.split(",")),
        row.created_at,
        row.disabled_at,
    )
