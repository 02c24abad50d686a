"""Financing requests from the SME financing platform, and each opted-in bank's answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `tenants.financing_opt_in`, `financing_requests` and `financing_answers`."""
    # A plain ADD COLUMN: batch mode would copy and drop `tenants`, which SQLite refuses
    # (foreign keys on) once other tables reference its rows.
    op.add_column(
        "tenants",
        sa.Column("financing_opt_in", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "financing_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("amount_cny", sa.Double(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_financing_requests"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_financing_requests_tenant_id_tenants"
        ),
    )
    op.create_table(
        "financing_answers",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("answer_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "tenant_id", name="pk_financing_answers"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["financing_requests.id"],
            name="fk_financing_answers_request_id_financing_requests",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_financing_answers_tenant_id_tenants"
        ),
    )
    op.create_index(
        "ix_financing_answers_tenant_id_created_at",
        "financing_answers",
        ["tenant_id", "created_at"],
    )


def downgrade() -> None:
    """Drop the financing tables and the opt-in column."""
    op.drop_table("financing_answers")
    op.drop_table("financing_requests")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("financing_opt_in")
