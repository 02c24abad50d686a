"""Working-day deadlines on the real `chinesecalendar` schedule (2026 holidays and 调休 days)."""

from __future__ import annotations

import datetime as dt

import pytest

from platform_services.deadlines import (
    CHINA,
    Calendar,
    CalendarUnknown,
    YearSchedule,
    add_working_days,
    due_date,
    is_overdue,
    is_working_day,
    package_knows,
)


def china(day: str, hour: int = 10) -> dt.datetime:
    """A moment on `day` at `hour` o'clock China time, as an aware UTC datetime."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CHINA).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-11-30", "2026-12-02"),  # Monday: an ordinary week
        ("2026-11-27", "2026-12-01"),  # Friday: the weekend does not count
        ("2026-09-29", "2026-10-08"),  # National Day week (10-01..10-07) moves it a week on
        ("2026-09-24", "2026-09-29"),  # Mid-Autumn Festival (Friday 09-25), then the weekend
        ("2026-09-19", "2026-09-21"),  # Sunday 09-20 is an adjusted working day (调休)
        ("2026-02-13", "2026-02-24"),  # Saturday 02-14 works, then Spring Festival 02-15..02-23
    ],
)
def test_a_case_is_due_two_working_days_after_receipt(received: str, due: str) -> None:
    assert due_date(china(received)) == dt.date.fromisoformat(due)


def test_the_holiday_is_what_moves_the_deadline() -> None:
    weekdays_only = dt.date(2026, 10, 1)  # two weekdays after Tuesday 09-29
    assert not is_working_day(weekdays_only)
    assert due_date(china("2026-09-29")) - weekdays_only == dt.timedelta(days=7)


def test_receipt_counts_on_the_china_date_not_the_utc_date() -> None:
    late_utc = dt.datetime(2026, 9, 29, 17, 0, tzinfo=dt.UTC)  # 01:00 on 09-30 in China
    assert due_date(late_utc) == dt.date(2026, 10, 9)
    assert due_date(dt.datetime(2026, 9, 29, 15, 59, tzinfo=dt.UTC)) == dt.date(2026, 10, 8)


def test_a_year_the_calendar_does_not_know_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarUnknown, match="2027") as raised:
        due_date(china("2026-12-30"))  # the second working day would fall in 2027
    assert (raised.value.code, raised.value.http_status, raised.value.year) == (
        "calendar_unknown",
        503,
        2027,
    )
    assert add_working_days(dt.date(2026, 12, 28), 2) == dt.date(2026, 12, 30)


def test_overdue_starts_the_day_after_the_due_day_in_china() -> None:
    due = dt.date(2026, 10, 8)
    assert not is_overdue(due, china("2026-10-08", 23))
    assert is_overdue(due, china("2026-10-09", 0))


def test_naive_times_and_zero_days_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        due_date(dt.datetime(2026, 9, 29, 10))
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(dt.date(2026, 9, 29), 0)


SCHEDULE_2027 = YearSchedule(
    year=2027,
    holidays=frozenset({dt.date(2027, 1, 1), dt.date(2027, 2, 8), dt.date(2027, 2, 9)}),
    workdays=frozenset({dt.date(2027, 2, 6)}),  # Saturday worked (调休)
)


def test_an_entered_year_completes_the_package() -> None:
    with_2027 = Calendar({2027: SCHEDULE_2027})
    # Thursday 12-31: Friday 01-01 off, the weekend, Mon 01-04 the 1st day, Tue 01-05 the 2nd
    assert due_date(china("2026-12-31"), calendar=with_2027) == dt.date(2027, 1, 5)
    assert due_date(china("2026-12-30"), calendar=with_2027) == dt.date(2027, 1, 4)
    with pytest.raises(CalendarUnknown):
        due_date(china("2026-12-31"))  # the package alone still refuses


def test_an_adjusted_saturday_counts_and_the_holidays_do_not() -> None:
    with_2027 = Calendar({2027: SCHEDULE_2027})
    assert is_working_day(dt.date(2027, 2, 6), with_2027)  # Saturday worked
    assert not is_working_day(dt.date(2027, 2, 7), with_2027)  # Sunday
    # Friday 02-05: Saturday 02-06 works, Sunday off, Mon-Tue holidays, Wednesday 02-10
    assert add_working_days(dt.date(2027, 2, 5), 2, with_2027) == dt.date(2027, 2, 10)


def test_the_package_decides_the_years_it_knows() -> None:
    claims_2026 = YearSchedule(2026, frozenset({dt.date(2026, 11, 30)}), frozenset())
    assert is_working_day(dt.date(2026, 11, 30), Calendar({2026: claims_2026}))
    assert package_knows(2026)
    assert not package_knows(2027)
