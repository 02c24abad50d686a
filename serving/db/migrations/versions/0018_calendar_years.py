"""Operator-entered working-day years: the State Council's schedule for a year the package lacks.

- `calendar_years`: one version of a year (the notice's reference, who entered it, when);
  `calendar_days`: its public holidays and adjusted working days (调休). A new version is a
  new row set; the newest counts, older ones stay. Both refuse UPDATE and DELETE (triggers);
  the API role may only SELECT and INSERT them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.db.models import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "precredit_api"
TABLES = ("calendar_years", "calendar_days")
APPEND_ONLY = "calendar years are append-only"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for table in TABLES
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION calendar_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$""",
    *(
        f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION calendar_append_only()"""
        for table in TABLES
    ),
    *(
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION calendar_append_only()"""
        for table in TABLES
    ),
]
POSTGRES_GRANTS = f"""DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    REVOKE ALL ON calendar_years, calendar_days FROM {API_ROLE};
    GRANT SELECT, INSERT ON calendar_years, calendar_days TO {API_ROLE};
  END IF;
END $$"""


def upgrade() -> None:
    """Create the calendar tables with their triggers and grants."""
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "calendar_days",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["year", "version"], ["calendar_years.year", "calendar_years.version"]
        ),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgres:
        op.execute(POSTGRES_GRANTS)


def downgrade() -> None:
    """Drop the calendar tables."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION calendar_append_only() CASCADE")
    op.drop_table("calendar_days")
    op.drop_table("calendar_years")
