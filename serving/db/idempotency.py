"""Idempotency keys: a retried request gets the first answer, never a second effect.

`claim_idempotency` answers one of four ways, and the API maps them:

- `new`: the caller owns the key; it commits the claim at once (so a concurrent duplicate
  sees `in_progress` instead of waiting on the row), does the work, then calls
  `complete_idempotency` with the answer, or `release_idempotency` when the request failed
  in a way the client should retry.
- `replay`: the same request was answered before: send back `status_code`, `response_json`.
- `conflict`: the key was used for a different request (other hash or endpoint): 422.
- `in_progress`: claimed but not completed: a duplicate racing the first, or a caller that
  crashed before completing. The API answers 409; the claim stays until released.

Keys are scoped per tenant: two tenants' identical keys never meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput, NotFound
from serving.db.models import IdempotencyKey, utcnow

ClaimStatus = Literal["new", "replay", "conflict", "in_progress"]
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim; `status_code` and `response_json` are set for `replay`."""

    status: ClaimStatus
    status_code: int | None = None
    response_json: str | None = None


def claim_idempotency(
    session: Session, tenant_id: str, key: str, endpoint: str, request_hash: str
) -> Claim:
    """Claim `key` for this request; race-safe: of concurrent claims exactly one is `new`."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"an idempotency key is 1-{MAX_KEY_LENGTH} printable characters")
    stored = _find(session, tenant_id, key)
    if stored is None:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyKey(
                        tenant_id=tenant_id, key=key, endpoint=endpoint, request_hash=request_hash
                    )
                )
            return Claim("new")
        except IntegrityError:
            stored = _find(session, tenant_id, key)  # a concurrent claim won
            if stored is None:
                raise
    return _judge(stored, endpoint, request_hash)


def complete_idempotency(
    session: Session, tenant_id: str, key: str, status_code: int, response_json: str
) -> None:
    """Store the answer of a `new` claim for replays; NotFound if there is no open claim."""
    stored = _find(session, tenant_id, key)
    if stored is None or stored.status_code is not None:
        raise NotFound("no open idempotency claim for this key")
    stored.status_code, stored.response_json = status_code, response_json
    stored.completed_at = utcnow()
    session.flush()


def release_idempotency(session: Session, tenant_id: str, key: str) -> None:
    """Drop an uncompleted claim so the client may retry; a completed one stays."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.tenant_id == tenant_id,
            IdempotencyKey.key == key,
            IdempotencyKey.status_code.is_(None),
        )
    )


def _find(session: Session, tenant_id: str, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (tenant_id, key), populate_existing=True)


def _judge(stored: IdempotencyKey, endpoint: str, request_hash: str) -> Claim:
    if stored.endpoint != endpoint or stored.request_hash != request_hash:
        return Claim("conflict")
    if stored.status_code is None:
        return Claim("in_progress")
    return Claim("replay", stored.status_code, stored.response_json)
