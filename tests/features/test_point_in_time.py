"""Point-in-time guarantees a risk officer relies on: no future data, repairs honoured, batch = single."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from catalog import schema, store
from catalog.errors import InvalidInput
from catalog.uscc import build
from features import snapshot
from features.compute import compute
from features.definitions import REGISTRY

AS_OF = dt.date(2024, 6, 30)


def _equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    left, right = a[REGISTRY.names].to_numpy(), b[REGISTRY.names].to_numpy()
    return bool(np.array_equal(left, right, equal_nan=True))


@pytest.fixture(scope="module")
def pairs(small_store: Path) -> pd.DataFrame:
    """60 random (entity, as_of) pairs, seeded."""
    with store.connect(small_store, read_only=True) as con:
        codes = [
            r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities ORDER BY 1").fetchall()
        ]
    rng = np.random.default_rng(3)
    days = pd.to_datetime("2022-03-01") + pd.to_timedelta(rng.integers(0, 1300, 60), unit="D")
    return pd.DataFrame({"uscc": rng.choice(codes, 60), "as_of": days})


def _future_copy(src: Path, dst: Path, cutoff: pd.Timestamp) -> None:
    """Copy the store and perturb every record dated or ingested after `cutoff`."""
    shutil.copy(src, dst)
    with duckdb.connect(str(dst)) as con:
        for table in schema.CATALOG_TABLES:
            event = table.event_dates[0]
            future = f"({event} > DATE '{cutoff.date()}' OR ingest_date > DATE '{cutoff.date()}')"
            numeric = [
                c.name
                for c in table.columns
                if c.dtype in ("DOUBLE", "INTEGER") and c.name != "version"
            ]
            sets = ", ".join(f"{c} = {c} * 3 + 7" for c in numeric) or "ingest_date = ingest_date"
            con.execute(f"UPDATE {table.name} SET {sets} WHERE {future}")
            con.execute(
                f"INSERT INTO {table.name} SELECT * REPLACE (ingest_date + 1 AS ingest_date) "
                f"FROM {table.name} WHERE {future}"
            )


def test_records_after_as_of_change_nothing(
    small_store: Path, pairs: pd.DataFrame, tmp_path: Path
) -> None:
    with store.connect(small_store, read_only=True) as con:
        before = compute(con, pairs)
    earliest = pairs["as_of"].min()
    _future_copy(small_store, tmp_path / "perturbed.duckdb", earliest)
    with store.connect(tmp_path / "perturbed.duckdb", read_only=True) as con:
        perturbed_rows = con.execute(
            f"SELECT count(*) FROM penalties WHERE decision_date > DATE '{earliest.date()}'"
        ).fetchall()[0][0]
        # Only pairs whose as_of is the earliest are guaranteed untouched by the perturbation.
        first = pairs[pairs["as_of"] == earliest]
        after = compute(con, first)
    assert perturbed_rows > 0
    assert _equal(before[pairs["as_of"] == earliest].reset_index(drop=True), after)


def test_leakage_per_pair(small_store: Path, pairs: pd.DataFrame, tmp_path: Path) -> None:
    """For each of several pairs: perturbing everything after its own as_of changes none of its features."""
    with store.connect(small_store, read_only=True) as con:
        before = compute(con, pairs)
    for i in range(0, len(pairs), 12):
        pair = pairs.iloc[[i]].reset_index(drop=True)
        path = tmp_path / f"p{i}.duckdb"
        _future_copy(small_store, path, pair["as_of"].iloc[0])
        with store.connect(path, read_only=True) as con:
            assert _equal(before.iloc[[i]].reset_index(drop=True), compute(con, pair)), i


def test_single_entity_equals_its_row_in_the_batch(small_store: Path, pairs: pd.DataFrame) -> None:
    with store.connect(small_store, read_only=True) as con:
        batch = compute(con, pairs)
        for i in range(0, len(pairs), 7):
            single = compute(con, pairs.iloc[[i]])
            assert _equal(batch.iloc[[i]].reset_index(drop=True), single), i


def test_batch_order_does_not_matter(small_store: Path, pairs: pd.DataFrame) -> None:
    with store.connect(small_store, read_only=True) as con:
        batch = compute(con, pairs)
        shuffled = compute(con, pairs.iloc[::-1].reset_index(drop=True))
    assert _equal(batch.iloc[::-1].reset_index(drop=True), shuffled)


CODE = build("9", "1", "441502", "MA0000A1")


def _penalty_store(path: Path, **penalty: object) -> None:
    store.create(path)
    with duckdb.connect(str(path)) as con:
        store.append(
            con,
            schema.ENTITIES,
            pd.DataFrame(
                [
                    {
                        "uscc": CODE,
                        "version": 1,
                        "name": "测试有限公司",
                        "entity_type": "enterprise",
                        "division": "441502",
                        "industry": "C",
                        "founded_date": dt.date(2015, 1, 1),
                        "registered_capital_cny": 1e6,
                        "deregistered_date": None,
                        "ingest_date": dt.date(2015, 1, 5),
                    }
                ]
            ),
        )
        row = {
            "record_id": "PE1",
            "version": 1,
            "retracted": False,
            "uscc": CODE,
            "decision_no": "汕罚〔2024〕1号",
            "decision_date": dt.date(2024, 1, 10),
            "penalty_type": "fine",
            "severity": "general",
            "domain": "market",
            "fine_cny": 5000.0,
            "confiscation_cny": 0.0,
            "authority": "汕尾市市场监督管理局",
            "publicity_end": dt.date(2025, 1, 10),
            "repair_date": None,
            "ingest_date": dt.date(2024, 1, 12),
        } | penalty
        store.append(con, schema.PENALTIES, pd.DataFrame([row]))


def _penalties_on(path: Path, days: list[dt.date]) -> list[float]:
    with store.connect(path, read_only=True) as con:
        out = compute(con, pd.DataFrame({"uscc": CODE, "as_of": days}))
    return out["pen_count_12m"].tolist()


def test_repaired_penalty_stops_counting_on_the_repair_day(tmp_path: Path) -> None:
    path = tmp_path / "repair.duckdb"
    _penalty_store(path, repair_date=dt.date(2024, 5, 20))
    days = [dt.date(2024, 1, 9), dt.date(2024, 1, 12), dt.date(2024, 5, 19), dt.date(2024, 5, 20)]
    assert _penalties_on(path, days) == [0, 1, 1, 0]


def test_expired_penalty_stops_counting_at_publicity_end(tmp_path: Path) -> None:
    path = tmp_path / "expiry.duckdb"
    _penalty_store(
        path, severity="minor", penalty_type="warning", publicity_end=dt.date(2024, 4, 10)
    )
    days = [dt.date(2024, 4, 9), dt.date(2024, 4, 10), dt.date(2024, 4, 11)]
    assert _penalties_on(path, days) == [1, 0, 0]


def test_penalty_known_only_from_its_ingest_date(tmp_path: Path) -> None:
    path = tmp_path / "late.duckdb"
    _penalty_store(path, ingest_date=dt.date(2024, 3, 1))
    assert _penalties_on(path, [dt.date(2024, 2, 29), dt.date(2024, 3, 1)]) == [0, 1]


def test_retracted_penalty_never_counts_after_retraction(tmp_path: Path) -> None:
    path = tmp_path / "retracted.duckdb"
    _penalty_store(path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "INSERT INTO penalties SELECT * REPLACE (2 AS version, TRUE AS retracted, "
            "DATE '2024-02-01' AS ingest_date) FROM penalties"
        )
    assert _penalties_on(path, [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]) == [1, 0]


def test_snapshot_refresh_picks_up_a_correction(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "snap.duckdb"
    shutil.copy(small_store, path)
    day = dt.date(2025, 12, 31)
    with store.connect(path) as con:
        snapshot.build(con, day)
        code = con.execute(
            "SELECT uscc FROM penalties WHERE publicity_end > DATE '2025-12-31' "
            "AND repair_date IS NULL AND NOT retracted LIMIT 1"
        ).fetchall()[0][0]
        before = snapshot.read(con, [code])["pen_count_12m"].iloc[0]
        con.execute("UPDATE penalties SET repair_date = DATE '2025-12-30' WHERE uscc = ?", [code])
        assert snapshot.read(con, [code])["pen_count_12m"].iloc[0] == before
        snapshot.refresh(con, [code])
        after = snapshot.read(con, [code])
        direct = compute(con, pd.DataFrame({"uscc": [code], "as_of": [day]}))
    assert after["pen_count_12m"].iloc[0] == 0 < before
    assert _equal(after.reset_index(drop=True), direct)


def test_pairs_without_dates_are_refused(small_store: Path) -> None:
    with store.connect(small_store, read_only=True) as con, pytest.raises(InvalidInput):
        compute(con, pd.DataFrame({"uscc": [CODE], "as_of": ["not a date"]}))


def test_narrow_and_whole_store_paths_agree_bit_for_bit(
    small_store: Path, pairs: pd.DataFrame
) -> None:
    with store.connect(small_store, read_only=True) as con:
        wide = compute(con, pairs, narrow=False)
        narrow = compute(con, pairs, narrow=True)
    assert _equal(wide, narrow)
    assert (wide["uscc"] == narrow["uscc"]).all()


def test_odd_codes_are_answered_not_injected(small_store: Path) -> None:
    """Codes are normalised, never validated here: anything unknown simply has no records."""
    odd = ["x' OR '1'='1", "９１４４", "ZZZ"]
    with store.connect(small_store, read_only=True) as con:
        narrow = compute(con, pd.DataFrame({"uscc": odd, "as_of": AS_OF}), narrow=True)
        wide = compute(con, pd.DataFrame({"uscc": odd, "as_of": AS_OF}), narrow=False)
    assert _equal(narrow, wide)
    assert list(narrow["uscc"]) == ["X' OR '1'='1", "9144", "ZZZ"]
    assert (narrow["pen_count_12m"] == 0).all()
    assert narrow["reg_age_months"].isna().all()
