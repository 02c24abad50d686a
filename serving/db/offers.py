"""Offers in the service database: active offers by entity, bulk writes, endings, streaming reads.

Bulk writes are Core `executemany` statements (SQLAlchemy's insertmanyvalues on PostgreSQL),
never ORM objects one by one. Functions run in the caller's transaction; `lock_tenant`
serialises the offer writers of one tenant (on SQLite the write lock already does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    RowMapping,
    String,
    Table,
    any_,
    bindparam,
    select,
    text,
)
from sqlalchemy import update as sql_update
from sqlalchemy.orm import QueryableAttribute, Session

from serving.db.bulk import insert_rows
from serving.db.models import Offer

OFFERS = cast(Table, Offer.__table__)
READ_CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class ActiveOffer:
    """The terms of an active offer (what decides whether a new score changes it)."""

    id: str
    uscc: str
    product: str
    decision: str
    limit_cny: float
    pd: float
    grade: str
    valid_until: dt.datetime
    model_version: str

    def key_terms(self) -> tuple[str, float, str]:
        """Decision, limit and grade: a new score that differs in one of them changes the offer."""
        return self.decision, self.limit_cny, self.grade

    def terms(self) -> dict[str, Any]:
        """JSON-ready terms, as events quote a previous or revoked offer."""
        return {
            "offer_id": self.id,
            "uscc": self.uscc,
            "product": self.product,
            "decision": self.decision,
            "limit_cny": self.limit_cny,
            "pd": self.pd,
            "grade": self.grade,
            "valid_until": self.valid_until.isoformat(),
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class Ending:
    """An active offer to end: superseded by a new one, or revoked with a reason."""

    offer_id: str
    status: str  # "superseded" | "revoked"
    reason: str | None = None


_ACTIVE_COLUMNS = (Offer.id, Offer.uscc, Offer.product, Offer.decision, Offer.limit_cny,
                   Offer.pd, Offer.grade, Offer.valid_until, Offer.model_version)  # fmt: skip


def active_key(tenant_id: str, product: str, uscc: str) -> str:
    """The unique key an active offer holds: one per tenant, product and entity."""
    return f"{tenant_id}:{product}:{uscc}"


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Hold the tenant's offer lock until the transaction ends (PostgreSQL advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"offers:{tenant_id}"}
        )


def active_offers(
    session: Session, tenant_id: str, product: str, codes: Sequence[str]
) -> dict[str, ActiveOffer]:
    """The active offers of `codes` for one product, by code (unique-key look-ups)."""
    keys = [active_key(tenant_id, product, code) for code in codes]
    rows = session.execute(select(*_ACTIVE_COLUMNS).where(_one_of(session, Offer.active_key, keys)))
    return {row.uscc: ActiveOffer(*row) for row in rows}


def active_by_codes(session: Session, tenant_id: str, codes: Sequence[str]) -> list[ActiveOffer]:
    """The active offers of `codes` for the tenant, any product."""
    rows = session.execute(
        select(*_ACTIVE_COLUMNS).where(
            Offer.tenant_id == tenant_id,
            _one_of(session, Offer.uscc, codes),
            Offer.status == "active",
        )
    )
    return [ActiveOffer(*row) for row in rows]


def _one_of(
    session: Session, column: QueryableAttribute[Any], values: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `= ANY(array)`, one parameter instead of thousands."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def active_codes(engine: Engine, tenant_id: str) -> list[tuple[str, str]]:
    """(code, product) of every active offer of the tenant, read without a write lock."""
    query = select(Offer.uscc, Offer.product).where(
        Offer.tenant_id == tenant_id, Offer.status == "active"
    )
    with reader(engine) as connection:
        return [(row.uscc, row.product) for row in connection.execute(query)]


def insert_offers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert complete offer rows in bulk."""
    insert_rows(session, OFFERS, rows)


def end_offers(session: Session, endings: Sequence[Ending], now: dt.datetime) -> None:
    """Move active offers to `superseded` or `revoked`, freeing their active key."""
    if not endings:
        return
    statement = (
        sql_update(OFFERS)
        .where(OFFERS.c.id == bindparam("b_id"), OFFERS.c.status == "active")
        .values(
            status=bindparam("b_status"),
            active_key=None,
            revoked_at=bindparam("b_at"),
            revoke_reason=bindparam("b_reason"),
        )
    )
    rows = [
        {
            "b_id": e.offer_id,
            "b_status": e.status,
            "b_reason": e.reason,
            "b_at": now if e.status == "revoked" else None,
        }
        for e in endings
    ]
    session.execute(statement, rows)


def expire(session: Session, tenant_id: str, now: dt.datetime) -> int:
    """End the tenant's active offers whose validity ran out by `now`; how many."""
    statement = (
        sql_update(OFFERS)
        .where(
            OFFERS.c.tenant_id == tenant_id,
            OFFERS.c.status == "active",
            OFFERS.c.valid_until <= now,
        )
        .values(status="expired", active_key=None)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def tenants_with_offers(session: Session) -> list[str]:
    """Tenants that have ever received batch offers."""
    return list(session.scalars(select(Offer.tenant_id).distinct().order_by(Offer.tenant_id)))


def active_ids_sha256(engine: Engine, tenant_id: str) -> str:
    """SHA-256 of the ids of the tenant's active offers in export order (what an export holds)."""
    query = (
        select(OFFERS.c.id)
        .where(OFFERS.c.tenant_id == tenant_id, OFFERS.c.status == "active")
        .order_by(OFFERS.c.uscc, OFFERS.c.product)
    )
    digest = hashlib.sha256()
    with reader(engine) as connection:
        for (offer_id,) in connection.execute(query):
            digest.update(offer_id.encode() + b"\n")
    return digest.hexdigest()


def stream_active(engine: Engine, tenant_id: str) -> Iterator[Sequence[RowMapping]]:
    """The tenant's active offers by code, in chunks, from one consistent read."""
    query = (
        select(OFFERS)
        .where(OFFERS.c.tenant_id == tenant_id, OFFERS.c.status == "active")
        .order_by(OFFERS.c.uscc, OFFERS.c.product)
    )
    with reader(engine) as connection:
        streamed = connection.execution_options(stream_results=True, yield_per=READ_CHUNK_ROWS)
        yield from streamed.execute(query).mappings().partitions()


def reader(engine: Engine) -> Connection:
    """A connection for one long read that never takes SQLite's write lock.

    On SQLite, autocommit: a lone SELECT reads one snapshot without `BEGIN IMMEDIATE` (see
    `engine.py`). On PostgreSQL a plain transaction, which server-side cursors need.
    """
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        return connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def offers_of(session: Session, tenant_id: str, codes: Iterable[str]) -> list[Offer]:
    """Every offer (any status) of `codes` for the tenant, oldest first."""
    return list(
        session.scalars(
            select(Offer)
            .where(Offer.tenant_id == tenant_id, Offer.uscc.in_(list(codes)))
            .order_by(Offer.created_at, Offer.id)
        )
    )
