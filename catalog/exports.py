"""Files for government departments: one query written as CSV (Excel-ready) and Parquet."""

from __future__ import annotations

import shutil
from pathlib import Path

from catalog.store import Connection

BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark: Excel then reads the Chinese text correctly


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_files(
    con: Connection, select: str, stem: Path, params: list[object] | None = None
) -> tuple[Path, Path]:
    """Write the rows of `select` to `<stem>.csv` (UTF-8 with BOM) and `<stem>.parquet`."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv, parquet, plain = (
        stem.with_name(f"{stem.name}{ext}") for ext in (".csv", ".parquet", ".tmp")
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _export AS {select}", params or [])
    try:
        con.execute(f"COPY _export TO {_literal(parquet)} (FORMAT parquet)")
        con.execute(f"COPY _export TO {_literal(plain)} (FORMAT csv, HEADER)")
    finally:
        con.execute("DROP TABLE IF EXISTS _export")
    with csv.open("wb") as out, plain.open("rb") as src:
        out.write(BOM)
        shutil.copyfileobj(src, out)
    plain.unlink()
    return csv, parquet
