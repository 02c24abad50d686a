"""Platform file import and export: `<table>.csv` / `<table>.parquet` files <-> the store.

Each file is imported in its own transaction. Rows failing a check (`catalog.validate`) go to
`quarantine` with file, line and reason; nothing is dropped silently: for every file
`rows_read = rows_added + rows_quarantined + rows_already_present`. Import is idempotent twice
over: a file already in `import_log` (same bytes, same table) is skipped, and rows whose key is
already in the table are counted as already present instead of inserted again.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb

from catalog import schema, staging
from catalog.errors import InvalidPlatformData
from catalog.validate import CODE_REASON, FLAGGED_CODE_REASONS, code_reasons, ident, literal

Connection = duckdb.DuckDBPyConnection
FORMATS = ("csv", "parquet")
RAW_MAX_CHARS = 2000
_CHUNK = 1 << 24


@dataclass
class FileReport:
    """What happened to one file.

    `flagged_codes` counts the distinct added codes that fail only their check characters
    (kept, DOMAIN.md §2). A file rejected whole (`skipped_reason` set: missing required
    columns, unreadable) has one quarantine row at source line 0 and counts all its rows as
    quarantined.
    """

    table: str | None
    file: str
    rows_read: int = 0
    rows_added: int = 0
    rows_quarantined: int = 0
    rows_already_present: int = 0
    flagged_codes: int = 0
    skipped_reason: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportReport:
    """The outcome of importing one directory, file by file."""

    directory: str
    files: list[FileReport]

    def total(self, name: str) -> int:
        """Sum of one counter (`rows_added`, `rows_quarantined`...) over all files."""
        return sum(int(getattr(f, name)) for f in self.files)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with per-file entries and totals."""
        counters = ("rows_read", "rows_added", "rows_quarantined", "rows_already_present")
        totals = {name: self.total(name) for name in (*counters, "flagged_codes")}
        return {
            "directory": self.directory,
            "files": [asdict(f) for f in self.files],
            "totals": totals,
        }


def import_dir(con: Connection, directory: Path) -> ImportReport:
    """Import every platform file in `directory` into the store behind `con`."""
    planned, unknown = plan(directory)
    reports = [import_file(con, table, path) for table, path in planned]
    reports += [FileReport(None, name, skipped_reason="unknown file name") for name in unknown]
    return ImportReport(str(directory), reports)


def plan(directory: Path) -> tuple[list[tuple[schema.Table, Path]], list[str]]:
    """Importable files in schema order (sorted by name within a table), and unknown names."""
    if not directory.is_dir():
        raise InvalidPlatformData(f"{directory} is not a directory of platform files")
    by_table: dict[str, list[Path]] = {name: [] for name in schema.IMPORTABLE}
    unknown: list[str] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        parts = path.name.split(".")
        if len(parts) >= 2 and parts[0] in by_table and parts[-1].lower() in FORMATS:
            by_table[parts[0]].append(path)
        else:
            unknown.append(path.name)
    planned = [(schema.IMPORTABLE[n], p) for n, paths in by_table.items() for p in paths]
    if not planned:
        raise InvalidPlatformData(
            f"no importable file in {directory}: expected <table>.csv or <table>.parquet "
            "for platform tables such as entities.csv or penalties.parquet"
        )
    return planned, unknown


