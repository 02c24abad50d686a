"""API keys: issued once in plaintext, stored as SHA-256, looked up by prefix."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput, NotFound
from serving.db.models import ApiKey, Tenant, utcnow
from serving.db.prepared import Prepared

SCOPES = frozenset({"score", "outcomes", "admin", "platform", "operator"})
PLATFORM_SCOPES = frozenset({"platform", "operator"})  # only on the platform's own tenant
PREFIX_LENGTH = 12
RANDOM_CHARS = 40  # secrets.token_urlsafe(30): 240 random bits
_KEY_FORMAT = re.compile(r"pc_[a-z][a-z0-9_]{1,31}_[A-Za-z0-9_-]{40}")


@dataclass(frozen=True)
class Principal:
    """Who an authenticated request acts for."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its hash or plaintext."""

    id: str
    tenant_id: str
    prefix: str
    scopes: frozenset[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    name: str | None = None


def identity(principal: Principal) -> str:
    """Who acts, as promotions and jobs record it: the key's id, never a typed-in name."""
    return f"key:{principal.key_id}"


def issue_key(
    session: Session, tenant_id: str, scopes: Iterable[str], name: str | None = None
) -> str:
    """A new key `pc_<tenant>_<40 random chars>`; the plaintext is returned once, never stored.

    `name` names who holds it (an operator, the SME financing platform); 1-120 characters.
    """
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} does not exist")
    granted = _checked_scopes(scopes, tenant)
    if name is not None and not 0 < len(name.strip()) <= 120:
        raise InvalidInput("a key's name is 1-120 characters")
    plaintext = f"pc_{tenant_id}_{secrets.token_urlsafe(30)}"
    session.add(
        ApiKey(
            tenant_id=tenant_id,
            prefix=plaintext[:PREFIX_LENGTH],
            key_hash=_digest(plaintext),
            scopes=",".join(sorted(granted)),
            name=None if name is None else name.strip(),
        )
    )
    session.flush()
    return plaintext


_LIVE_KEYS = select(ApiKey.tenant_id, ApiKey.id, ApiKey.scopes, ApiKey.key_hash).where(
    ApiKey.prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None)
)


def authenticate(db: Session | Connection, plaintext: str) -> Principal | None:
    """The principal of a live key; None for a revoked, unknown or malformed one.

    A Core query of four columns, so a revocation counts from the next request. The API runs
    the same statement through `KeyLookup` on every request.
    """
    return _principal(plaintext, lambda prefix: db.execute(_LIVE_KEYS, {"prefix": prefix}).all())


class KeyLookup:
    """`authenticate` for the request path: the same statement, prepared (`serving.db.prepared`)."""

    def __init__(self, reads: Engine, loop_reads: Engine | None = None) -> None:
        self._live = Prepared(reads, _LIVE_KEYS, loop_reads)

    def authenticate(self, plaintext: str) -> Principal | None:
        """The principal of a live key; None for a revoked, unknown or malformed one."""
        return _principal(plaintext, lambda prefix: self._live.rows(prefix=prefix))


def _principal(
    plaintext: str, live_keys: Callable[[str], Sequence[Sequence[Any]]]
) -> Principal | None:
    """Match `plaintext` against the live keys sharing its prefix (tenant, id, scopes, hash)."""
    if len(plaintext) > 80 or not _KEY_FORMAT.fullmatch(plaintext):
        return None
    digest = _digest(plaintext)
    match = None
    for key in live_keys(plaintext[:PREFIX_LENGTH]):
        if hmac.compare_digest(key[3], digest):  # every candidate, in constant time
            match = key
    if match is None:
        return None
    return Principal(match[0], match[1], _scope_set(match[2]))


_LIVE_BY_ID = select(ApiKey.tenant_id, ApiKey.id, ApiKey.scopes).where(
    ApiKey.id == bindparam("key_id"), ApiKey.revoked_at.is_(None)
)


def live_principal(db: Session | Connection, key_id: str) -> Principal | None:
    """The principal of the live key with this id (a console session's); None once revoked."""
    row = db.execute(_LIVE_BY_ID, {"key_id": key_id}).first()
    return None if row is None else Principal(row.tenant_id, row.id, _scope_set(row.scopes))


def revoke_key(session: Session, key_id: str, *, tenant_id: str | None = None) -> None:
    """Revoke a key (again is a no-op); NotFound if missing or, given `tenant_id`, not its."""
    key = session.get(ApiKey, key_id)
    if key is None or (tenant_id is not None and key.tenant_id != tenant_id):
        raise NotFound("no such API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()


def list_keys(session: Session, tenant_id: str) -> list[KeyInfo]:
    """The tenant's keys, revoked ones included, oldest first."""
    keys = session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return [
        KeyInfo(
            k.id, k.tenant_id, k.prefix, _scope_set(k.scopes), k.created_at, k.revoked_at, k.name
        )
        for k in keys
    ]


def _digest(plaintext: str) -> str:
    # A plain SHA-256 suffices: keys carry 240 random bits, so there is nothing to brute-force
    # and a slow password hash (bcrypt, argon2) would only cost latency on every request.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _checked_scopes(scopes: Iterable[str], tenant: Tenant) -> frozenset[str]:
    granted = frozenset(scopes)
    if not granted or not granted <= SCOPES:
        raise InvalidInput(f"scopes: one or more of {', '.join(sorted(SCOPES))}")
    if granted & PLATFORM_SCOPES and not tenant.platform:
        raise InvalidInput("the 'platform' and 'operator' scopes are only for the platform itself")
    return granted


def _scope_set(stored: str) -> frozenset[str]:
    return frozenset(stored.split(","))
