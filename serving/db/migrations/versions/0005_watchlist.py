"""Banks' watchlists and the warnings already sent to them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `watchlist` and `warning_notices`."""
    op.create_table(
        "watchlist",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "uscc", name="pk_watchlist"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_watchlist_tenant_id_tenants"
        ),
        sa.CheckConstraint("source IN ('borrower', 'offer', 'other')", name="ck_watchlist_source"),
    )
    op.create_table(
        "warning_notices",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("warning_key", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "warning_key", name="pk_warning_notices"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_warning_notices_tenant_id_tenants"
        ),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("warning_notices")
    op.drop_table("watchlist")