def import_file(con: Connection, table: schema.Table, path: Path) -> FileReport:
    """Import one file in one transaction; a file already imported is skipped."""
    digest, utf8_ok = _inspect(path)
    if con.execute(
        "SELECT 1 FROM import_log WHERE file_sha256 = ? AND table_name = ?", [digest, table.name]
    ).fetchall():
        return FileReport(table.name, path.name, skipped_reason="already imported")
    try:
        types, error = _load(con, path, utf8_ok), None
    except duckdb.Error as exc:
        types, error = {}, (str(exc).splitlines() or [type(exc).__name__])[0]
    con.begin()
    try:
        report = _import_loaded(con, Loaded(table, path.name, digest, types, error, utf8_ok))
        _log(con, table, path.name, digest, report)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        for temp in ("_raw", "_codes", "_staged"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return report


@dataclass(frozen=True)
class Loaded:
    """One file as loaded into `_raw`: its table, name, digest, column types, load error."""

    table: schema.Table
    file: str
    digest: str
    types: dict[str, str]
    error: str | None  # the reader's first line when the file could not be read
    utf8_ok: bool  # False: invalid UTF-8 was repaired while reading


def _import_loaded(con: Connection, loaded: Loaded) -> FileReport:
    """Validate and insert the rows loaded into `_raw`; the caller owns the transaction."""
    table, file, digest, types = loaded.table, loaded.file, loaded.digest, loaded.types
    report = FileReport(table.name, file)
    if loaded.error is not None:
        report.skipped_reason = f"unreadable file: {loaded.error}"
        _reject(con, loaded, "unreadable", {"error": loaded.error})
        return report
    report.rows_read = int(con.execute("SELECT count(*) FROM _raw").fetchall()[0][0])
    report.ignored_columns = [c for c in types if c not in table.column_names]
    required = {c.name for c in table.columns if not c.nullable}
    missing = sorted(required - set(types))
    if missing:
        report.skipped_reason = f"missing required columns: {', '.join(missing)}"
        report.rows_quarantined = report.rows_read
        _reject(con, loaded, "missing_columns:" + ",".join(missing), list(types))
        return report
    _stage(con, table, staging.Source(types, repaired_utf8=not loaded.utf8_ok))
    _count(con, table, report)
    _insert(con, table, file, digest, list(types))
    return report


def _load(con: Connection, path: Path, utf8_ok: bool) -> dict[str, str]:
    """Read the file into `_raw`; a CSV with invalid UTF-8 is read from a repaired copy."""
    fmt = path.name.rsplit(".", 1)[-1].lower()
    if fmt != "csv" or utf8_ok:
        return staging.load_raw(con, path, fmt)
    with tempfile.TemporaryDirectory(prefix="precredit-import-") as tmp:
        repaired = Path(tmp) / path.name
        _repair_utf8(path, repaired)
        return staging.load_raw(con, repaired, fmt)


def _stage(con: Connection, table: schema.Table, source: staging.Source) -> None:
    """Check the distinct credit codes in Python once, then stage the rows in SQL."""
    if table.has_uscc:
        rows = con.execute(
            'SELECT DISTINCT CAST("uscc" AS VARCHAR) FROM _raw WHERE "uscc" IS NOT NULL'
        ).fetchall()
        con.register("_code_arrow", code_reasons(str(row[0]) for row in rows))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _codes AS SELECT * FROM _code_arrow")
        finally:
            con.unregister("_code_arrow")
    staging.stage(con, table, source)


def _count(con: Connection, table: schema.Table, report: FileReport) -> None:
    """Fill the counters of `report` from `_staged`."""
    added = "_fail IS NULL AND NOT _present"
    flagged = ", ".join(map(literal, FLAGGED_CODE_REASONS))
    codes = (
        f'count(DISTINCT "uscc") FILTER (WHERE {added} AND {CODE_REASON} IN ({flagged}))'
        if table.has_uscc
        else "0"
    )
    [(n_added, n_quarantined, n_present, n_flagged)] = con.execute(
        f"SELECT count(*) FILTER (WHERE {added}), count(*) FILTER (WHERE _fail IS NOT NULL), "
        f"count(*) FILTER (WHERE _present), {codes} FROM _staged"
    ).fetchall()
    report.rows_added, report.rows_quarantined = int(n_added), int(n_quarantined)
    report.rows_already_present, report.flagged_codes = int(n_present), int(n_flagged)
    rows = con.execute(
        "SELECT _fail, count(*) FROM _staged WHERE _fail IS NOT NULL GROUP BY _fail ORDER BY 1"
    ).fetchall()
    report.reasons = {str(reason): int(n) for reason, n in rows}


def _insert(
    con: Connection, table: schema.Table, file: str, digest: str, raw_columns: list[str]
) -> None:
    """Insert accepted rows into the table and failed rows into `quarantine`."""
    cols = ", ".join(map(ident, table.column_names))
    con.execute(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _staged "
        "WHERE _fail IS NULL AND NOT _present"
    )
    raw = "struct_pack(" + ", ".join(f"{ident(c)} := r.{ident(c)}" for c in raw_columns) + ")"
    con.execute(
        "INSERT INTO quarantine SELECT ?, ?, s._src_line, ?, s._fail, "
        f"left(CAST(to_json({raw}) AS VARCHAR), {RAW_MAX_CHARS}), ? "
        "FROM _staged s JOIN _raw r ON r.rowid + 1 = s._src_line WHERE s._fail IS NOT NULL",
        [table.name, file, digest, _now()],
    )


def _reject(con: Connection, loaded: Loaded, reason: str, raw: object) -> None:
    """Quarantine a whole file as one row at source line 0."""
    text = json.dumps(raw, ensure_ascii=False)[:RAW_MAX_CHARS]
    con.execute(
        "INSERT INTO quarantine VALUES (?, ?, 0, ?, ?, ?, ?)",
        [loaded.table.name, loaded.file, loaded.digest, reason, text, _now()],
    )


def _log(con: Connection, table: schema.Table, file: str, digest: str, report: FileReport) -> None:
    """Record the file in `import_log` so importing it again is a no-op."""
    con.execute(
        "INSERT INTO import_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            digest,
            table.name,
            file,
            report.rows_read,
            report.rows_added,
            report.rows_quarantined,
            _now(),
        ],
    )


def _inspect(path: Path) -> tuple[str, bool]:
    """The file's SHA-256 and whether its bytes are valid UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid = True
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return digest.hexdigest(), valid


def _repair_utf8(source: Path, target: Path) -> None:
    """Copy `source` to `target`, replacing invalid UTF-8 sequences by U+FFFD."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            writer.write(decoder.decode(chunk).encode())
        writer.write(decoder.decode(b"", final=True).encode())


def _now() -> datetime:
    """The current UTC time, naive (the store's TIMESTAMP columns hold UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def export_dir(con: Connection, directory: Path, fmt: Literal["parquet", "csv"]) -> list[Path]:
    """Write every importable table to `<directory>/<table>.<fmt>`, rows in key order."""
    if fmt not in FORMATS:
        raise InvalidPlatformData(f"unknown export format {fmt!r}; use csv or parquet")
    directory.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    paths = []
    for table in schema.IMPORTABLE.values():
        path = directory / f"{table.name}.{fmt}"
        cols = ", ".join(map(ident, table.column_names))
        keys = ", ".join(map(ident, table.key))
        con.execute(
            f"COPY (SELECT {cols} FROM {table.name} ORDER BY {keys}) "
            f"TO {literal(str(path))} ({options})"
        )
        paths.append(path)
    return paths
