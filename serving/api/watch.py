"""`/v1/watchlist` and `/v1/warnings`: a bank's watched entities and their early warnings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter

from serving import watch
from serving.deps import PrincipalDep, ReaderDep, ServicesDep, SessionDep, require
from serving.schemas import WatchIn

router = APIRouter(tags=["early warning"])


@router.post(
    "/v1/watchlist", summary="Watch entities (borrowers, offers): their warnings reach you"
)
def add(body: WatchIn, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """Idempotent: watching an entity twice keeps one entry."""
    require(principal, "score")
    added = watch.add(session, principal.tenant_id, body.codes, body.source)
    session.commit()
    return {"added": added, "watched": len(watch.watched(session, principal.tenant_id))}


@router.get("/v1/watchlist", summary="Your watched entities")
def listed(principal: PrincipalDep, session: ReaderDep) -> dict[str, Any]:
    """Only this bank's entries."""
    require(principal, "score")
    return {"codes": watch.watched(session, principal.tenant_id)}


@router.delete("/v1/watchlist/{code}", summary="Stop watching one entity")
def remove(code: str, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """404 when this bank does not watch it (another bank's entries are invisible)."""
    require(principal, "score")
    watch.remove(session, principal.tenant_id, code[:64])
    session.commit()
    return {"removed": code[:64]}


@router.get("/v1/warnings", summary="Early warnings on your watched entities")
def warnings(principal: PrincipalDep, services: ServicesDep, session: ReaderDep) -> dict[str, Any]:
    """Rule, severity, evidence records and dates, as of the snapshot date in service."""
    require(principal, "score")
    as_of = dt.date.fromisoformat(services.snapshot.as_of())
    found = watch.current(
        services.settings.store, watch.watched(session, principal.tenant_id), as_of
    )
    return {"as_of": as_of.isoformat(), "warnings": watch.answer(found)}
