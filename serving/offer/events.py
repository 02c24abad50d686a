"""Offer events for the webhook outbox: `offer.created`, `offer.changed`, `offer.revoked`.

A body is built only when one of the tenant's enabled endpoints subscribes to its type (most
batch runs write no event for most entities), and inserted in the caller's transaction: the
one that changes the offer (see `serving.db.webhooks`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from models.batch import PreapprovalBatch
from serving.db import webhooks as outbox
from serving.db.offers import ActiveOffer
from serving.offer.export import offer_document

PendingEvent = tuple[str, Callable[[], dict[str, Any]]]


def created(
    row: dict[str, Any],
    reasons: list[dict[str, Any]],
    old: ActiveOffer | None,
    uscc_valid: bool | None = None,
) -> PendingEvent:
    """A new offer (`offer.created`), or one replacing `old` (`offer.changed`).

    `uscc_valid`: whether the code passes GB 32100, when the caller already checked it.
    """

    def body() -> dict[str, Any]:
        data = {"offer": offer_document(row, reasons, uscc_valid)}
        return data | {"previous": old.terms()} if old else data

    return ("offer.changed" if old else "offer.created"), body


def revoked(
    old: ActiveOffer,
    reason: str,
    now: dt.datetime,
    batch: PreapprovalBatch | None = None,
    i: int = 0,
) -> PendingEvent:
    """A revoked offer, with row `i` of `batch` when a new score is the reason."""

    def body() -> dict[str, Any]:
        revocation: dict[str, Any] = {"reason": reason, "revoked_at": now.isoformat()}
        if batch is not None:  # the new answer, as the API would give it
            reasons = batch.reason_records([i])[0]  # explains the row first
            revocation |= {
                "decision": str(batch.decision[i]),
                "pd": float(batch.pd[i]),
                "grade": str(batch.grade[i]),
                "reasons": reasons,
            }
        return {"offer": old.terms() | {"status": "revoked"}, "revocation": revocation}

    return "offer.revoked", body


def write(
    session: Session, tenant_id: str, events: Sequence[PendingEvent], now: dt.datetime
) -> int:
    """Insert the events some enabled endpoint of the tenant subscribes to; how many."""
    if not events:
        return 0
    wanted = outbox.subscribed_types(session, tenant_id)
    chosen = [(kind, body()) for kind, body in events if kind in wanted]
    return outbox.add_events(session, tenant_id, chosen, now)
