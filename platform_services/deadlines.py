"""Working-day deadlines in China: public holidays and adjusted working days (调休).

The platform answers a dispute (异议) and first reviews a credit-repair application within
2 working days of receipt (work plan items 2 and 14). Working days come from the
`chinesecalendar` package (module `chinese_calendar`), which knows the State Council's
schedule year by year; a year it does not know yet is refused (`CalendarUnknown`), never
guessed from weekends: the schedule for a year is only published late in the year before.

Until a package release knows such a year, a platform operator enters the State Council's
notice for it (`precredit calendar set`): the serving side loads those years and passes them
in as a `Calendar`. For a year the package knows, the package decides; for another year, the
operator's schedule (weekends off, its holidays off, its adjusted working days on); with
neither, `CalendarUnknown`. This module reads no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import chinese_calendar

from catalog.errors import PrecreditError

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")  # Asia/Shanghai: no daylight saving since 1991
ANSWER_WORKING_DAYS = 2
CALENDAR_VERSION = getattr(chinese_calendar, "__version__", "unknown")


class CalendarUnknown(PrecreditError):
    """The working-day calendar has no schedule for a year the deadline reaches into."""

    http_status = 503
    code = "calendar_unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working-day calendar (chinesecalendar {CALENDAR_VERSION}) has no holiday "
            f"schedule for {year}: update the package or enter the year's schedule "
            f"(precredit calendar set) to set this deadline"
        )
        self.year = year


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date in China of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: deadlines are computed from aware times")
    return moment.astimezone(CHINA).date()


def package_knows(year: int) -> bool:
    """True when the `chinesecalendar` package has the State Council's schedule for `year`."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class YearSchedule:
    """An operator-entered year: its public holidays and its adjusted working days (调休)."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    version: int = 1

    def is_working_day(self, day: dt.date) -> bool:
        """Weekends and holidays off, adjusted working days on."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class Calendar:
    """The package's schedule, completed by operator-entered years the package does not know."""

    years: Mapping[int, YearSchedule] = field(default_factory=dict)

    def is_working_day(self, day: dt.date) -> bool:
        """A working day in China, or `CalendarUnknown` when neither source knows its year."""
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError as error:
            schedule = self.years.get(day.year)
            if schedule is None:
                raise CalendarUnknown(day.year) from error
            return schedule.is_working_day(day)


PACKAGE = Calendar()  # the package alone


def is_working_day(day: dt.date, calendar: Calendar = PACKAGE) -> bool:
    """A working day in China (weekends and holidays off, adjusted weekend days on)."""
    return calendar.is_working_day(day)


def add_working_days(start: dt.date, days: int, calendar: Calendar = PACKAGE) -> dt.date:
    """The `days`-th working day after `start` (the day of receipt itself never counts)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day, counted = start, 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += calendar.is_working_day(day)
    return day


def due_date(
    received_at: dt.datetime, days: int = ANSWER_WORKING_DAYS, calendar: Calendar = PACKAGE
) -> dt.date:
    """The last day (China time) to answer something received at `received_at`."""
    return add_working_days(local_date(received_at), days, calendar)


def is_overdue(due: dt.date, now: dt.datetime) -> bool:
    """Past the end of the due day, China time."""
    return local_date(now) > due
