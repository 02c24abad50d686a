"""`/v1/watchlist` and `/v1/warnings`: a bank's watched entities and their early warnings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter

from serving import watch
from serving.deps import ReaderDep, ScorePrincipal, ServicesDep, SessionDep
from serving.errors import documented
from serving.responses import Unwatched, Warnings, Watched, Watchlist
from serving.schemas import CodeInPath, WatchIn

router = APIRouter(tags=["early warning"])


@router.post(
    "/v1/watchlist",
    summary="Watch entities (borrowers, offers): their warnings reach you",
    response_model=Watched,
    responses=documented(401, 403, 413, 422),
)
def add(body: WatchIn, principal: ScorePrincipal, session: SessionDep) -> dict[str, Any]:
    """Idempotent: watching an entity twice keeps one entry."""
    added = watch.add(session, principal.tenant_id, body.codes, body.source)
    watched = len(watch.watched(session, principal.tenant_id))
    session.commit()  # nothing after it: an acknowledged write is a committed one
    return {"added": added, "watched": watched}


@router.get(
    "/v1/watchlist",
    summary="Your watched entities",
    response_model=Watchlist,
    responses=documented(401, 403),
)
def listed(principal: ScorePrincipal, session: ReaderDep) -> dict[str, Any]:
    """Only this bank's entries."""
    return {"codes": watch.watched(session, principal.tenant_id)}


@router.delete(
    "/v1/watchlist/{code}",
    summary="Stop watching one entity",
    response_model=Unwatched,
    responses=documented(401, 403, 404, 422),
)
def remove(code: CodeInPath, principal: ScorePrincipal, session: SessionDep) -> dict[str, Any]:
    """404 when this bank does not watch it (another bank's entries are invisible)."""
    watch.remove(session, principal.tenant_id, code[:64])
    session.commit()
    return {"removed": code[:64]}


@router.get(
    "/v1/warnings",
    summary="Early warnings on your watched entities",
    response_model=Warnings,
    responses=documented(401, 403, 503),
)
def warnings(
    principal: ScorePrincipal, services: ServicesDep, session: ReaderDep
) -> dict[str, Any]:
    """Rule, severity, evidence records and dates, as of the snapshot date in service."""
    as_of = dt.date.fromisoformat(services.snapshot.as_of())
    found = watch.current(
        services.settings.store, watch.watched(session, principal.tenant_id), as_of
    )
    return {"as_of": as_of.isoformat(), "warnings": watch.answer(found)}
