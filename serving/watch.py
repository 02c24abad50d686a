"""Banks' watchlists and early warnings on the entities they watch.

A bank watches its borrowers and the entities of its offers (`POST /v1/watchlist`). Warnings are
computed by the platform's rules (`platform_services.warnings`) on a short read-only connection to the
store; `notify` (run by `precredit warnings run`) announces each new warning on a watched entity
once per bank through the signed webhook outbox. A bank's watchlist is its own: no answer, log
or event ever mentions another bank's entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session, sessionmaker

from catalog import store, uscc
from catalog.errors import InvalidInput, NotFound
from platform_services.warnings.run import EntityWarning, warnings_for
from serving.db import webhooks
from serving.db.bulk import insert_ignoring_duplicates
from serving.db.models import WarningNotice, WatchedEntity, utcnow

EVENT = "warning.created"
SOURCES = ("borrower", "offer", "other")
MAX_WATCHED_PER_CALL = 1_000
WATCHLIST = cast(Table, WatchedEntity.__table__)


def add(session: Session, tenant: str, codes: Sequence[str], source: str) -> int:
    """Watch `codes` (canonical credit codes); returns how many were new. Caller commits.

    One `INSERT ... ON CONFLICT DO NOTHING`: concurrent requests for the same code keep one
    entry and none fails on the primary key.
    """
    if source not in SOURCES:
        raise InvalidInput(f"source is one of {', '.join(SOURCES)}")
    wanted = sorted({uscc.canonical(c) for c in codes})
    if not wanted:
        return 0
    now = utcnow()
    rows = [{"tenant_id": tenant, "uscc": c, "source": source, "created_at": now} for c in wanted]
    statement = insert_ignoring_duplicates(session, WATCHLIST, rows)
    return len(session.execute(statement.returning(WATCHLIST.c.uscc)).all())


def remove(session: Session, tenant: str, code: str) -> None:
    """Stop watching one entity (404 when this bank does not watch it). Caller commits."""
    removed = session.execute(
        delete(WatchedEntity).where(
            WatchedEntity.tenant_id == tenant, WatchedEntity.uscc == uscc.canonical(code)
        )
    )
    if not getattr(removed, "rowcount", 0):
        raise NotFound("this entity is not on your watchlist")


def watched(session: Session, tenant: str) -> list[str]:
    """The bank's watched codes, sorted."""
    return list(
        session.scalars(
            select(WatchedEntity.uscc)
            .where(WatchedEntity.tenant_id == tenant)
            .order_by(WatchedEntity.uscc)
        )
    )


def current(store_path: Path, codes: Sequence[str], as_of: dt.date) -> list[EntityWarning]:
    """Warnings on `codes` at `as_of`, from a short read-only connection to the store."""
    if not codes:
        return []
    with store.connect(store_path, read_only=True) as con:
        return warnings_for(con, codes, as_of)


def key(warning: EntityWarning) -> str:
    """What makes a warning the same warning on a later run: entity, rule, first evidence."""
    return f"{warning.uscc}|{warning.rule}|{warning.first_evidence_date}"


def notify(
    sessions: sessionmaker[Session], con: store.Connection, as_of: dt.date
) -> dict[str, int]:
    """Announce new warnings on watched entities, once per bank; events per bank."""
    with sessions() as session:
        tenants = sorted(set(session.scalars(select(WatchedEntity.tenant_id))))
    sent = {}
    for tenant in tenants:
        with sessions() as session:
            sent[tenant] = _notify_tenant(session, tenant, con, as_of)
            session.commit()
    return sent


def _notify_tenant(session: Session, tenant: str, con: store.Connection, as_of: dt.date) -> int:
    found = warnings_for(con, watched(session, tenant), as_of)
    told = set(
        session.scalars(select(WarningNotice.warning_key).where(WarningNotice.tenant_id == tenant))
    )
    new = [w for w in found if key(w) not in told]
    subscribed = EVENT in webhooks.subscribed_types(session, tenant)
    now = utcnow()
    if subscribed:
        webhooks.add_events(session, tenant, [(EVENT, {"warning": w.to_dict()}) for w in new], now)
    session.add_all(
        WarningNotice(tenant_id=tenant, warning_key=key(w), uscc=w.uscc, created_at=now)
        for w in new
    )
    return len(new) if subscribed else 0


def answer(warnings: list[EntityWarning]) -> list[dict[str, Any]]:
    """Warnings as the API answers them."""
    return [w.to_dict() for w in warnings]
