"""`precredit data`: data quality of the platform store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from precredit.cli.platform import StoreOption, store_path

app = typer.Typer(help="Data quality of the platform store.", no_args_is_help=True)


# A callback keeps `check` a named subcommand although it is, for now, the only one.
@app.callback()
def data_group() -> None:
    """Data quality of the platform store."""


@app.command()
def check(
    store_option: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Completeness, validity, timeliness, orphans, code error rate and quarantine; exit 0."""
    from catalog import quality, store

    with store.connect(store_path(store_option), read_only=True) as con:
        report = quality.check_store(con)
    typer.echo(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
        if as_json
        else report.render_text()
    )
