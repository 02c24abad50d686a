"""`precredit monitor`: model and data monitoring of one tenant (docs/monitoring.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from catalog.errors import InvalidInput

if TYPE_CHECKING:
    from serving.monitor.result import MonitoringResult


def _day(text: str | None) -> dt.date:
    if text is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("--as-of must be a date in the form YYYY-MM-DD") from None


def summary(result: MonitoringResult, out: Path) -> str:
    """The one line the command prints."""
    counts, served = result.summary, result.serving
    model = "no model v-" if served is None else f"{served.name} v{served.version}"
    return (
        f"monitor {result.tenant} as of {result.as_of}: {counts.alert} alert(s), "
        f"{counts.warn} warning(s) on {model}; retraining drift "
        f"trigger {'fired' if result.retrain.drift else 'not fired'}; report {out / 'report.md'}"
    )


def monitor(
    tenant: Annotated[str, typer.Option(help="Tenant id (a bank, or 'platform')")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Report directory (default: $PRECREDIT_HOME/monitoring/<tenant>/<as-of>)"
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Monitoring date, YYYY-MM-DD (default: today, UTC)"),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option(help="Days of recent decisions (default: PRECREDIT_MONITOR_WINDOW_DAYS)"),
    ] = None,
    period: Annotated[
        Literal["week", "month"] | None, typer.Option(help="Decision mix by week or month")
    ] = None,
) -> None:
    """Write report.md, PNG plots and monitor.json; /metrics and retrain-due read the result.

    Reads the service database as it is (never migrates it), the registry and the store.
    """
    from precredit.settings import get_settings
    from serving.db.engine import make_engine, session_factory
    from serving.monitor import run as monitoring

    settings, day = get_settings(), _day(as_of)
    sessions = session_factory(make_engine(settings.service_db))
    overrides = {"monitor_window_days": window_days, "monitor_mix_period": period}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    result = monitoring.run(settings, sessions, tenant, day)
    directory = out or monitoring.results_dir(settings.home, tenant) / day.isoformat()
    monitoring.write(result, directory, settings.home)
    typer.echo(summary(result, directory))
