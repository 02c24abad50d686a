"""Scores of banks' own-table models (`POST /v1/table-models/{table}/scores`), append-only.

Each answer is kept as it was given: who asked, which registered version (and its fingerprint)
answered, the SHA-256 of the rows sent, and the answer's JSON. The table refuses UPDATE and
DELETE (triggers); the API role may only SELECT and INSERT it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.db.models import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "precredit_api"
APPEND_ONLY = "table scores are append-only"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER table_scores_no_{verb.lower()} BEFORE {verb} ON table_scores
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION table_scores_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$""",
    """CREATE TRIGGER table_scores_no_update_delete BEFORE UPDATE OR DELETE ON table_scores
        FOR EACH ROW EXECUTE FUNCTION table_scores_append_only()""",
    """CREATE TRIGGER table_scores_no_truncate BEFORE TRUNCATE ON table_scores
        FOR EACH STATEMENT EXECUTE FUNCTION table_scores_append_only()""",
]
POSTGRES_GRANTS = f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    REVOKE ALL ON table_scores FROM {API_ROLE};
    GRANT SELECT, INSERT ON table_scores TO {API_ROLE};
  END IF;
END $$"""


def upgrade() -> None:
    """Create `table_scores` with its append-only triggers."""
    op.create_table(
        "table_scores",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("model_name", sa.String(160), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("model_fingerprint", sa.String(64), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("scored_by", sa.String(64), nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_table_scores_tenant_id_scored_at", "table_scores", ["tenant_id", "scored_at"]
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgres:
        op.execute(POSTGRES_GRANTS)


def downgrade() -> None:
    """Drop the table (and its trigger function on PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION table_scores_append_only() CASCADE")
    op.drop_index("ix_table_scores_tenant_id_scored_at", "table_scores")
    op.drop_table("table_scores")
