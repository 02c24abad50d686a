"""Dependencies declared once: services, sessions, the principal and its scope, idempotency."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
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


BEARER = HTTPBearer(
    scheme_name="ApiKey",
    description="The bank's API key: `Authorization: Bearer <key>` (scopes: score, outcomes, "
    "admin, platform).",
    auto_error=False,
)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def authenticated(
    services: Services, credentials: HTTPAuthorizationCredentials | None
) -> repo.Principal:
    """The tenant behind `Authorization: Bearer <key>`; 401 otherwise.

    An autocommit read (`KeyLookup`): on SQLite every transaction takes the write lock, so
    authentication must not open one. Called from `async` dependencies: the read (tens of
    microseconds) runs in the event loop on its own connection, with no thread-pool hop.
    """
    if credentials is None:
        return with_scope(None)
    return with_scope(services.keys.authenticate(credentials.credentials))


def with_scope(principal: repo.Principal | None, scope: str | None = None) -> repo.Principal:
    """`principal`, or 401 without one (no valid key), or 403 when its key lacks `scope`."""
    if principal is None:
        raise ApiError(
            401, "unauthorized", "a valid API key is required: Authorization: Bearer <key>"
        )
    if scope is not None and scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"this API key lacks the '{scope}' scope")
    return principal


async def get_principal(request: Request, credentials: Credentials) -> repo.Principal:
    """The authenticated principal, whatever its scopes (401 without a valid key)."""
    return authenticated(request.app.state.services, credentials)


PrincipalDep = Annotated[repo.Principal, Depends(get_principal)]


def scoped(scope: str) -> Callable[..., Awaitable[repo.Principal]]:
    """A dependency: the principal, 403 unless its key carries `scope`.

    One level of dependencies (the request and the bearer credentials), not a chain through
    `get_principal`: FastAPI resolves each level on every request.
    """

    async def principal_with_scope(request: Request, credentials: Credentials) -> repo.Principal:
        return with_scope(authenticated(request.app.state.services, credentials), scope)

    principal_with_scope.__name__ = f"{scope}_principal"
    return principal_with_scope


def scoped_any(*scopes: str) -> Callable[..., Awaitable[repo.Principal]]:
    """A dependency: the principal, 403 unless its key carries one of `scopes`."""

    async def principal_with_any(request: Request, credentials: Credentials) -> repo.Principal:
        principal = authenticated(request.app.state.services, credentials)
        if not principal.scopes & set(scopes):
            wanted = "' or '".join(scopes)
            raise ApiError(403, "forbidden", f"this API key lacks the '{wanted}' scope")
        return principal

    principal_with_any.__name__ = f"{'_'.join(scopes)}_principal"
    return principal_with_any


ScorePrincipal = Annotated[repo.Principal, Depends(scoped("score"))]
OutcomesPrincipal = Annotated[repo.Principal, Depends(scoped("outcomes"))]
AdminPrincipal = Annotated[repo.Principal, Depends(scoped("admin"))]
PlatformPrincipal = Annotated[repo.Principal, Depends(scoped("platform"))]
OperatorPrincipal = Annotated[repo.Principal, Depends(scoped("operator"))]
FilerPrincipal = Annotated[repo.Principal, Depends(scoped_any("score", "platform"))]
CaseReaderPrincipal = Annotated[
    repo.Principal, Depends(scoped_any("score", "platform", "operator"))
]


@dataclass(frozen=True)
class Idempotency:
    """The Idempotency-Key protocol of one request (no key: every call runs)."""

    session: Session
    tenant_id: str
    endpoint: str
    key: str | None

    def answer(self, body: BaseModel, run: Callable[[], Any], status: int = 200) -> Any:
        """`run()` once per key and body (committed); a retry replays the stored answer.

        The same key with a different body is 422 `idempotency_key_reused`; while the first
        request still runs, a retry is 409 `idempotency_in_progress`.
        """
        if self.key is None:
            answer = run()
            self.session.commit()
            return answer
        digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        claim = repo.claim_idempotency(
            self.session, self.tenant_id, self.key, self.endpoint, digest
        )
        if claim.status == "replay":
            self.session.rollback()
            return JSONResponse(
                json.loads(claim.response_json or "{}"),
                status_code=claim.status_code or 200,
                headers={"Idempotent-Replayed": "true"},
            )
        if claim.status == "conflict":
            raise ApiError(
                422, "idempotency_key_reused", "this Idempotency-Key was used with a different body"
            )
        if claim.status == "in_progress":
            raise ApiError(
                409,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running",
            )
        answer = run()
        repo.complete_idempotency(
            self.session, self.tenant_id, self.key, status, json.dumps(answer)
        )
        self.session.commit()
        return answer


async def get_idempotency(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="Retries with the same key and body replay the answer"),
    ] = None,
) -> Idempotency:
    """The request's idempotency protocol, keyed per bank and endpoint (async: no thread hop)."""
    route = request.scope.get("route")
    endpoint = f"{request.method} {getattr(route, 'path', request.url.path)}"
    return Idempotency(session, principal.tenant_id, endpoint, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
