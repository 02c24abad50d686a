"""Outcomes may say whether a loan was the enterprise's first and how it is secured.

The SME-financing KPIs (first-loan share, credit-loan share; the operator console) count what
banks report: `first_loan` (首贷: the enterprise's first loan from any bank, as the bank learns it
from the credit bureau) and `security` (担保方式: credit, guarantee, collateral, pledge). Both
are optional; existing rows report neither (null).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `outcomes.first_loan` and `outcomes.security` (nullable: not reported)."""
    op.add_column("outcomes", sa.Column("first_loan", sa.Boolean(), nullable=True))
    op.add_column("outcomes", sa.Column("security", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("security")
        batch.drop_column("first_loan")
