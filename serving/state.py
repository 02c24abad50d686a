"""What one API process holds: settings, the snapshot store, the service database, models."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from features import snapshot, store
from features.errors import StoreError, UnknownEntity
from serving.config import Settings
from serving.metrics import Metrics
from serving.model_store import ModelHolder


@dataclass
class Snapshot:
    """Read-only access to the feature snapshot, one DuckDB cursor per thread."""

    path: Any
    _con: duckdb.DuckDBPyConnection | None = None
    _local: threading.local = field(default_factory=threading.local)

    def open(self) -> None:
        """Open the store read-only (a missing store is a StoreError: 503)."""
        self._con = duckdb.connect(str(self.path), read_only=True) if self.path.exists() else None
        if self._con is None:
            raise StoreError(f"no platform store at {self.path.name}")
        store.quiet(self._con)
        store.check_schema(self._con)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the platform store is not open")
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def row(self, code: str) -> dict[str, Any]:
        """The snapshot row of one entity (index lookup); unknown entity -> 404."""
        cur = self._cursor()
        result = cur.execute(f"SELECT * FROM {snapshot.TABLE} WHERE uscc = ?", [code])
        names = [d[0] for d in result.description]
        rows = result.fetchall()
        if not rows:
            raise UnknownEntity("no market entity with this credit code in the platform snapshot")
        return dict(zip(names, rows[0], strict=True))

    def ready(self) -> bool:
        """Whether the snapshot answers."""
        try:
            self._cursor().execute(f"SELECT count(*) FROM {snapshot.TABLE}").fetchall()
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Close the store."""
        if self._con is not None:
            self._con.close()


@dataclass
class Services:
    """Everything the routes depend on, built once in the app's lifespan."""

    settings: Settings
    snapshot: Snapshot
    sessions: sessionmaker[Session]
    models: ModelHolder
    metrics: Metrics
