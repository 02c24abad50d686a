"""Schema migrations run from code: `upgrade(url)` at start-up, `current_revision(url)` to check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from serving.db.engine import make_engine

MIGRATIONS = Path(__file__).resolve().with_name("migrations")


def upgrade(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (the newest by default); no-op when there."""
    engine = make_engine(url, schema=schema)
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), revision)
    finally:
        engine.dispose()


def current_revision(url: str, *, schema: str | None = None) -> str | None:
    """The revision the database at `url` is on; None before the first migration."""
    engine = make_engine(url, schema=schema)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision this code ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "serving/db/migrations/versions holds no revision"
    return head


def _config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config
