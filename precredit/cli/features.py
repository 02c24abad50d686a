"""`precredit features ...`: the registry, point-in-time feature builds and the serving snapshot."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(help="Feature registry, point-in-time builds and the serving snapshot.",
                  no_args_is_help=True)  # fmt: skip

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Platform store (DuckDB file).")]
AsOf = Annotated[str, typer.Option("--as-of", help="Point-in-time date, YYYY-MM-DD.")]
Entities = Annotated[
    Path | None, typer.Option("--entities", help="File with one credit code per line.")
]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("--as-of must be a date in the form YYYY-MM-DD") from None


def _read_codes(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        raise InvalidInput(
            f"cannot read credit codes from {path.name} (UTF-8 text expected)"
        ) from None
    codes = [line.strip() for line in lines if line.strip()]
    if not codes:
        raise InvalidInput(f"{path.name} holds no credit code")
    return codes


@app.command("list")
def list_features(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the registry: name, category, legal basis, monotone direction, window, description."""
    from features.definitions import REGISTRY

    if as_json:
        typer.echo(
            json.dumps([f.to_dict() for f in REGISTRY.features], ensure_ascii=False, indent=2)
        )
        return
    for f in REGISTRY.features:
        window = f"{f.window_months}m" if f.window_months else "-"
        typer.echo(f"{f.name:28} {f.category:15} {f.monotone:+d} {window:>4}  {f.en} / {f.zh}")
    typer.echo(f"{len(REGISTRY.features)} features, fingerprint {REGISTRY.fingerprint()[:16]}")


class Engine(StrEnum):
    """Where the point-in-time query runs."""

    duckdb = "duckdb"
    spark = "spark"


EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="duckdb (default) or spark (local mode, needs --from).")
]
FromOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="Directory of <table>.parquet platform files (`platform export --format parquet`).",
    ),
]


def _build_frame(
    engine: Engine,
    day: dt.date,
    codes: list[str] | None,
    store_path: Path | None,
    source: Path | None,
) -> pd.DataFrame:
    """The features as of `day`, from the store or a Parquet directory, on the chosen engine."""
    import pandas as pd

    from catalog import store
    from features import snapshot
    from features.compute import compute
    from features.platform_files import duckdb_views, parquet_tables
    from precredit.settings import get_settings

    if engine is Engine.spark:
        if source is None:
            raise InvalidInput("--engine spark reads Parquet platform files: give --from DIR")
        parquet_tables(source)  # refuse a bad directory before starting Spark
        from features import spark

        with spark.running() as session:
            return spark.compute(session, source, day, codes)
    opened = (
        duckdb_views(source)
        if source
        else store.connect(store_path or get_settings().store, read_only=True)
    )
    with opened as con:
        chosen = codes if codes is not None else snapshot._codes(con, None)
        return compute(con, pd.DataFrame({"uscc": chosen, "as_of": day}))


@app.command()
def build(
    as_of: AsOf,
    out: Annotated[Path, typer.Option("--out", help="Output .parquet file.")],
    entities: Entities = None,
    store_path: StoreOpt = None,
    engine: EngineOpt = Engine.duckdb,
    source: FromOpt = None,
) -> None:
    """Compute features for every entity (or those listed) as of one date, to Parquet."""
    from features.definitions import REGISTRY

    if source is not None and store_path is not None:
        raise InvalidInput("give either --store or --from, not both")
    day = _date(as_of)
    codes = _read_codes(entities) if entities else None
    frame = _build_frame(engine, day, codes, store_path, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    typer.echo(
        f"wrote {len(frame)} rows x {len(REGISTRY.features)} features to {out} ({engine.value})"
    )


@app.command("snapshot")
def build_snapshot(as_of: AsOf, entities: Entities = None, store_path: StoreOpt = None) -> None:
    """Build the serving snapshot as of a date, or refresh it for the entities listed."""
    from catalog import store
    from features import snapshot
    from precredit.settings import get_settings

    day = _date(as_of)
    with store.connect(store_path or get_settings().store) as con:
        n = (
            snapshot.refresh(con, _read_codes(entities), day)
            if entities
            else snapshot.build(con, day)
        )
    typer.echo(f"snapshot as of {day}: {n} entities {'refreshed' if entities else 'written'}")


@app.command("docs")
def write_docs(out: Annotated[Path, typer.Option("--out")] = Path("docs/features.md")) -> None:
    """Regenerate the feature reference from the registry."""
    from features import docs

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(docs.render(), encoding="utf-8")
    typer.echo(f"wrote {out}")
