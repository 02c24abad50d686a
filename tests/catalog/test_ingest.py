"""Platform file import: reasons with source lines, flagged codes, idempotency, round trips."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog import ingest, schema, store, uscc
from catalog.errors import InvalidPlatformData

A, B, C, E = "91350100M000100Y43", "91310115591693856A", "91440300568520498A", "92340602MA2PBMEM24"
CHECK_CHAR_FAIL = "91110000600037341N"


def org_check_failure(body: str = "12345678") -> str:
    """A code whose position 17 is wrong but whose position 18 matches the rest."""
    wrong = "0" if uscc.org_check_char(body) != "0" else "1"
    first17 = "91441500" + body + wrong
    return first17 + uscc.check_char(first17)


ORG_CHECK_FAIL = org_check_failure()


def entity(code: str, **values: str) -> dict[str, str]:
    """One valid `entities` row as CSV text."""
    row = {
        "uscc": code,
        "version": "1",
        "name": f"企业 {code[-4:]}",
        "entity_type": "enterprise",
        "division": "441500",
        "industry": "C",
        "founded_date": "2019-03-01",
        "registered_capital_cny": "1000000",
        "deregistered_date": "",
        "ingest_date": "2019-03-05",
    }
    return row | values


def penalty(record_id: str, code: str = A, **values: str) -> dict[str, str]:
    """One valid `penalties` row as CSV text."""
    row = {
        "record_id": record_id,
        "version": "1",
        "retracted": "false",
        "uscc": code,
        "decision_no": f"汕市监罚〔2023〕{record_id}号",
        "decision_date": "2023-03-01",
        "penalty_type": "fine",
        "severity": "general",
        "domain": "tax",
        "fine_cny": "5000",
        "confiscation_cny": "0",
        "authority": "汕尾市市场监督管理局",
        "publicity_end": "2024-03-01",
        "repair_date": "",
        "ingest_date": "2023-03-05",
    }
    return row | values


def write_csv(
    path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None
) -> Path:
    """Write rows as a UTF-8 CSV with a header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        fields = list(columns or rows[0])
        writer = csv.DictWriter(handle, fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path / "store" / "platform.duckdb"
    store.create(path)
    with store.connect(path) as connection:
        yield connection


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(store.scalar(con, f"SELECT count(*) FROM {table}"))


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str]]:
    rows = con.execute(
        "SELECT source_file, source_line, reason FROM quarantine ORDER BY ALL"
    ).fetchall()
    return [(str(f), int(n), str(r)) for f, n, r in rows]


def balanced(report: ingest.ImportReport) -> bool:
    """Nothing dropped silently: every row read is added, quarantined or already present."""
    return all(
        f.rows_read == f.rows_added + f.rows_quarantined + f.rows_already_present
        for f in report.files
    )


