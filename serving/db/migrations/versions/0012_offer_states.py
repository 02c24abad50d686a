"""What a tenant's last offers run scored: the state behind incremental offer runs.

`offer_states` holds one row per tenant: the model (name, version) and policy fingerprint of
its last complete offers run, and, packed in one Parquet blob, every entity's input digest and
whether its decision made an offer. The next run re-scores only entities whose digest, model
or policy differ (docs/offers.md, "Incremental runs"). Working state, replaced by every run,
not an audit: the offers and their events are the record.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.db.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `offer_states`."""
    op.create_table(
        "offer_states",
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("policy_fingerprint", sa.String(64), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop `offer_states`."""
    op.drop_table("offer_states")
