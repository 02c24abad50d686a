"""`precredit warnings ...`: early-warning rules over the platform's visible records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.errors import InvalidInput
from precredit.cli.evaluation import OutOption, out_dir
from precredit.cli.platform import StoreOption, store_path

if TYPE_CHECKING:
    from catalog import store
    from platform_services import warnings


app = typer.Typer(help="Risk monitoring and early warning (work plan item 6).",
                  no_args_is_help=True)  # fmt: skip

AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Point-in-time date, YYYY-MM-DD (default: the snapshot's)."),
]
RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Overrides of rule windows/thresholds (.yaml/.toml)."),
]


def _as_of(text: str | None, con: store.Connection) -> dt.date:
    from features import snapshot
    from platform_services.evaluation.table import exists

    if text is not None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidInput("--as-of must be a date in the form YYYY-MM-DD") from None
    if not exists(con, snapshot.TABLE):
        raise InvalidInput("no feature snapshot to take the date from; pass --as-of")
    return snapshot.snapshot_date(con)


def _rules(path: Path | None) -> tuple[warnings.WarningRule, ...]:
    from platform_services import warnings

    return warnings.load_rules(path) if path else warnings.DEFAULT_RULES


@app.command("run")
def run(
    as_of: AsOfOption = None,
    out: OutOption = None,
    rules_file: RulesOption = None,
    store_option: StoreOption = None,
) -> None:
    """Flag every entity the rules fire on; write `entity_warnings` and the exports."""
    from catalog import store
    from platform_services import warnings

    rules = _rules(rules_file)
    with store.connect(store_path(store_option)) as con:
        result = warnings.run_warnings(con, _as_of(as_of, con), rules)
        paths = warnings.export(con, result.as_of, out_dir(out))
        told = _notify(con, result.as_of)
    typer.echo(
        f"warnings as of {result.as_of}: {result.warnings:,} on {result.entities:,} "
        f"entities in {result.seconds:.2f} s"
    )
    for rule in rules:
        typer.echo(f"  {rule.code:28} {result.by_rule[rule.code]:>7,}  {rule.zh}")
    for path in paths:
        typer.echo(f"exported {path}")
    for bank, events in told.items():
        typer.echo(f"  {bank}: {events} new warning(s) on watched entities queued for its webhooks")


def _notify(con: store.Connection, as_of: dt.date) -> dict[str, int]:
    """Queue new warnings on banks' watched entities (none without a service database yet)."""
    from precredit.settings import get_settings
    from serving import watch
    from serving.db.engine import make_engine, session_factory
    from serving.db.migrate import upgrade

    settings = get_settings()
    if settings.database_url is None and not (settings.home / "service.db").exists():
        return {}
    upgrade(settings.service_db)
    return watch.notify(session_factory(make_engine(settings.service_db)), con, as_of)


@app.command("rules")
def list_rules(rules_file: RulesOption = None) -> None:
    """Print the rules in force: kind, sources, window, threshold, severity."""
    for rule in _rules(rules_file):
        typer.echo(
            f"{rule.code:28} {rule.kind:12} {rule.window_months:>3}m >= {rule.threshold:<3} "
            f"{rule.severity:6} {','.join(rule.sources)}  {rule.en} / {rule.zh}"
        )
