"""Signed webhook delivery from the outbox: Stripe-style signatures, retries with backoff.

Every request is `POST <endpoint url>` with the event JSON as body (the bytes stored in the
outbox, identical on every retry) and these headers:

    Content-Type: application/json
    X-Precredit-Event-Id: <event id>      a retry repeats it: receivers dedupe on it
    X-Precredit-Event-Type: offer.created | offer.changed | offer.revoked
    X-Precredit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

A 2xx answer delivers the event to that endpoint; anything else, or no answer within the
timeout, is retried after `base x factor**(attempt - 1)` seconds (capped), until
`max_attempts`, then the event is dead. Every attempt is a `webhook_deliveries` row. Delivery
is at least once: a dispatcher that dies after posting and before recording posts again when
its lease runs out. Events may arrive out of order across retries; each carries its time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import InvalidInput
from serving.db import webhooks as outbox
from serving.db.models import utcnow
from serving.db.secrets import SecretBox
from serving.targets import check_target

SIGNATURE_HEADER = "X-Precredit-Signature"
EVENT_ID_HEADER = "X-Precredit-Event-Id"
EVENT_TYPE_HEADER = "X-Precredit-Event-Type"
USER_AGENT = "precredit-webhooks/1"
MAX_RESPONSE_BYTES = 65_536  # read no more of an endpoint's answer than this


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """Whether `header` signs the raw `body` with `secret`, stamped within `tolerance` seconds.

    Self-contained (hmac, hashlib, time): receivers may copy it as it is. Pass the body bytes
    exactly as received; any `v1` entry may match (several appear while a secret rotates).
    """
    pairs = [part.strip().split("=", 1) for part in header.split(",")]
    entries = [(p[0], p[1]) for p in pairs if len(p) == 2]
    stamps = [value for key, value in entries if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in entries)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry, how long one request may take, and where it may go.

    Every delivery resolves the endpoint's host again and refuses private addresses (DNS
    rebinding) unless `allow_private` (development only); redirects are never followed.
    `box` opens the sealed signing secrets.
    """

    base_seconds: float = 30.0
    factor: float = 2.0
    max_delay_seconds: float = 6 * 3600.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0
    lease_seconds: float = 300.0
    allow_private: bool = False
    box: SecretBox | None = field(default=None, repr=False)

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th failed attempt."""
        seconds = self.base_seconds * self.factor ** max(attempts - 1, 0)
        return dt.timedelta(seconds=min(seconds, self.max_delay_seconds))


@dataclass
class DeliveryReport:
    """What one dispatcher pass did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    requests: int = 0
    failures: int = 0

    def add(self, status: str, requests: int, failures: int) -> None:
        """Count one settled event."""
        self.claimed += 1
        self.requests += requests
        self.failures += failures
        if status == "delivered":
            self.delivered += 1
        elif status == "dead":
            self.dead += 1
        else:
            self.retrying += 1

    def merge(self, other: DeliveryReport) -> None:
        """Add another pass's counts."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def deliver_due(
    sessions: sessionmaker[Session],
    now: dt.datetime | None = None,
    *,
    client: httpx.Client | None = None,
    policy: RetryPolicy | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Post up to `limit` due events to their endpoints, record every attempt, settle each."""
    moment, rules = now or utcnow(), policy or RetryPolicy()
    lease = dt.timedelta(seconds=max(rules.lease_seconds, 2 * limit * rules.timeout_seconds))
    with sessions.begin() as session:
        due = outbox.claim_due(session, moment, limit, lease)
        work = [(event, outbox.targets(session, event, rules.box)) for event in due]
    report = DeliveryReport()
    with _client(client, rules) as http:
        for event, targets in work:
            attempts = [_post(http, event, target, moment, rules) for target in targets]
            status = _settle(sessions, event, attempts, moment, rules)
            report.add(status, len(attempts), sum(not _ok(a) for a in attempts))
    return report


def deliver_all_due(
    sessions: sessionmaker[Session],
    *,
    client: httpx.Client | None = None,
    policy: RetryPolicy | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Passes of `deliver_due` until nothing is due; the totals."""
    total = DeliveryReport()
    with _client(client, policy or RetryPolicy()) as http:
        while True:
            report = deliver_due(sessions, client=http, policy=policy, limit=limit)
            if report.claimed == 0:
                return total
            total.merge(report)


@contextmanager
def _client(client: httpx.Client | None, policy: RetryPolicy) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    headers = {"User-Agent": USER_AGENT}
    with httpx.Client(
        timeout=policy.timeout_seconds, headers=headers, follow_redirects=False
    ) as owned:
        yield owned


def _post(
    client: httpx.Client,
    event: outbox.DueEvent,
    target: outbox.Target,
    now: dt.datetime,
    policy: RetryPolicy,
) -> dict[str, Any]:
    """One signed POST; the attempt as a `webhook_deliveries` row (without ids).

    The host is resolved again first: one that now points inside is refused, not called.
    """
    body = event.body.encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event.id,
        EVENT_TYPE_HEADER: event.event_type,
        SIGNATURE_HEADER: signature_header(target.secret, body, int(time.time())),
    }
    started = time.perf_counter()
    code: int | None = None
    try:
        check_target(target.url, policy.allow_private)
        with client.stream(
            "POST", target.url, content=body, headers=headers, follow_redirects=False
        ) as response:
            code = response.status_code
            _drain(response)
        error = None if 200 <= code < 300 else f"HTTP {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    except InvalidInput as exc:  # the host resolves inside (or not at all) now
        error = f"refused: {exc.message}"[:300]
    return {
        "endpoint_id": target.id,
        "status_code": code,
        "error": error,
        "at": now,
        "duration_ms": round((time.perf_counter() - started) * 1e3, 3),
    }


def _drain(response: httpx.Response) -> None:
    """Read a bounded answer so the connection can be reused; a longer one is cut off."""
    seen = 0
    for chunk in response.iter_raw():
        seen += len(chunk)
        if seen > MAX_RESPONSE_BYTES:
            return


def _ok(attempt: dict[str, Any]) -> bool:
    code = attempt["status_code"]
    return code is not None and 200 <= code < 300


def _settle(
    sessions: sessionmaker[Session],
    event: outbox.DueEvent,
    attempts: list[dict[str, Any]],
    now: dt.datetime,
    policy: RetryPolicy,
) -> str:
    """Record the attempts and move the event on; returns its new status."""
    if not attempts:  # every endpoint was disabled since the event was written
        status, attempted, when = "dead", False, now
    elif all(_ok(a) for a in attempts):
        status, attempted, when = "delivered", True, now
    else:
        tried = event.attempts + 1
        status = "dead" if tried >= policy.max_attempts else "pending"
        attempted, when = True, now + policy.delay(tried)
    with sessions.begin() as session:
        outbox.record_attempts(session, event, attempts)
        outbox.settle(session, event, outbox.Settlement(status, when, now, attempted))
    return status
