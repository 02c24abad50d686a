"""`precredit validate`: the validation pack of one model version on a bank's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from precredit.cli.monitor import _day as day_option


def validate(
    tenant: Annotated[str, typer.Option(help="Tenant id (a bank, or 'platform')")],
    out: Annotated[Path, typer.Option(help="Directory for validation.json and validation.html")],
    version: Annotated[
        str | None,
        typer.Option(help="Model version (default: the one serving the tenant now)"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Loans matured by this date, YYYY-MM-DD (default: today)"),
    ] = None,
) -> None:
    """Write validation.json and a self-contained validation.html; log both to the version's run.

    Reads the service database as it is (never migrates it), the registry and the store.
    """
    from precredit.settings import get_settings
    from serving.db.engine import make_engine, session_factory
    from serving.validation import build, files

    settings, day = get_settings(), day_option(as_of)
    if version is not None and not version.isdigit():
        from catalog.errors import InvalidInput

        raise InvalidInput("--version must be a positive whole number")
    sessions = session_factory(make_engine(settings.service_db))
    pack = build.build(settings, sessions, tenant, day, version)
    files.write(pack, out, settings)
    calibration = pack.calibration
    reds = sum(g.jeffreys_light == "red" for g in calibration.grades) if calibration else 0
    auc = pack.discrimination.overall.auc if pack.discrimination else None
    typer.echo(
        f"validate {tenant} {pack.model.name} v{pack.model.version} as of {day}: "
        f"{pack.scope.loans} loans, {pack.scope.defaults} defaults, AUC "
        f"{'n/a' if auc is None else f'{auc:.3f}'}, {reds} red grade(s); {out / 'validation.html'}"
    )
