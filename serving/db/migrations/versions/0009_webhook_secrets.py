"""Webhook secrets sealed at rest: the column holds a Fernet token (longer than the secret).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Widen `webhook_endpoints.secret` to 500 characters."""
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(100), type_=sa.String(500), existing_nullable=False
        )


def downgrade() -> None:
    """Narrow it back (sealed secrets must be re-registered first)."""
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(500), type_=sa.String(100), existing_nullable=False
        )
