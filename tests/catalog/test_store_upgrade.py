"""A store made by an earlier release gains this release's new tables, empty, when opened writable."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from catalog import schema, store
from catalog.errors import StoreError

NEW_TABLE = "reorganisation_plans"  # added after stores of 2026-11 were made


@pytest.fixture
def older_store(tmp_path: Path) -> Path:
    """A store as an earlier release made it: every table but the newest, with one row kept."""
    path = tmp_path / "platform.duckdb"
    store.create(path)
    with duckdb.connect(str(path)) as con:
        con.execute(f"DROP TABLE {NEW_TABLE}")
        con.execute("CREATE TABLE kept_marker (x INTEGER)")
        con.execute("INSERT INTO kept_marker VALUES (7)")
    return path


def test_a_read_only_open_names_the_missing_table_and_the_way_to_add_it(older_store: Path) -> None:
    with (
        pytest.raises(StoreError, match=rf"lacks the table {NEW_TABLE}.*writable"),
        store.connect(older_store, read_only=True),
    ):
        pass


def test_a_writable_open_adds_the_new_table_empty_and_keeps_the_rest(older_store: Path) -> None:
    with store.connect(older_store) as con:
        assert con.execute(f"SELECT count(*) FROM {NEW_TABLE}").fetchone() == (0,)
        assert con.execute("SELECT x FROM kept_marker").fetchall() == [(7,)]
    with store.connect(older_store, read_only=True) as con:  # now in this release's schema
        store.check_schema(con)
        assert {t.name for t in schema.ALL_TABLES} <= {
            str(r[0]) for r in con.execute("SHOW TABLES").fetchall()
        }


def test_a_table_with_other_columns_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "platform.duckdb"
    store.create(path)
    with duckdb.connect(str(path)) as con:
        con.execute(f"DROP TABLE {NEW_TABLE}")
        con.execute(f"CREATE TABLE {NEW_TABLE} (uscc VARCHAR)")
    with pytest.raises(StoreError, match="not in schema"), store.connect(path):
        pass
