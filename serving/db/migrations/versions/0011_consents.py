"""Consent records: an enterprise's authorisation for a bank to use its data (append-only).

- `consents`: one authorisation (credit code, scope, purpose, validity, evidence hash, who
  recorded it); `consent_revocations`: its revocation, a new fact (at most one per consent).
  Both refuse UPDATE and DELETE (triggers); the API role may only SELECT and INSERT them.
- `decisions` gains `consent_id` and `consent_purpose` (NULL for decisions made before, or for
  a bank that does not require consent); the hash chain covers them when set.
- `tenants` gains `require_consent` (false for existing banks; `precredit banks add` turns it
  on for new ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.db.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "precredit_api"
TABLES = ("consents", "consent_revocations")
APPEND_ONLY = "consents are append-only"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for table in TABLES
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION consents_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$""",
    *(
        f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION consents_append_only()"""
        for table in TABLES
    ),
    *(
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION consents_append_only()"""
        for table in TABLES
    ),
]
POSTGRES_GRANTS = f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    REVOKE ALL ON consents, consent_revocations FROM {API_ROLE};
    GRANT SELECT, INSERT ON consents, consent_revocations TO {API_ROLE};
  END IF;
END $$"""


def upgrade() -> None:
    """Create the consent tables with their triggers; add the decision and tenant columns."""
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("purpose IN ('preapproval', 'monitoring')", name="purpose"),
        sa.CheckConstraint("expires_on > starts_on", name="validity"),
    )
    op.create_index("ix_consents_tenant_id_uscc", "consents", ["tenant_id", "uscc"])
    op.create_table(
        "consent_revocations",
        sa.Column("consent_id", sa.String(36), sa.ForeignKey("consents.id"), primary_key=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_by", sa.String(64), nullable=False),
    )
    # plain ADD COLUMN: SQLite keeps the table (and its append-only triggers) as it is
    op.add_column("decisions", sa.Column("consent_id", sa.String(36), nullable=True))
    op.add_column("decisions", sa.Column("consent_purpose", sa.String(16), nullable=True))
    op.add_column(
        "tenants",
        sa.Column("require_consent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgres:
        op.execute(POSTGRES_GRANTS)


def downgrade() -> None:
    """Drop the consent tables and the added columns."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION consents_append_only() CASCADE")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("require_consent")
    op.drop_column("decisions", "consent_purpose")
    op.drop_column("decisions", "consent_id")
    op.drop_table("consent_revocations")
    op.drop_index("ix_consents_tenant_id_uscc", "consents")
    op.drop_table("consents")
