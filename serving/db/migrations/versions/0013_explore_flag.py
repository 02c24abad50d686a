"""Outcomes carry `explore`: the loan was a randomised "test" approval of a declined applicant.

Such loans form the bank's unbiased sample of the applicants its policy declines: retraining
reweights them to all applicants for the promotion gate (`docs/retraining.md`). Existing rows
are ordinary loans (false).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `outcomes.explore` (not null, false by default)."""
    op.add_column(
        "outcomes",
        sa.Column("explore", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("explore")
