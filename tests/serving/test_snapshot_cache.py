"""The API's in-memory snapshot: a correct copy of the table, reloaded when the store changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from trained_home import SNAPSHOT_DATE

from catalog import store
from catalog.errors import StoreError, UnknownEntity
from features import snapshot
from features.definitions import REGISTRY
from serving.decision.snapshot import Snapshot


@pytest.fixture
def store_copy(tiny_store: Path, tmp_path: Path) -> Path:
    """A copy of the tiny platform with its snapshot built."""
    path = tmp_path / "platform.duckdb"
    shutil.copy(tiny_store, path)
    with store.connect(path) as con:
        snapshot.build(con, SNAPSHOT_DATE)
    return path


def test_every_row_equals_the_table(store_copy: Path) -> None:
    cache = Snapshot(store_copy)
    cache.open()
    with store.connect(store_copy, read_only=True) as con:
        table = con.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()
    assert len(table) > 500
    for record in table.sample(200, random_state=1).to_dict("records"):
        row = cache.row(str(record["uscc"]))
        expected = np.array([record[n] for n in REGISTRY.names], dtype=np.float64)
        np.testing.assert_array_equal(row.take(REGISTRY.names), expected)
        assert row.as_of == record["as_of"].date().isoformat()
        assert row.registry_fingerprint == record["registry_fingerprint"]
    with pytest.raises(UnknownEntity):
        cache.row("91440000000000000X")


def test_a_rewritten_store_is_reloaded_and_an_unchanged_one_is_not(store_copy: Path) -> None:
    cache = Snapshot(store_copy)
    cache.open()
    assert cache.reload_if_changed() is False
    code = next(iter(cache._data.index))  # type: ignore[union-attr]
    before = cache.row(code)
    column = REGISTRY.names.index("tax_paid_cny_12m")
    with store.connect(store_copy) as con:  # another process (a CLI refresh) writes the store
        con.execute(
            f"UPDATE {snapshot.TABLE} SET tax_paid_cny_12m = 123456.0 WHERE uscc = ?", [code]
        )
    assert cache.reload_if_changed() is True
    assert cache.row(code).values[column] == 123456.0
    assert before.values[column] != 123456.0  # a request holding the old row keeps its values
    assert cache.reload_if_changed() is False


def test_a_store_being_written_keeps_the_copy_in_memory(store_copy: Path) -> None:
    cache = Snapshot(store_copy)
    cache.open()
    code = next(iter(cache._data.index))  # type: ignore[union-attr]
    writer = duckdb.connect(str(store_copy))  # holds the file lock, like a running refresh
    try:
        writer.execute(f"UPDATE {snapshot.TABLE} SET tax_paid_cny_12m = 1.0 WHERE uscc = ?", [code])
        writer.execute("CHECKPOINT")
        assert cache.reload_if_changed() is False
        assert cache.row(code).values[REGISTRY.names.index("tax_paid_cny_12m")] != 1.0
    finally:
        writer.close()
    assert cache.reload_if_changed() is True


def test_a_missing_store_or_snapshot_is_a_store_error(tmp_path: Path, tiny_store: Path) -> None:
    with pytest.raises(StoreError):
        Snapshot(tmp_path / "absent.duckdb").open()
    bare = tmp_path / "bare.duckdb"
    shutil.copy(tiny_store, bare)
    with store.connect(bare) as con:
        con.execute(f"DROP TABLE IF EXISTS {snapshot.TABLE}")
    with pytest.raises(StoreError, match="snapshot"):
        Snapshot(bare).open()
