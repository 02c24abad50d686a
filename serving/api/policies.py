"""`/v1/policies`: a bank's own product policies, uploaded as YAML or TOML and versioned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from catalog.errors import InvalidInput
from models.policy import ProductPolicy, parse_policy
from serving.db import policies
from serving.db.keys import Principal
from serving.deps import AdminPrincipal, ReaderDep, ScorePrincipal, ServicesDep, SessionDep
from serving.errors import ApiError, documented
from serving.responses import Policies, PolicySet
from serving.state import Services

router = APIRouter(prefix="/v1/policies", tags=["policies"])
Product = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="the product's id, e.g. sme_credit")
]
TOML_TYPES = ("application/toml", "text/toml", "text/x-toml")


def out(stored: policies.StoredPolicy) -> dict[str, Any]:
    """A stored policy as the API answers it."""
    return {
        "product": stored.product,
        "version": stored.version,
        "policy_version": stored.policy.version,
        "fingerprint": stored.fingerprint,
        "created_by": stored.created_by,
        "created_at": stored.created_at,
        "policy": stored.policy.model_dump(mode="json"),
    }


@router.put(
    "/{product}",
    summary="Upload a product policy (YAML, or TOML with Content-Type application/toml)",
    response_model=PolicySet,
    responses=documented(401, 403, 404, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                kind: {"schema": {"type": "string", "description": "the policy file"}}
                for kind in ("application/yaml", "application/toml")
            },
        }
    },
)
async def put(
    product: Product,
    request: Request,
    principal: AdminPrincipal,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """A new version when the policy changed; errors name the field and the problem."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("policy: the body must be UTF-8 text") from None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    policy = parse_policy(text, ".toml" if kind in TOML_TYPES else ".yaml", "policy")
    return await run_in_threadpool(_store, services, session, principal, product, policy)


def _store(
    services: Services,
    session: Session,
    principal: Principal,
    product: str,
    policy: ProductPolicy,
) -> dict[str, Any]:
    try:
        stored, created = policies.set_policy(
            session, principal.tenant_id, product, policy, f"key:{principal.key_id}"
        )
        session.commit()
    except IntegrityError:  # another upload took this version number first
        session.rollback()
        raise ApiError(
            409, "conflict", "another upload of this product's policy came first; retry"
        ) from None
    services.policies.invalidate(principal.tenant_id)
    return out(stored) | {"created": created}


@router.get(
    "",
    summary="Your products and the policy in force for each",
    response_model=Policies,
    responses=documented(401, 403),
)
def listed(principal: ScorePrincipal, session: ReaderDep) -> dict[str, Any]:
    """Only this bank's policies; none uploaded: the platform's default policy applies."""
    current = policies.latest(session, principal.tenant_id)
    return {"policies": [out(stored) for stored in current.values()]}
