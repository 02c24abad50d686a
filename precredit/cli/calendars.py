"""`precredit calendar ...`: the working-day schedule of a year the package does not know yet.

Disputes and repair applications are due 2 Chinese working days after receipt. The
`chinesecalendar` package knows the State Council's schedule up to its release; once the
notice for a later year is published, the platform operator enters it here (its public
holidays and its adjusted working days, 调休). Each `set` stores a new version (the newest
counts, older ones stay); then `precredit disputes reconcile` sets the waiting deadlines.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from serving.db.calendar import Day

calendar_app = typer.Typer(
    help="Working-day years (public holidays, 调休 days) the calendar package does not know yet.",
    no_args_is_help=True,
)
MAX_RANGE_DAYS = 31


def _date(text: str) -> dt.date:
    from catalog.errors import InvalidInput

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("a day is YYYY-MM-DD, a range YYYY-MM-DD..YYYY-MM-DD") from None


def _days(values: list[str], kind: str) -> list[Day]:
    """`2027-01-01`, `2027-02-06..2027-02-12` or either with `:NAME` (e.g. `:春节`)."""
    from catalog.errors import InvalidInput
    from serving.db.calendar import Day

    days = []
    for value in values:
        spec, _, name = value.partition(":")
        first, dots, last = spec.partition("..")
        start = _date(first)
        end = _date(last) if dots else start
        if end < start or (end - start).days >= MAX_RANGE_DAYS:
            raise InvalidInput(f"a range runs forward and spans at most {MAX_RANGE_DAYS} days")
        days += [
            Day(start + dt.timedelta(days=n), kind, name.strip() or None)
            for n in range((end - start).days + 1)
        ]
    return days


@calendar_app.command("set")
def set_year(
    year: Annotated[int, typer.Argument(help="The year, e.g. 2027")],
    source: Annotated[
        str,
        typer.Option(help="The notice's reference, e.g. 国办发明电〔2026〕7号", show_default=False),
    ],
    holiday: Annotated[
        list[str] | None,
        typer.Option(help="A public holiday day or range (repeat): 2027-02-06..2027-02-12:春节"),
    ] = None,
    workday: Annotated[
        list[str] | None,
        typer.Option(help="An adjusted working day (调休), a Saturday or Sunday (repeat)"),
    ] = None,
) -> None:
    """Enter (a new version of) the State Council's schedule for YEAR."""
    from precredit.cli.retrain import _sessions
    from serving.db import calendar

    days = _days(holiday or [], "holiday") + _days(workday or [], "workday")
    with _sessions().begin() as session:
        entered = calendar.record_year(session, year, days, source, "cli")
    holidays = sum(d.kind == "holiday" for d in entered.days)
    typer.echo(
        f"{entered.year} version {entered.version}: {holidays} holiday(s), "
        f"{len(entered.days) - holidays} adjusted working day(s); source {entered.source}"
    )
    typer.echo("run `precredit disputes reconcile` to set the deadlines waiting for this year")


@calendar_app.command("show")
def show(
    year: Annotated[int, typer.Argument(help="The year")],
    version: Annotated[int | None, typer.Option(help="A stored version (default: newest)")] = None,
) -> None:
    """An entered year: its days, version, source, who entered it and when."""
    from precredit.cli.retrain import _sessions
    from serving.db import calendar

    with _sessions()() as session:
        entered = calendar.get_year(session, year, version)
        newest = calendar.entered_years(session)[year]
    state = "in force" if entered.version == newest else f"superseded by version {newest}"
    typer.echo(f"{entered.year} version {entered.version} ({state})")
    typer.echo(f"  source: {entered.source}")
    typer.echo(f"  recorded by {entered.recorded_by} at {entered.recorded_at.isoformat()}")
    for day in entered.days:
        name = f"  {day.name}" if day.name else ""
        typer.echo(f"  {day.day.isoformat()} {day.day.strftime('%a')}  {day.kind}{name}")


@calendar_app.command("list")
def list_years() -> None:
    """Years the package knows and years entered by the operator."""
    from platform_services import deadlines
    from precredit.cli.retrain import _sessions
    from serving.db import calendar

    known = [y for y in range(2000, 2101) if deadlines.package_knows(y)]
    typer.echo(
        f"chinesecalendar {deadlines.CALENDAR_VERSION}: {known[0]}-{known[-1]}"
        if known
        else "chinesecalendar: no year"
    )
    with _sessions()() as session:
        entered = calendar.entered_years(session)
    if not entered:
        typer.echo("entered by the operator: none")
    for year, version in sorted(entered.items()):
        typer.echo(f"entered by the operator: {year} (version {version})")
