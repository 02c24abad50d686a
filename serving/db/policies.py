"""Banks' product policies: versioned rows, a new version per change (never overwritten)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.policy import ProductPolicy
from serving.db.models import ProductPolicyVersion, utcnow


@dataclass(frozen=True)
class StoredPolicy:
    """A bank product's policy in force: its service version and fingerprint."""

    product: str
    version: int
    fingerprint: str
    policy: ProductPolicy
    created_by: str
    created_at: str

    @property
    def label(self) -> str:
        """The policy version as answers carry it: `<product>@<version>`."""
        return self.policy.version


def versioned(policy: ProductPolicy, tenant: str, product: str, version: int) -> ProductPolicy:
    """`policy` as stored: the bank, product and version are the service's, not the file's."""
    return policy.model_copy(
        update={"bank": tenant, "product": product, "version": f"{product}@{version}"}
    )


def set_policy(
    session: Session, tenant: str, product: str, policy: ProductPolicy, created_by: str
) -> tuple[StoredPolicy, bool]:
    """Store `policy` as the product's next version; (current, False) when nothing changed."""
    current = latest(session, tenant).get(product)
    if (
        current is not None
        and versioned(policy, tenant, product, current.version) == current.policy
    ):
        return current, False
    number = (current.version if current else 0) + 1
    stored = versioned(policy, tenant, product, number)
    row = ProductPolicyVersion(
        tenant_id=tenant,
        product=product,
        version=number,
        fingerprint=stored.fingerprint(),
        policy_json=stored.to_json(),
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _stored(row), True


def latest(session: Session, tenant: str) -> dict[str, StoredPolicy]:
    """The bank's policy in force per product (its newest version), by product name."""
    newest = (
        select(ProductPolicyVersion.product, func.max(ProductPolicyVersion.version).label("v"))
        .where(ProductPolicyVersion.tenant_id == tenant)
        .group_by(ProductPolicyVersion.product)
        .subquery()
    )
    rows = session.scalars(
        select(ProductPolicyVersion)
        .join(
            newest,
            (ProductPolicyVersion.product == newest.c.product)
            & (ProductPolicyVersion.version == newest.c.v),
        )
        .where(ProductPolicyVersion.tenant_id == tenant)
        .order_by(ProductPolicyVersion.product)
    ).all()
    return {row.product: _stored(row) for row in rows}


def history(session: Session, tenant: str) -> list[StoredPolicy]:
    """Every version of every product of the bank, oldest first per product."""
    rows = session.scalars(
        select(ProductPolicyVersion)
        .where(ProductPolicyVersion.tenant_id == tenant)
        .order_by(ProductPolicyVersion.product, ProductPolicyVersion.version)
    ).all()
    return [_stored(row) for row in rows]


def by_fingerprint(session: Session, tenant: str, fingerprint: str) -> StoredPolicy | None:
    """The bank's stored policy with this fingerprint (for replays), if any."""
    row = session.scalars(
        select(ProductPolicyVersion)
        .where(
            ProductPolicyVersion.tenant_id == tenant,
            ProductPolicyVersion.fingerprint == fingerprint,
        )
        .limit(1)
    ).first()
    return None if row is None else _stored(row)


def _stored(row: ProductPolicyVersion) -> StoredPolicy:
    return StoredPolicy(
        product=row.product,
        version=row.version,
        fingerprint=row.fingerprint,
        policy=ProductPolicy.from_json(row.policy_json),
        created_by=row.created_by,
        created_at=row.created_at.isoformat(),
    )
