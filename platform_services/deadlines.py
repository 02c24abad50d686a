"""Working-day deadlines in China: public holidays and adjusted working days (调休).

The platform answers a dispute (异议) and first reviews a credit-repair application within
2 working days of receipt (work plan items 2 and 14). Working days come from the
`chinesecalendar` package (module `chinese_calendar`), which knows the State Council's
schedule year by year; a year it does not know yet is refused (`CalendarUnknown`), never
guessed from weekends: the schedule for a year is only published late in the year before.
"""

from __future__ import annotations

import datetime as dt

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
            f"schedule for {year}: update the package to set this deadline"
        )
        self.year = year


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date in China of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: deadlines are computed from aware times")
    return moment.astimezone(CHINA).date()


def is_working_day(day: dt.date) -> bool:
    """A working day in China (weekends and holidays off, adjusted weekend days on)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as error:
        raise CalendarUnknown(day.year) from error


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (the day of receipt itself never counts)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day, counted = start, 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += is_working_day(day)
    return day


def due_date(received_at: dt.datetime, days: int = ANSWER_WORKING_DAYS) -> dt.date:
    """The last day (China time) to answer something received at `received_at`."""
    return add_working_days(local_date(received_at), days)


def is_overdue(due: dt.date, now: dt.datetime) -> bool:
    """Past the end of the due day, China time."""
    return local_date(now) > due
