"""`precredit features ...`: the registry, point-in-time feature builds and the serving snapshot."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from catalog.errors import InvalidInput

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


@app.command()
def build(
    as_of: AsOf,
    out: Annotated[Path, typer.Option("--out", help="Output .parquet file.")],
    entities: Entities = None,
    store_path: StoreOpt = None,
) -> None:
    """Compute features for every entity (or those listed) as of one date, to Parquet."""
    import pandas as pd

    from catalog import store
    from features import snapshot
    from features.compute import compute
    from features.definitions import REGISTRY
    from precredit.settings import get_settings

    day = _date(as_of)
    with store.connect(store_path or get_settings().store, read_only=True) as con:
        codes = _read_codes(entities) if entities else snapshot._codes(con, None)
        frame = compute(con, pd.DataFrame({"uscc": codes, "as_of": day}))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    typer.echo(f"wrote {len(frame)} rows x {len(REGISTRY.features)} features to {out}")


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
