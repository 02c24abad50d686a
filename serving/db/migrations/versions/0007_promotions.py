"""Promotions recorded (who requested, who approved, gate verdict, override) and named keys.

- `promotions`: one row per promotion to champion; on PostgreSQL the API role may only SELECT
  and INSERT it (append-only, like `decisions`).
- `api_keys.name`: the name of an operator's or the SME financing platform's key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "precredit_api"
APPEND_ONLY_GRANTS = f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    REVOKE ALL ON promotions FROM {API_ROLE};
    GRANT SELECT, INSERT ON promotions TO {API_ROLE};
  END IF;
END $$"""


def upgrade() -> None:
    """Create `promotions`, add `api_keys.name`."""
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=False),
        sa.Column("gate_passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
    )
    op.create_index(
        "ix_promotions_tenant_id_promoted_at", "promotions", ["tenant_id", "promoted_at"]
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("name", sa.String(120), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_GRANTS)


def downgrade() -> None:
    """Drop `promotions` and `api_keys.name`."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("name")
    op.drop_index("ix_promotions_tenant_id_promoted_at", table_name="promotions")
    op.drop_table("promotions")
