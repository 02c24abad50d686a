"""Alembic environment: migrates the connection `serving.db.migrate` hands over, else a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from serving.db.engine import make_engine
from serving.db.models import Base


def run_online(connection: Connection) -> None:
    """Run the pending revisions on `connection` in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Workers starting together: one migrates, the others wait here and then find
            # head applied. SQLite gets the same from BEGIN IMMEDIATE (see engine.py).
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
        context.run_migrations()


def run_offline(url: str) -> None:
    """Write the SQL for the pending revisions (`alembic upgrade --sql`)."""
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Pick the connection given in `config.attributes`, or the configured URL."""
    config = context.config
    shared: Connection | None = config.attributes.get("connection")
    url = config.get_main_option("sqlalchemy.url") or ""
    if shared is not None:
        run_online(shared)
    elif context.is_offline_mode():
        run_offline(url)
    else:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                run_online(connection)
        finally:
            engine.dispose()


main()
