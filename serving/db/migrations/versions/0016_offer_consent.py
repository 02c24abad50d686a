"""An offer names the consent that allowed scoring its entity.

A bank that requires consent scores in its offers run only entities whose consent in force
covers the model's data scopes; each offer now records that consent's id, as a decision does
(`decisions.consent_id`). NULL where the bank does not require consent, and on offers made
before this revision.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `offers.consent_id` (nullable)."""
    op.add_column("offers", sa.Column("consent_id", sa.String(36), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("consent_id")
