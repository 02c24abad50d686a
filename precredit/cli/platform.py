"""`precredit platform`: move platform files (CSV/Parquet per table) into and out of the store."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from catalog.ingest import FileReport, ImportReport


app = typer.Typer(
    help="The platform store: import and export platform files.", no_args_is_help=True
)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Platform store file (default: $PRECREDIT_STORE_PATH or "
        "$PRECREDIT_HOME/platform.duckdb).",
        show_default=False,
    ),
]


class ExportFormat(StrEnum):
    """File formats `platform export` writes."""

    parquet = "parquet"
    csv = "csv"


def store_path(option: Path | None) -> Path:
    """The store named on the command line, else the configured one."""
    from precredit.settings import get_settings

    return option if option is not None else get_settings().store


@app.command("import")
def import_files(
    source: Annotated[
        Path, typer.Option("--from", help="Directory of <table>.csv / <table>.parquet files.")
    ],
    store_option: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import platform files; failing rows are quarantined, importing twice adds nothing."""
    from catalog import ingest, store

    ingest.plan(source)  # refuse a bad directory before creating a store for it
    path = store_path(store_option)
    if not path.exists():
        store.create(path)
    with store.connect(path) as con:
        report = ingest.import_dir(con, source)
    typer.echo(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else _summary(report)
    )


@app.command("export")
def export_files(
    target: Annotated[Path, typer.Option("--to", help="Directory to write <table>.<format> to.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = (
        ExportFormat.parquet
    ),
    store_option: StoreOption = None,
) -> None:
    """Write every importable table of the store to one file per table."""
    from catalog import ingest, store

    with store.connect(store_path(store_option), read_only=True) as con:
        paths = ingest.export_dir(con, target, "csv" if fmt is ExportFormat.csv else "parquet")
    typer.echo(f"exported {len(paths)} tables to {target}")


_COLUMNS = ("file", "table", "read", "added", "quarantined", "present", "flagged")


def _summary(report: ImportReport) -> str:
    """One aligned line per file (reasons and notes indented below), then the totals."""
    width = max([len(f.file) for f in report.files] + [len("file")])
    lines = [f"{'file':<{width}}  {'table':<20}" + "".join(f"{c:>12}" for c in _COLUMNS[2:])]
    for file in report.files:
        lines.append(_file_line(file, width))
        lines += [f"    {reason}: {n:,}" for reason, n in file.reasons.items()]
        if file.ignored_columns:
            lines.append(f"    ignored columns: {', '.join(file.ignored_columns)}")
    lines.append(
        f"total: {report.total('rows_read'):,} read, {report.total('rows_added'):,} added, "
        f"{report.total('rows_quarantined'):,} quarantined, "
        f"{report.total('rows_already_present'):,} already present, "
        f"{report.total('flagged_codes'):,} flagged codes"
    )
    return "\n".join(lines)


def _file_line(file: FileReport, width: int) -> str:
    counts = (
        file.rows_read,
        file.rows_added,
        file.rows_quarantined,
        file.rows_already_present,
        file.flagged_codes,
    )
    line = f"{file.file:<{width}}  {file.table or '-':<20}" + "".join(f"{n:>12,}" for n in counts)
    return line + (f"  ({file.skipped_reason})" if file.skipped_reason else "")


# ---------------------------------------------------------------------------------------------
# `precredit platform generate` (synthetic platform) is added below by the generator's author.
# ---------------------------------------------------------------------------------------------
