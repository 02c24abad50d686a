"""Operator-entered working-day years (append-only, versioned) and the calendar they complete.

The `chinesecalendar` package knows the State Council's schedule up to its release; for a
later year a platform operator enters the published notice (its public holidays and its
adjusted working days, 调休) once it is out. Each entry is a new version of the year; the
newest counts for deadlines, older ones stay (history). `calendar` is the read the disputes
code makes: one small count query per call, the days reloaded only when a version was added.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, InvalidInput, NotFound
from platform_services import deadlines
from serving.db.models import CalendarDay, CalendarYear, utcnow

MAX_SOURCE = 200
MAX_NAME = 40
KINDS = ("holiday", "workday")


class CalendarKnown(Conflict):
    """The package already has the year's schedule: it is the reference there."""

    code = "calendar_known"


@dataclass(frozen=True)
class Day:
    """A day of an entered year: `holiday` or `workday` (an adjusted weekend day), named."""

    day: dt.date
    kind: str
    name: str | None = None


@dataclass(frozen=True)
class EnteredYear:
    """One stored version of a year."""

    year: int
    version: int
    source: str
    recorded_by: str
    recorded_at: dt.datetime
    days: tuple[Day, ...]

    def schedule(self) -> deadlines.YearSchedule:
        """The year as the deadline functions take it."""
        return deadlines.YearSchedule(
            year=self.year,
            holidays=frozenset(d.day for d in self.days if d.kind == "holiday"),
            workdays=frozenset(d.day for d in self.days if d.kind == "workday"),
            version=self.version,
        )


def check(year: int, days: Iterable[Day], source: str) -> tuple[tuple[Day, ...], str]:
    """The days sorted and the source trimmed, or `InvalidInput`/`CalendarKnown` (no value echoed
    beyond the dates, which are the operator's own well-formed input)."""
    if not 1900 <= year <= 9999:
        raise InvalidInput("year must be between 1900 and 9999")
    if deadlines.package_knows(year):
        raise CalendarKnown(
            f"the chinesecalendar package ({deadlines.CALENDAR_VERSION}) already knows {year}: "
            "it is the reference for that year"
        )
    source = source.strip()
    if not source:
        raise InvalidInput(
            "source is required: the notice's reference (e.g. 国办发明电〔2026〕7号)"
        )
    if len(source) > MAX_SOURCE:
        raise InvalidInput(f"source is longer than {MAX_SOURCE} characters")
    seen: dict[dt.date, Day] = {}
    for entry in days:
        if entry.kind not in KINDS:
            raise InvalidInput("kind must be holiday or workday")
        if entry.day.year != year:
            raise InvalidInput(f"{entry.day.isoformat()} is not in {year}")
        if entry.name is not None and len(entry.name) > MAX_NAME:
            raise InvalidInput(f"a holiday name is longer than {MAX_NAME} characters")
        if entry.kind == "workday" and entry.day.weekday() < 5:
            raise InvalidInput(
                f"{entry.day.isoformat()} is a weekday: an adjusted working day (调休) "
                "is a Saturday or Sunday worked"
            )
        before = seen.get(entry.day)
        if before is not None and before.kind != entry.kind:
            raise InvalidInput(f"{entry.day.isoformat()} is given as both holiday and workday")
        if before is None or entry.name:
            seen[entry.day] = entry
    if not any(d.kind == "holiday" for d in seen.values()):
        raise InvalidInput("a year's schedule names at least one holiday")
    return tuple(sorted(seen.values(), key=lambda d: d.day)), source


def record_year(
    session: Session, year: int, days: Iterable[Day], source: str, recorded_by: str
) -> EnteredYear:
    """Check and store a new version of `year`. Caller commits."""
    checked, source = check(year, days, source)
    newest = session.scalar(select(func.max(CalendarYear.version)).where(CalendarYear.year == year))
    version = (newest or 0) + 1
    now = utcnow()
    session.execute(
        insert(CalendarYear).values(
            year=year, version=version, source=source, recorded_by=recorded_by, recorded_at=now
        )
    )
    session.execute(
        insert(CalendarDay),
        [
            {"year": year, "version": version, "day": d.day, "kind": d.kind, "name": d.name}
            for d in checked
        ],
    )
    return EnteredYear(year, version, source, recorded_by, now, checked)


def get_year(session: Session, year: int, version: int | None = None) -> EnteredYear:
    """A stored version of `year` (the newest by default), or `NotFound`."""
    query = select(CalendarYear).where(CalendarYear.year == year)
    if version is not None:
        query = query.where(CalendarYear.version == version)
    row = session.scalars(query.order_by(CalendarYear.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"no schedule entered for {year}")
    days = session.scalars(
        select(CalendarDay)
        .where(CalendarDay.year == row.year, CalendarDay.version == row.version)
        .order_by(CalendarDay.day)
    )
    return EnteredYear(
        row.year,
        row.version,
        row.source,
        row.recorded_by,
        row.recorded_at,
        tuple(Day(d.day, d.kind, d.name) for d in days),
    )


def entered_years(session: Session) -> dict[int, int]:
    """Every entered year and its newest version."""
    query = select(CalendarYear.year, func.max(CalendarYear.version)).group_by(CalendarYear.year)
    return {int(year): int(version) for year, version in session.execute(query)}


_cache_lock = threading.Lock()
_cache: dict[tuple[str, int, str], deadlines.Calendar] = {}
CACHE_SIZE = 16


def calendar(session: Session) -> deadlines.Calendar:
    """The package completed by the newest version of every entered year.

    Cached by the database and its (count, newest recorded_at) of versions: versions are only
    ever added, so a new one changes the key and the years are read again.
    """
    count, newest = session.execute(
        select(func.count(), func.max(CalendarYear.recorded_at)).select_from(CalendarYear)
    ).one()
    if not count:
        return deadlines.PACKAGE
    key = (str(session.get_bind().engine.url), int(count), str(newest))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    years = {
        year: get_year(session, year, version).schedule()
        for year, version in entered_years(session).items()
    }
    built = deadlines.Calendar(years)
    with _cache_lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[key] = built
    return built
