"""Disputes (异议) and credit-repair applications with their append-only audit trail.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "dispute events are append-only"
API_ROLE = "precredit_api"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER dispute_events_no_{verb.lower()} BEFORE {verb} ON dispute_events
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION dispute_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$""",
    """CREATE TRIGGER dispute_events_no_update_delete BEFORE UPDATE OR DELETE
        ON dispute_events FOR EACH ROW EXECUTE FUNCTION dispute_events_append_only()""",
    """CREATE TRIGGER dispute_events_no_truncate BEFORE TRUNCATE ON dispute_events
        FOR EACH STATEMENT EXECUTE FUNCTION dispute_events_append_only()""",
    f"""DO $$ BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
          REVOKE UPDATE, DELETE, TRUNCATE ON dispute_events FROM {API_ROLE};
        END IF;
      END $$""",
]


def upgrade() -> None:
    """Create `disputes` and `dispute_events` (append-only)."""
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("record_table", sa.String(32), nullable=True),
        sa.Column("record_id", sa.String(64), nullable=True),
        sa.Column("record_version", sa.Integer(), nullable=True),
        sa.Column("record_visible_on", sa.Date(), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("reason_feature", sa.String(64), nullable=True),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_disputes_tenant_id_tenants"
        ),
        sa.CheckConstraint("kind IN ('dispute', 'repair')", name="ck_disputes_kind"),
        sa.CheckConstraint(
            "state IN ('received', 'checking', 'corrected', 'rejected')", name="ck_disputes_state"
        ),
    )
    op.create_index("ix_disputes_tenant_id_received_at", "disputes", ["tenant_id", "received_at"])
    op.create_index("ix_disputes_state_due_date", "disputes", ["state", "due_date"])
    op.create_index("ix_disputes_uscc", "disputes", ["uscc"])
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dispute_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_events"),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name="fk_dispute_events_dispute_id_disputes"
        ),
    )
    op.create_index("ix_dispute_events_dispute_id_at", "dispute_events", ["dispute_id", "at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Drop both tables (and the trigger function on PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION dispute_events_append_only() CASCADE")
    op.drop_table("dispute_events")
    op.drop_table("disputes")
