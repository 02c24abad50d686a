"""`/v1/webhooks`: a bank registers, lists and disables its own event endpoints (admin scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving.db import webhooks as outbox
from serving.db.models import utcnow
from serving.db.secrets import SecretKeyMissing, box_for
from serving.deps import AdminPrincipal, ReaderDep, ServicesDep, SessionDep
from serving.errors import documented
from serving.responses import WebhookCreated, WebhookEndpointOut, WebhookEndpoints
from serving.schemas import WebhookIn
from serving.targets import check_target

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    summary="Register an https endpoint for your events (its secret is shown once)",
    response_model=WebhookCreated,
    responses=documented(401, 403, 413, 422, 503),
)
def create(
    body: WebhookIn, principal: AdminPrincipal, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    """The host must resolve to public addresses only; the secret is sealed at rest."""
    settings = services.settings
    if settings.webhook_key is None:
        raise SecretKeyMissing("webhook registration needs PRECREDIT_WEBHOOK_KEY on the server")
    check_target(body.url, settings.webhook_allow_private)  # resolves: before any transaction
    options = outbox.EndpointOptions(
        box=box_for(settings.webhook_key), allow_private=settings.webhook_allow_private
    )
    info, secret = outbox.add_endpoint(session, principal.tenant_id, body.url, body.events, options)
    session.commit()
    return _out(info) | {"secret": secret}


@router.get(
    "",
    summary="Your endpoints (never their secrets)",
    response_model=WebhookEndpoints,
    responses=documented(401, 403),
)
def listed(principal: AdminPrincipal, session: ReaderDep) -> dict[str, Any]:
    """Only this bank's endpoints, oldest first, disabled ones included."""
    return {"endpoints": [_out(e) for e in outbox.list_endpoints(session, principal.tenant_id)]}


@router.delete(
    "/{endpoint_id}",
    summary="Stop sending to an endpoint",
    response_model=WebhookEndpointOut,
    responses=documented(401, 403, 404),
)
def disable(endpoint_id: str, principal: AdminPrincipal, session: SessionDep) -> dict[str, Any]:
    """Idempotent; another bank's endpoint is answered like a missing one (404)."""
    now = utcnow()
    info = outbox.disable_endpoint(session, principal.tenant_id, endpoint_id[:64], now)
    session.commit()
    return _out(info)


def _out(info: outbox.EndpointInfo) -> dict[str, Any]:
    return {
        "endpoint_id": info.id,
        "url": info.url,
        "events": list(info.events),
        "created_at": info.created_at.isoformat(),
        "disabled_at": info.disabled_at.isoformat() if info.disabled_at else None,
    }
