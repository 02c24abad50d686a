"""The feature snapshot as the API reads it: held in memory, reloaded when the store changes.

The API loads the snapshot table once into a float64 matrix with a code -> row index and then
closes the DuckDB file, so a lookup is a dictionary hit (no SQL per request) and other
processes (`precredit features snapshot`, `precredit offers run`) can write the store while
the API serves. `reload_if_changed` (called by the API's poll thread) swaps in a new copy when
the file changes; a request holds the `SnapshotRow` it read, so a swap never changes an answer
halfway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from catalog import store
from catalog.errors import StoreError, UnknownEntity
from features import snapshot
from features.definitions import REGISTRY

log = logging.getLogger(__name__)
FloatArray = np.ndarray


@dataclass(frozen=True)
class SnapshotRow:
    """One entity's snapshot features (registry order), its snapshot date and registry version."""

    values: FloatArray
    columns: dict[str, int]
    as_of: str
    registry_fingerprint: str

    def take(self, names: tuple[str, ...]) -> FloatArray:
        """The values of `names`, in that order (a copy)."""
        return self.values[[self.columns[n] for n in names]]


@dataclass(frozen=True)
class SnapshotData:
    """An immutable in-memory copy of the snapshot table."""

    matrix: FloatArray
    index: dict[str, int]
    columns: dict[str, int]
    as_of: list[str]
    fingerprints: list[str]
    stamp: tuple[int, ...]
    latest: str = ""  # the newest as_of (ISO)

    def row(self, code: str) -> SnapshotRow:
        """The row of one canonical code; unknown entity -> 404."""
        i = self.index.get(code)
        if i is None:
            raise UnknownEntity("no market entity with this credit code in the platform snapshot")
        return SnapshotRow(self.matrix[i], self.columns, self.as_of[i], self.fingerprints[i])


def _stamp(path: Path) -> tuple[int, ...]:
    """What changes when the store is written: the file's and its write-ahead log's mtime, size."""
    wal = path.with_name(path.name + ".wal")
    stats = [path.stat(), *([wal.stat()] if wal.exists() else [])]
    return tuple(v for s in stats for v in (s.st_mtime_ns, s.st_size))


def load(path: Path) -> SnapshotData:
    """Read the whole snapshot table of the store at `path` (read-only, then closed)."""
    stamp = _stamp(path) if path.exists() else ()
    with store.connect(path, read_only=True) as con:
        try:
            frame = con.execute(
                f"SELECT uscc, CAST(as_of AS DATE) AS as_of, registry_fingerprint, "
                f"{', '.join(REGISTRY.names)} FROM {snapshot.TABLE}"
            ).df()
        except duckdb.Error as error:
            raise StoreError(
                "the store has no feature snapshot of this registry; run "
                "`precredit features snapshot`"
            ) from error
    return _data(frame, stamp)


def _data(frame: pd.DataFrame, stamp: tuple[int, ...]) -> SnapshotData:
    names = list(REGISTRY.names)
    matrix = np.ascontiguousarray(frame[names].to_numpy(dtype=np.float64, na_value=np.nan))
    as_of = [pd.Timestamp(d).date().isoformat() for d in frame["as_of"]]
    return SnapshotData(
        matrix,
        {str(c): i for i, c in enumerate(frame["uscc"])},
        {n: j for j, n in enumerate(names)},
        as_of,
        [str(f) for f in frame["registry_fingerprint"]],
        stamp,
        max(as_of, default=""),
    )


class Snapshot:
    """The API's current `SnapshotData`, replaced whole when the store file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: SnapshotData | None = None

    def open(self) -> None:
        """Load the snapshot (a missing or unreadable store is a StoreError: 503)."""
        self._data = load(self.path)

    def row(self, code: str) -> SnapshotRow:
        """The snapshot row of one canonical code; unknown entity -> 404, no snapshot -> 503."""
        data = self._data
        if data is None:
            raise StoreError("the platform snapshot is not loaded")
        return data.row(code)

    def has(self, code: str) -> bool:
        """Whether the snapshot holds this exact code."""
        data = self._data
        return data is not None and code in data.index

    def as_of(self) -> str:
        """The snapshot date in service (ISO); 503 when none is loaded."""
        data = self._data
        if data is None:
            raise StoreError("the platform snapshot is not loaded")
        return data.latest

    def reload_if_changed(self) -> bool:
        """Reload when the store file changed since it was read; True when a new copy serves."""
        try:
            if self._data is not None and _stamp(self.path) == self._data.stamp:
                return False
            self._data = load(self.path)
        except (OSError, StoreError) as error:  # keep serving the copy in memory
            log.warning("snapshot not reloaded: %s", error)
            return False
        return True

    def ready(self) -> bool:
        """Whether a snapshot is loaded."""
        return self._data is not None

    def close(self) -> None:
        """Drop the copy in memory."""
        self._data = None