def test_a_good_directory_imports_fully(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    files = tmp_path / "in"
    write_csv(files / "entities.csv", [entity(A), entity(B), entity(C)])
    write_csv(files / "penalties.csv", [penalty("P1", A), penalty("P2", B)])
    report = ingest.import_dir(con, files)
    assert [(f.table, f.rows_read, f.rows_added, f.rows_quarantined) for f in report.files] == [
        ("entities", 3, 3, 0),
        ("penalties", 2, 2, 0),
    ]
    assert (count(con, "entities"), count(con, "penalties"), count(con, "quarantine")) == (3, 2, 0)
    row = con.execute(
        "SELECT version, retracted, decision_date, fine_cny, repair_date, decision_no "
        "FROM penalties WHERE record_id = 'P1'"
    ).fetchall()
    assert [tuple(map(str, r)) for r in row] == [
        ("1", "False", "2023-03-01", "5000.0", "None", "汕市监罚〔2023〕P1号")
    ]
    assert store.scalar(con, "SELECT count(*) FROM import_log") == 2


BAD_ROWS: list[tuple[dict[str, str], str]] = [
    (penalty("P2", decision_no=""), "missing:decision_no"),
    (penalty("P3", uscc=""), "missing:uscc"),
    (penalty("P4", decision_date="2023-02-30"), "type:decision_date"),
    (penalty("P5", version="1.5"), "type:version"),
    (penalty("P6", retracted="maybe"), "type:retracted"),
    (penalty("P7", fine_cny="5千"), "type:fine_cny"),
    (penalty("P8", fine_cny="inf"), "type:fine_cny"),
    (penalty("P9", severity="grave"), "enum:severity"),
    (penalty("P10", fine_cny="-1"), "range:fine_cny"),
    (penalty("P11", version="0"), "range:version"),
    (penalty("P12", uscc="9135010"), "uscc:length"),
    (penalty("P13", uscc="91350100M000100Y4Z"), "uscc:charset"),
    (penalty("P14", uscc="B1350100M000100Y43"), "uscc:authority"),
    (penalty("P15", uscc="98350100M000100Y43"), "uscc:entity_type"),
    (penalty("P16", uscc="9135A100M000100Y43"), "uscc:division"),
    (penalty("P17", publicity_end="2023-01-01"), "date_order:publicity_end"),
    (penalty("P18", ingest_date="2023-02-01"), "date_order:ingest_date"),
    (penalty("P19", repair_date="2023-02-01"), "date_order:repair_date"),
    (penalty("P1", decision_no="second copy"), "duplicate_key"),
]
GOOD_AFTER = [penalty("P20", B), penalty("P21", " ９１４４０３００５６８５２０４９８ａ ")]


@pytest.fixture
def bad_file_import(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> tuple[duckdb.DuckDBPyConnection, ingest.FileReport]:
    rows = [penalty("P1"), *(row for row, _ in BAD_ROWS), *GOOD_AFTER]
    write_csv(tmp_path / "in" / "penalties.csv", rows)
    report = ingest.import_dir(con, tmp_path / "in")
    assert balanced(report)
    return con, report.files[0]


@pytest.mark.parametrize(("line", "reason"), [(i + 2, r) for i, (_, r) in enumerate(BAD_ROWS)])
def test_each_reason_quarantines_its_row_with_line_and_reason(
    bad_file_import: tuple[duckdb.DuckDBPyConnection, ingest.FileReport], line: int, reason: str
) -> None:
    con, _ = bad_file_import
    assert ("penalties.csv", line, reason) in quarantined(con)


def test_other_rows_still_land(
    bad_file_import: tuple[duckdb.DuckDBPyConnection, ingest.FileReport],
) -> None:
    con, report = bad_file_import
    assert (report.rows_read, report.rows_added) == (len(BAD_ROWS) + 3, 3)
    assert report.rows_quarantined == count(con, "quarantine") == len(BAD_ROWS)
    assert report.reasons == Counter(reason for _, reason in BAD_ROWS)
    kept = con.execute("SELECT record_id, uscc, decision_no FROM penalties ORDER BY 1").fetchall()
    assert [(r, c) for r, c, _ in kept] == [("P1", A), ("P20", B), ("P21", C)]
    assert kept[0][2] == "汕市监罚〔2023〕P1号"  # the first of two rows with one key is kept


def test_quarantine_keeps_the_raw_row_and_the_file_digest(
    bad_file_import: tuple[duckdb.DuckDBPyConnection, ingest.FileReport], tmp_path: Path
) -> None:
    con, _ = bad_file_import
    [(raw, digest, table)] = con.execute(
        "SELECT raw, file_sha256, table_name FROM quarantine WHERE reason = 'enum:severity'"
    ).fetchall()
    assert '"severity":"grave"' in raw
    assert '"record_id":"P9"' in raw
    assert table == "penalties"
    assert digest == hashlib.sha256((tmp_path / "in" / "penalties.csv").read_bytes()).hexdigest()


def test_a_file_missing_a_required_column_is_rejected_whole(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    columns = [c for c in schema.ENTITIES.column_names if c != "industry"]
    write_csv(tmp_path / "in" / "entities.csv", [entity(A), entity(B)], columns)
    write_csv(tmp_path / "in" / "penalties.csv", [penalty("P1")])
    report = ingest.import_dir(con, tmp_path / "in")
    entities = report.files[0]
    assert entities.skipped_reason is not None
    assert "industry" in entities.skipped_reason
    assert (entities.rows_read, entities.rows_added, entities.rows_quarantined) == (2, 0, 2)
    assert quarantined(con) == [("entities.csv", 0, "missing_columns:industry")]
    assert (count(con, "entities"), count(con, "penalties")) == (0, 1)
    assert balanced(report)


def test_optional_columns_may_be_absent_and_extra_columns_are_ignored(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    columns = [c for c in schema.ENTITIES.column_names if c != "deregistered_date"]
    rows = [entity(A, comment="x", rowid="9"), entity(B, comment="y", rowid="1", version="x")]
    write_csv(tmp_path / "in" / "entities.csv", rows, [*columns, "comment", "rowid"])
    [report] = ingest.import_dir(con, tmp_path / "in").files
    assert (report.rows_added, report.ignored_columns) == (1, ["comment", "rowid_"])
    assert quarantined(con) == [("entities.csv", 2, "type:version")]
    assert store.scalar(con, "SELECT deregistered_date IS NULL FROM entities") is True


def test_bad_utf8_bytes_do_not_crash_and_quarantine_their_row(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "in" / "entities.csv", [entity(A), entity(B, name="BROKEN"), entity(C)]
    )
    path.write_bytes(path.read_bytes().replace(b"BROKEN", b"\xe4\xbc\xff\xfe name"))
    [report] = ingest.import_dir(con, tmp_path / "in").files
    assert (report.rows_read, report.rows_added, report.rows_quarantined) == (3, 2, 1)
    assert quarantined(con) == [("entities.csv", 2, "encoding:name")]
    names = con.execute("SELECT name FROM entities ORDER BY uscc").fetchall()
    assert [n for (n,) in names] == [f"企业 {A[-4:]}", f"企业 {C[-4:]}"]


def test_codes_failing_only_check_characters_are_flagged_not_quarantined(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    assert uscc.check(ORG_CHECK_FAIL).reason == "org_check"
    rows = [entity(A), entity(CHECK_CHAR_FAIL), entity(ORG_CHECK_FAIL.lower())]
    write_csv(tmp_path / "in" / "entities.csv", rows)
    [report] = ingest.import_dir(con, tmp_path / "in").files
    assert (report.rows_added, report.rows_quarantined, report.flagged_codes) == (3, 0, 2)
    codes = {c for (c,) in con.execute("SELECT uscc FROM entities").fetchall()}
    assert codes == {A, CHECK_CHAR_FAIL, ORG_CHECK_FAIL}


def test_importing_twice_adds_nothing(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "entities.csv", [entity(A), entity(B, version="x")])
    write_csv(tmp_path / "in" / "penalties.csv", [penalty("P1"), penalty("P2", severity="?")])
    first = ingest.import_dir(con, tmp_path / "in")
    before = (store.content_hash(con), count(con, "quarantine"), count(con, "import_log"))
    second = ingest.import_dir(con, tmp_path / "in")
    after = (store.content_hash(con), count(con, "quarantine"), count(con, "import_log"))
    assert before == after
    assert before[1:] == (2, 2)
    assert first.total("rows_added") == 2
    assert [f.skipped_reason for f in second.files] == ["already imported"] * 2
    assert second.total("rows_added") == second.total("rows_quarantined") == 0


def test_renamed_or_re_exported_rows_add_nothing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [penalty("P1"), penalty("P2", B)]
    original = write_csv(tmp_path / "in" / "penalties.csv", rows)
    ingest.import_dir(con, tmp_path / "in")
    digest = store.content_hash(con)
    (tmp_path / "renamed").mkdir()
    shutil.copy(original, tmp_path / "renamed" / "penalties.2024-q1.csv")
    renamed = ingest.import_dir(con, tmp_path / "renamed").files[0]
    reordered = list(reversed(schema.PENALTIES.column_names))
    write_csv(tmp_path / "again" / "penalties.csv", rows[::-1], reordered)
    again = ingest.import_dir(con, tmp_path / "again").files[0]
    assert renamed.skipped_reason == "already imported"
    assert (again.rows_read, again.rows_added, again.rows_already_present) == (2, 0, 2)
    assert store.content_hash(con) == digest
    assert count(con, "quarantine") == 0


def test_parquet_rows_are_cast_and_numbered_by_row(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [penalty(f"P{i}") for i in range(1, 5)]
    rows[2]["severity"] = "grave"
    table = pa.table({name: [r[name] or None for r in rows] for name in rows[0]})
    typed = table.set_column(1, "version", pa.array([1, 1, 1, 1], pa.int64()))
    typed = typed.set_column(9, "fine_cny", pa.array([5000.0, 1.5, 0.0, 7.25]))
    (tmp_path / "in").mkdir()
    pq.write_table(typed, tmp_path / "in" / "penalties.parquet")
    [report] = ingest.import_dir(con, tmp_path / "in").files
    assert (report.rows_added, report.rows_quarantined) == (3, 1)
    assert quarantined(con) == [("penalties.parquet", 3, "enum:severity")]
    fines = con.execute("SELECT fine_cny FROM penalties ORDER BY record_id").fetchall()
    assert [f for (f,) in fines] == [5000.0, 1.5, 7.25]


def test_unknown_names_are_skipped_and_an_empty_directory_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write_csv(tmp_path / "in" / "notes.csv", [{"a": "1"}])
    (tmp_path / "in" / "penalties.json").write_text("{}")
    with pytest.raises(InvalidPlatformData, match="no importable file"):
        ingest.import_dir(con, tmp_path / "in")
    with pytest.raises(InvalidPlatformData, match="not a directory"):
        ingest.import_dir(con, tmp_path / "in" / "notes.csv")
    write_csv(tmp_path / "in" / "penalties.csv", [penalty("P1")])
    report = ingest.import_dir(con, tmp_path / "in")
    assert [(f.file, f.skipped_reason) for f in report.files] == [
        ("penalties.csv", None),
        ("notes.csv", "unknown file name"),
        ("penalties.json", "unknown file name"),
    ]


def test_an_unreadable_file_is_quarantined_once(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "penalties.parquet").write_bytes(b"not a parquet file")
    write_csv(tmp_path / "in" / "entities.csv", [entity(A)])
    first, second = (ingest.import_dir(con, tmp_path / "in") for _ in range(2))
    assert quarantined(con) == [("penalties.parquet", 0, "unreadable")]
    assert count(con, "entities") == 1
    assert str(first.files[1].skipped_reason).startswith("unreadable file: ")
    assert second.files[1].skipped_reason == "already imported"


def test_a_failure_inside_a_file_rolls_the_whole_file_back(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    columns = ", ".join(f"{c.name} {c.dtype}" for c in schema.QUARANTINE.columns)
    con.execute("DROP TABLE quarantine")
    con.execute(f"CREATE TABLE quarantine ({columns}, CHECK (reason <> 'enum:severity'))")
    write_csv(tmp_path / "in" / "penalties.csv", [penalty("P1"), penalty("P2", severity="?")])
    with pytest.raises(duckdb.ConstraintException):
        ingest.import_dir(con, tmp_path / "in")
    assert (count(con, "penalties"), count(con, "quarantine"), count(con, "import_log")) == (
        0,
        0,
        0,
    )


ROUND_TRIP = {
    "entities.csv": [
        entity(A, name='Alpha, "the first"\nsecond line'),
        entity(B, registered_capital_cny="", deregistered_date="2024-06-30"),
        entity(A, version="2", registered_capital_cny="0.1", ingest_date="2020-01-01"),
        entity(CHECK_CHAR_FAIL, registered_capital_cny="123456789.123"),
    ],
    "penalties.csv": [penalty("P1"), penalty("P2", B, fine_cny="1e-7", repair_date="2023-07-01")],
    "utilities.csv": [
        {
            "record_id": "U1",
            "version": "1",
            "retracted": "true",
            "uscc": A,
            "month": "2023-01-01",
            "electricity_kwh": "1234.5",
            "water_m3": "0.333",
            "amount_due_cny": "987.65",
            "paid_on_time": "false",
            "arrears_cny": "0",
            "ingest_date": "2023-02-05",
        },
    ],
    "banks.csv": [{"bank_id": "b1", "name": "汕尾农商银行", "policy": "tax_multiplier"}],
    "loan_outcomes.csv": [
        {
            "loan_id": "L1",
            "bank_id": "b1",
            "uscc": B,
            "observation_date": "2024-01-31",
            "max_dpd": "95",
            "default_flag": "true",
            "default_date": "2024-01-15",
            "written_off": "false",
        },
        {
            "loan_id": "L1",
            "bank_id": "b1",
            "uscc": B,
            "observation_date": "2023-12-31",
            "max_dpd": "0",
            "default_flag": "false",
            "default_date": "",
            "written_off": "false",
        },
    ],
}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_then_import_keeps_the_content_hash(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, fmt: str
) -> None:
    for name, rows in ROUND_TRIP.items():
        write_csv(tmp_path / "in" / name, rows)
    first = ingest.import_dir(con, tmp_path / "in")
    assert first.total("rows_quarantined") == 0
    assert first.total("rows_added") == sum(map(len, ROUND_TRIP.values()))
    written = ingest.export_dir(con, tmp_path / "out", "csv" if fmt == "csv" else "parquet")
    assert sorted(p.name for p in written) == sorted(f"{t}.{fmt}" for t in schema.IMPORTABLE)
    fresh = tmp_path / "fresh.duckdb"
    store.create(fresh)
    with store.connect(fresh) as other:
        again = ingest.import_dir(other, tmp_path / "out")
        assert again.total("rows_quarantined") == 0
        assert store.content_hash(other, schema.IMPORTABLE) == store.content_hash(
            con, schema.IMPORTABLE
        )


@pytest.mark.slow
def test_a_large_csv_keeps_its_line_numbers(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows, bad_line = 400_000, 376_543
    (tmp_path / "in").mkdir()
    con.execute(
        f"COPY (SELECT 'P' || n AS record_id, 1 AS version, false AS retracted, '{A}' AS uscc, "
        "'D' || n AS decision_no, DATE '2023-03-01' AS decision_date, 'fine' AS penalty_type, "
        f"CASE WHEN n = {bad_line} THEN 'grave' ELSE 'general' END AS severity, 'tax' AS domain, "
        "n * 0.5 AS fine_cny, 0.0 AS confiscation_cny, '汕尾市税务局' AS authority, "
        "DATE '2024-03-01' AS publicity_end, NULL AS repair_date, DATE '2023-03-05' AS ingest_date "
        f"FROM range(1, {rows + 1}) t(n)) TO '{tmp_path / 'in' / 'penalties.csv'}' (HEADER)"
    )
    [report] = ingest.import_dir(con, tmp_path / "in").files
    assert (report.rows_read, report.rows_added) == (rows, rows - 1)
    assert quarantined(con) == [("penalties.csv", bad_line, "enum:severity")]
    assert store.scalar(con, "SELECT fine_cny FROM penalties WHERE record_id = 'P1000'") == 500.0
