"""The decisions audit's JSON texts compressed by lz4 on PostgreSQL.

Every audited pre-approval stores three JSON texts of about 6.5 KB together (features,
reasons, the answer), which PostgreSQL compresses out of line (TOAST) with its default, pglz.
lz4 compresses them as small (a features text of ~3.2 KB: ~1.4-1.7 KB either way) at a fraction
of the CPU: PostgreSQL's own CPU per audited answer fell from 0.31 to 0.25 ms under the API's
load (docs/speed.md, round 6). Rows written before keep their pglz texts; both read alike.

Only on a PostgreSQL server built with lz4 (14 and later, the `lz4` choice of
`default_toast_compression`); elsewhere, and on SQLite, nothing changes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("features_json", "reasons_json", "response_json")
LZ4_BUILT = sa.text(
    "SELECT count(*) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not bind.execute(LZ4_BUILT).scalar():
        return
    for column in COLUMNS:
        op.execute(f"ALTER TABLE decisions ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    """lz4 for the three JSON texts of new audit rows (PostgreSQL built with lz4 only)."""
    _set_compression("lz4")


def downgrade() -> None:
    """Back to the server's default method for new rows."""
    _set_compression("default")
