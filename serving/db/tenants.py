"""Tenants: the banks (and the platform itself) that use the service."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput
from serving.db.models import PromotionPolicy, Tenant

TENANT_ID = re.compile(r"[a-z][a-z0-9_]{1,31}")
PLATFORM_ID = "platform"  # the platform's own tenant; its models are `precredit-platform...`


class ReservedId(InvalidInput):
    """A bank asked for an id the platform's own tenant or models use."""

    code = "reserved_id"


def reserved(tenant_id: str) -> bool:
    """Ids no bank may take: `platform` and any `platform_...` (the platform's own models)."""
    return tenant_id == PLATFORM_ID or tenant_id.startswith(PLATFORM_ID + "_")


@dataclass(frozen=True)
class TenantOptions:
    """How a new tenant is set up: pooling opt-in, promotion policy, the platform itself."""

    pooling_opt_in: bool = False
    promotion_policy: PromotionPolicy = "manual"
    platform: bool = False
    require_consent: bool = False  # score only entities with a valid consent (serving.consent)


def create_tenant(
    session: Session, tenant_id: str, name: str, options: TenantOptions = TenantOptions()
) -> Tenant:
    """Add a tenant; InvalidInput when the id is not lower_snake (2-32 chars) or is taken."""
    pooling_opt_in, promotion_policy = options.pooling_opt_in, options.promotion_policy
    if not TENANT_ID.fullmatch(tenant_id):
        raise InvalidInput("a tenant id is lower_snake: a letter, then 1-31 of a-z, 0-9, _")
    if reserved(tenant_id) and not (options.platform and tenant_id == PLATFORM_ID):
        raise ReservedId(
            f"the id {tenant_id!r} is reserved for the platform's own tenant and models"
        )
    if not name.strip() or len(name) > 200:
        raise InvalidInput("a tenant name is 1-200 characters")
    if promotion_policy not in get_args(PromotionPolicy):
        raise InvalidInput("promotion_policy is 'auto' or 'manual'")
    if session.get(Tenant, tenant_id) is not None:
        raise InvalidInput(f"tenant {tenant_id!r} already exists")
    tenant = Tenant(
        id=tenant_id,
        name=name,
        pooling_opt_in=pooling_opt_in,
        promotion_policy=promotion_policy,
        platform=options.platform,
        require_consent=options.require_consent,
    )
    try:
        with session.begin_nested():
            session.add(tenant)
    except IntegrityError as exc:  # created concurrently since the look-up
        raise InvalidInput(f"tenant {tenant_id!r} already exists") from exc
    return tenant


def ensure_platform(session: Session) -> Tenant:
    """The platform's own tenant (operators, the SME financing platform), created if missing."""
    found = session.get(Tenant, PLATFORM_ID)
    if found is not None:
        return found
    options = TenantOptions(platform=True)
    return create_tenant(session, PLATFORM_ID, "Platform", options)


def get_tenant(session: Session, tenant_id: str) -> Tenant | None:
    """The tenant with this id, or None."""
    return session.get(Tenant, tenant_id)


def list_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by id."""
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def pooling_peers(session: Session, tenant: Tenant) -> list[str]:
    """The other banks that opted into pooling, by id."""
    return list(
        session.scalars(
            select(Tenant.id)
            .where(
                Tenant.pooling_opt_in.is_(True), Tenant.platform.is_(False), Tenant.id != tenant.id
            )
            .order_by(Tenant.id)
        )
    )
