"""Audit integrity: a hash chain over each tenant's decisions, REPLACE refused on SQLite, and a
least-privilege PostgreSQL role for the API.

- `decisions` gains `seq`, `prev_hash`, `row_hash` (unique per tenant and seq); existing rows
  are chained here, per tenant in (created_at, id) order (`serving.db.audit_chain`).
- SQLite: REPLACE's implicit delete fires no DELETE trigger unless `recursive_triggers` is on
  (engine.py sets it on every connection); a BEFORE INSERT trigger also refuses a row whose id
  or (tenant, seq) exists, so REPLACE fails on a connection without the pragma too.
- PostgreSQL: role `precredit_api` (LOGIN, not superuser, owns nothing) with SELECT, INSERT,
  UPDATE, DELETE on the service tables but only SELECT and INSERT on `decisions` and SELECT on
  `alembic_version`; it cannot TRUNCATE, ALTER or disable a trigger. The role is created when
  missing (needs CREATEROLE; a DBA may create it beforehand instead).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from serving.db.audit_chain import GENESIS, row_hash
from serving.db.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "precredit_api"
APPEND_ONLY = "decisions are append-only"
SQLITE_TRIGGERS = [
    *(
        f"""CREATE TRIGGER decisions_no_{verb.lower()} BEFORE {verb} ON decisions
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
        for verb in ("UPDATE", "DELETE")
    ),
    f"""CREATE TRIGGER decisions_no_replace BEFORE INSERT ON decisions
        WHEN EXISTS (SELECT 1 FROM decisions WHERE id = NEW.id)
          OR EXISTS (SELECT 1 FROM decisions WHERE tenant_id = NEW.tenant_id AND seq = NEW.seq)
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
]
POSTGRES_GRANTS = f"""DO $$
DECLARE s text := quote_ident(current_schema());
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    BEGIN
      CREATE ROLE {API_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
    END;
  END IF;
  EXECUTE 'GRANT USAGE ON SCHEMA ' || s || ' TO {API_ROLE}';
  EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ' || s
    || ' TO {API_ROLE}';
  EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ' || s || ' TO {API_ROLE}';
  EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ' || s
    || ' GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {API_ROLE}';
  EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ' || s
    || ' GRANT USAGE, SELECT ON SEQUENCES TO {API_ROLE}';
  REVOKE ALL ON decisions, alembic_version FROM {API_ROLE};
  GRANT SELECT, INSERT ON decisions TO {API_ROLE};
  GRANT SELECT ON alembic_version TO {API_ROLE};
END $$"""
POSTGRES_REVOKES = f"""DO $$
DECLARE s text := quote_ident(current_schema());
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ' || s
      || ' REVOKE ALL ON TABLES FROM {API_ROLE}';
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ' || s
      || ' REVOKE ALL ON SEQUENCES FROM {API_ROLE}';
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA ' || s || ' FROM {API_ROLE}';
    EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA ' || s || ' FROM {API_ROLE}';
    EXECUTE 'REVOKE USAGE ON SCHEMA ' || s || ' FROM {API_ROLE}';
  END IF;
END $$"""
CHAIN_COLUMNS = ("seq", "prev_hash", "row_hash")

decisions = sa.table(
    "decisions",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("uscc", sa.String),
    sa.column("product", sa.String),
    sa.column("requested_amount_cny", sa.Double),
    sa.column("decision", sa.String),
    sa.column("limit_cny", sa.Double),
    sa.column("pd", sa.Double),
    sa.column("grade", sa.String),
    sa.column("binding", sa.String),
    sa.column("model_name", sa.String),
    sa.column("model_version", sa.String),
    sa.column("model_sha256", sa.String),
    sa.column("policy_version", sa.String),
    sa.column("policy_fingerprint", sa.String),
    sa.column("registry_fingerprint", sa.String),
    sa.column("snapshot_as_of", sa.Date),
    sa.column("input_hash", sa.String),
    sa.column("features_json", sa.Text),
    sa.column("reasons_json", sa.Text),
    sa.column("response_json", sa.Text),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String),
)


def upgrade() -> None:
    """Add and backfill the chain, then refuse REPLACE (SQLite) or grant the API role (PG)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("decisions", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("decisions", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("decisions", sa.Column("row_hash", sa.String(64), nullable=True))
    if postgres:
        op.execute("ALTER TABLE decisions DISABLE TRIGGER decisions_no_update_delete")
    else:
        op.execute("DROP TRIGGER decisions_no_update")
        op.execute("DROP TRIGGER decisions_no_delete")
    _backfill()
    with op.batch_alter_table("decisions") as batch:  # SQLite copies the table (triggers too)
        for name in CHAIN_COLUMNS:
            batch.alter_column(name, nullable=False)
        batch.create_unique_constraint("uq_decisions_tenant_id_seq", ["tenant_id", "seq"])
    if postgres:
        op.execute("ALTER TABLE decisions ENABLE TRIGGER decisions_no_update_delete")
        op.execute(POSTGRES_GRANTS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Drop the chain and the REPLACE trigger, or the API role's privileges in this schema."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(POSTGRES_REVOKES)
    else:
        for name in ("replace", "update", "delete"):
            op.execute(f"DROP TRIGGER decisions_no_{name}")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint("uq_decisions_tenant_id_seq", type_="unique")
        for name in CHAIN_COLUMNS:
            batch.drop_column(name)
    if not postgres:
        for statement in SQLITE_TRIGGERS[:2]:
            op.execute(statement)


def _backfill() -> None:
    """Chain the decisions already stored, per tenant, oldest first."""
    bind = op.get_bind()
    content = [c for c in decisions.c if c.name not in CHAIN_COLUMNS]
    query = sa.select(*content).order_by(decisions.c.created_at, decisions.c.id)
    heads: dict[str, tuple[int, str]] = defaultdict(lambda: (0, GENESIS))
    update = (
        sa.update(decisions)
        .where(decisions.c.id == sa.bindparam("row_id"))
        .values(
            seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev"), row_hash=sa.bindparam("hash")
        )
    )
    batch: list[dict[str, Any]] = []
    for found in bind.execute(query).mappings().all():
        row = dict(found)
        seq, prev = heads[row["tenant_id"]]
        row["seq"] = seq + 1
        sealed = row_hash(row, prev)
        heads[row["tenant_id"]] = (seq + 1, sealed)
        batch.append({"row_id": row["id"], "seq": seq + 1, "prev": prev, "hash": sealed})
    if batch:
        bind.execute(update, batch)
