"""Dependencies declared once: services, database session, the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from serving.db import repo
from serving.errors import ApiError
from serving.state import Services


async def get_services(request: Request) -> Services:
    """The process's services (built in the lifespan); async: no thread-pool hop for it."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A database session per request, closed afterwards (routes commit explicitly)."""
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_reader(services: ServicesDep) -> Iterator[Session]:
    """A read-only (autocommit) session per request: it never queues for the write lock."""
    with services.readers() as session:
        yield session


ReaderDep = Annotated[Session, Depends(get_reader)]


def get_principal(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> repo.Principal:
    """The tenant behind `Authorization: Bearer <key>`; 401 otherwise.

    An autocommit read on a plain connection: on SQLite every transaction takes the write
    lock, so authentication must not open one (scoring runs outside any transaction).
    """
    scheme, _, token = (authorization or "").partition(" ")
    principal = None
    if scheme.lower() == "bearer":
        with services.reads.connect() as connection:
            principal = repo.authenticate(connection, token.strip())
    if principal is None:
        raise ApiError(
            401, "unauthorized", "a valid API key is required: Authorization: Bearer <key>"
        )
    return principal


PrincipalDep = Annotated[repo.Principal, Depends(get_principal)]


def require(principal: repo.Principal, scope: str) -> None:
    """403 unless the key carries `scope`."""
    if scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"this API key lacks the '{scope}' scope")
