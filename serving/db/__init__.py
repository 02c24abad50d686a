"""The service database: tenants, API keys, the decisions audit, outcomes, idempotency keys.

SQLite (WAL) by default, PostgreSQL by URL; SQLAlchemy 2 models, Alembic migrations.

- `engine`: `make_engine(url)`, `sqlite_url(path)`, `session_factory(engine)`
- `migrate`: `upgrade(url)` (idempotent), `current_revision(url)`
- `models`: the mapped tables
- `repo`: the functions the API calls (tenants, keys, decisions, outcomes, idempotency)
- `audit_chain`, `audit_verify`: the decisions' hash chain per tenant, and its verification
"""

from __future__ import annotations

from serving.db.engine import make_engine, session_factory, sqlite_url
from serving.db.migrate import current_revision, upgrade

__all__ = ["current_revision", "make_engine", "session_factory", "sqlite_url", "upgrade"]
