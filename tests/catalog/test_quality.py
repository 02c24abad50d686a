"""Data quality report on a hand-built store: every number equals what was constructed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from catalog import quality, schema, store, uscc
from catalog.errors import StoreError
from catalog.quality_report import QualityReport, TableQuality

A, B, C, E = "91350100M000100Y43", "91310115591693856A", "91440300568520498A", "92340602MA2PBMEM24"
FLAGGED = "91110000600037341N"  # fails its check character: flagged, kept
INVALID = "BADCODE1"  # fails the length rule
ORPHAN = uscc.build("9", "1", "441521", "12345678")  # valid, but not in `entities`
DAY = dt.date(2023, 3, 1)


def entity(code: str, version: int = 1, capital: float | None = 1e6) -> dict[str, object]:
    return {
        "uscc": code,
        "version": version,
        "name": "企业",
        "entity_type": "enterprise",
        "division": "441500",
        "industry": "C",
        "founded_date": dt.date(2019, 3, 1),
        "registered_capital_cny": capital,
        "deregistered_date": None,
        "ingest_date": dt.date(2018 + version, 3, 4),
    }


def penalty(record_id: str, code: str, lag: int, **values: object) -> dict[str, object]:
    row = {
        "record_id": record_id,
        "version": 1,
        "retracted": False,
        "uscc": code,
        "decision_no": record_id,
        "decision_date": DAY,
        "penalty_type": "fine",
        "severity": "general",
        "domain": "tax",
        "fine_cny": 100.0,
        "confiscation_cny": 0.0,
        "authority": "x",
        "publicity_end": DAY + dt.timedelta(days=365),
        "repair_date": None,
        "ingest_date": DAY + dt.timedelta(days=lag),
    }
    return row | values


def insurance(record_id: str, code: str, month: int, version: int = 1) -> dict[str, object]:
    start = dt.date(2023, month, 1)
    return {
        "record_id": record_id,
        "version": version,
        "retracted": False,
        "uscc": code,
        "month": start,
        "headcount": 3,
        "paid_cny": 900.0,
        "arrears_cny": 0.0,
        "ingest_date": start + dt.timedelta(days=40),
    }


ENTITIES = [entity(A), entity(A, version=2), entity(B), entity(C), entity(C), entity(FLAGGED),
            entity(E, capital=None), entity(INVALID)]  # fmt: skip
PENALTIES = [
    penalty("P1", A, lag=1),
    penalty("P1", A, lag=100, version=2, retracted=True),
    penalty("P2", B, lag=2),
    penalty("P3", ORPHAN, lag=3),
    penalty("P4", C, lag=10, severity="grave"),
    penalty("P5", FLAGGED, lag=45, publicity_end=DAY - dt.timedelta(days=1)),
]
INSURANCE = [insurance("S1", A, 1), insurance("S2", A, 2), insurance("S2", A, 2, version=2),
             insurance("S3", A, 4), insurance("S4", A, 7), insurance("S5", B, 1),
             insurance("S6", B, 2), insurance("S7", B, 3), insurance("S8", E, 5)]  # fmt: skip
QUARANTINE = [("penalties", "enum:severity"), ("penalties", "enum:severity"),
              ("entities", "missing:name")]  # fmt: skip


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "platform.duckdb"
    store.create(path)
    with store.connect(path) as con:
        store.append(con, schema.ENTITIES, pd.DataFrame(ENTITIES))
        store.append(con, schema.PENALTIES, pd.DataFrame(PENALTIES))
        store.append(con, schema.SOCIAL_INSURANCE, pd.DataFrame(INSURANCE))
        for i, (table, reason) in enumerate(QUARANTINE):
            con.execute(
                "INSERT INTO quarantine VALUES (?, 'f.csv', ?, 'sha', ?, '{}', now()::TIMESTAMP)",
                [table, i + 1, reason],
            )
    return path


@pytest.fixture
def con(store_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with store.connect(store_path, read_only=True) as connection:
        yield connection


@pytest.fixture
def report(con: duckdb.DuckDBPyConnection) -> QualityReport:
    return quality.check_store(con)


def table(report: QualityReport, name: str) -> TableQuality:
    return next(t for t in report.tables if t.table == name)


def test_every_catalog_and_bank_table_is_measured(report: QualityReport) -> None:
    assert [t.table for t in report.tables] == list(schema.IMPORTABLE)
    assert {t.table: t.rows for t in report.tables if t.rows} == {
        "entities": 8,
        "penalties": 6,
        "social_insurance": 9,
    }


def test_entity_codes_flagged_invalid_duplicate_and_rate(report: QualityReport) -> None:
    codes = report.codes
    assert (codes.distinct_codes, codes.flagged_codes, codes.invalid_codes) == (6, 1, 1)
    assert codes.duplicate_codes == 1  # C has two version-1 rows; A's version 2 is no duplicate
    assert codes.code_error_dup_rate_per_10k == pytest.approx((1 + 1 + 1) / 6 * 10_000)
    assert (codes.target_per_10k, codes.meets_target) == (0.5, False)


def test_orphans_corrections_and_retractions(report: QualityReport) -> None:
    penalties = table(report, "penalties")
    assert (penalties.orphans, penalties.corrected, penalties.retracted) == (1, 1, 1)
    assert penalties.flagged_code_rows == 1
    entities = table(report, "entities")
    assert (entities.orphans, entities.corrected, entities.retracted) == (None, 1, None)


def test_validity_uses_the_import_checks(report: QualityReport) -> None:
    penalties = table(report, "penalties")
    assert (penalties.valid_rows, penalties.valid_share) == (4, pytest.approx(4 / 6))
    assert penalties.invalid_reasons == {"date_order:publicity_end": 1, "enum:severity": 1}
    entities = table(report, "entities")
    assert (entities.valid_rows, entities.invalid_reasons) == (7, {"uscc:length": 1})


def test_completeness_per_column_and_required_cells(report: QualityReport) -> None:
    entities = table(report, "entities")
    assert entities.completeness["registered_capital_cny"] == pytest.approx(7 / 8)
    assert entities.completeness["deregistered_date"] == 0.0
    assert entities.completeness["uscc"] == 1.0
    assert entities.complete_required_share == 1.0
    assert table(report, "banks").complete_required_share is None


def test_ingest_lag_of_first_versions(report: QualityReport) -> None:
    lag = table(report, "penalties").ingest_lag
    assert lag is not None
    assert (lag.rows, lag.p50, lag.p90, lag.p99, lag.max) == (5, 3, 45, 45, 45)
    assert (lag.late_rows, lag.late_share) == (1, pytest.approx(1 / 5))
    assert table(report, "banks").ingest_lag is None


def test_missing_months_of_monthly_tables(report: QualityReport) -> None:
    insurance = table(report, "social_insurance")
    assert (insurance.missing_months, insurance.entities_with_gaps) == (3, 1)
    assert table(report, "utilities").missing_months == 0
    assert table(report, "penalties").missing_months is None


def test_quarantine_by_table_and_reason(report: QualityReport) -> None:
    assert report.quarantine == {"entities": {"missing:name": 1}, "penalties": {"enum:severity": 2}}
    assert report.quarantine_rows == 3


def test_json_has_stable_keys(report: QualityReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert list(data) == ["tables", "codes", "quarantine"]
    assert data["quarantine"]["rows"] == 3
    assert data["codes"]["meets_target"] is False
    penalties = data["tables"][2]
    assert penalties["table"] == "penalties"
    assert penalties["ingest_lag"]["p50"] == 3
    assert list(penalties) == list(data["tables"][0])


def test_text_report_has_one_aligned_line_per_table(report: QualityReport) -> None:
    lines = report.render_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("table "))
    header, end = lines[start], lines.index("", start)
    rows = {line.split()[0]: line for line in lines[start + 1 : end]}
    assert set(rows) == set(schema.IMPORTABLE)
    assert {len(line) for line in rows.values()} == {len(header)}
    assert rows["penalties"].split()[1:5] == ["6", "100.0%", "66.7%", "1"]
    assert any("5,000.00" in line and "MISSES" in line for line in lines)
    assert "Quarantine: 3 rows" in lines


def test_a_store_with_only_valid_codes_meets_the_target(tmp_path: Path) -> None:
    path = tmp_path / "clean.duckdb"
    store.create(path)
    with store.connect(path) as con:
        store.append(con, schema.ENTITIES, pd.DataFrame([entity(A), entity(B), entity(E)]))
        codes = quality.check_store(con).codes
    assert (codes.code_error_dup_rate_per_10k, codes.meets_target) == (0.0, True)


def test_an_empty_store_reports_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    store.create(path)
    with store.connect(path, read_only=True) as con:
        report = quality.check_store(con)
    assert report.codes.code_error_dup_rate_per_10k is None
    assert all(t.rows == 0 for t in report.tables)
    assert "no entities" in report.render_text()


def test_a_store_missing_a_table_is_a_store_error(store_path: Path) -> None:
    with duckdb.connect(str(store_path)) as raw:
        raw.execute("DROP TABLE utilities")
    with pytest.raises(StoreError, match="utilities"), store.connect(store_path) as con:
        quality.check_store(con)


def test_a_generated_store_reports_the_defects_its_generator_injected(small_store: Path) -> None:
    with store.connect(small_store, read_only=True) as con:
        report = quality.check_store(con)
        ledger = con.execute(
            "SELECT table_name, defect, count(*) FROM truth_defects GROUP BY ALL"
        ).fetchall()
    injected = {(t, d): int(n) for t, d, n in ledger}
    assert report.codes.flagged_codes == injected[("entities", "bad_check_char")]
    assert report.codes.duplicate_codes == injected[("entities", "duplicate_code")]
    assert report.codes.meets_target is False
