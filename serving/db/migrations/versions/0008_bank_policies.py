"""Banks' own product policies; outcomes linked to decisions; offers carry their policy.

- `product_policies`: one row per (tenant, product, version); a new version per change, the
  fingerprint is the SHA-256 of the canonical policy (`models.policy.ProductPolicy`).
- `outcomes` gains `decision_id`, `offer_id`, `financing_request_id` (the bank's own, checked
  by the API), so realised performance can be tied to the decision and model that made it.
- `offers` gains `policy_version` and `policy_fingerprint` (NULL for offers made before).

Revision ID: 0008
Revises: 0007 (re-chained after 0007 by the merge)
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME_LINKS = ("decision_id", "offer_id", "financing_request_id")


def upgrade() -> None:
    """Create `product_policies`; add the outcome links and the offers' policy columns."""
    op.create_table(
        "product_policies",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "product", "version", name="pk_product_policies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_product_policies_tenant_id_tenants"
        ),
    )
    with op.batch_alter_table("outcomes") as batch:
        for column in OUTCOME_LINKS:
            batch.add_column(sa.Column(column, sa.String(36), nullable=True))
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("policy_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("policy_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("policy_fingerprint")
        batch.drop_column("policy_version")
    with op.batch_alter_table("outcomes") as batch:
        for column in reversed(OUTCOME_LINKS):
            batch.drop_column(column)
    op.drop_table("product_policies")
