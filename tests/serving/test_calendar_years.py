"""Operator-entered working-day years on real SQLite and PostgreSQL: versions, checks, triggers.

And `precredit calendar ...` from the shell (its own service database under a tmp home).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from catalog.errors import InvalidInput, NotFound
from platform_services import deadlines
from precredit.cli import app
from precredit.settings import get_settings
from serving.db import calendar
from serving.db.calendar import CalendarKnown, Day
from serving.db.models import CalendarDay, CalendarYear

NOTICE = "国办发明电〔2026〕7号"
NEW_YEAR = Day(dt.date(2027, 1, 1), "holiday", "元旦")
RECEIVED = dt.datetime(2026, 12, 31, 2, 0, tzinfo=dt.UTC)  # Thursday, 10:00 in China


def test_an_entered_year_sets_the_deadline_the_package_cannot(session: Session) -> None:
    assert calendar.calendar(session) is deadlines.PACKAGE
    with pytest.raises(deadlines.CalendarUnknown):
        deadlines.due_date(RECEIVED, calendar=calendar.calendar(session))
    calendar.record_year(session, 2027, [NEW_YEAR], NOTICE, "cli")
    session.commit()
    # Fri 01-01 off, the weekend off: Mon 01-04 is the 1st working day, Tue 01-05 the 2nd
    assert deadlines.due_date(RECEIVED, calendar=calendar.calendar(session)) == dt.date(2027, 1, 5)


def test_a_new_version_replaces_the_old_which_stays_stored(session: Session) -> None:
    calendar.record_year(session, 2027, [NEW_YEAR], NOTICE, "cli")
    session.commit()
    first = calendar.calendar(session)
    correction = [
        NEW_YEAR,
        Day(dt.date(2027, 1, 4), "holiday"),
        Day(dt.date(2027, 1, 9), "workday"),
    ]
    second = calendar.record_year(session, 2027, correction, "国办发明电〔2026〕8号", "key:k1")
    session.commit()
    assert second.version == 2
    now = calendar.calendar(session)
    assert deadlines.due_date(RECEIVED, calendar=first) == dt.date(2027, 1, 5)
    # Mon 01-04 off now; Tue 01-05 1st, Wed 01-06 2nd
    assert deadlines.due_date(RECEIVED, calendar=now) == dt.date(2027, 1, 6)
    assert deadlines.is_working_day(dt.date(2027, 1, 9), now)  # the adjusted Saturday
    assert calendar.get_year(session, 2027, 1).days == (NEW_YEAR,)
    assert calendar.get_year(session, 2027).recorded_by == "key:k1"
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 4


@pytest.mark.parametrize(
    ("days", "source", "message"),
    [
        ([NEW_YEAR, Day(dt.date(2028, 1, 3), "holiday")], NOTICE, "is not in 2027"),
        ([NEW_YEAR, Day(dt.date(2027, 1, 4), "workday")], NOTICE, "is a weekday"),
        (
            [NEW_YEAR, Day(dt.date(2027, 1, 2), "holiday"), Day(dt.date(2027, 1, 2), "workday")],
            NOTICE,
            "both holiday and workday",
        ),
        ([Day(dt.date(2027, 2, 6), "workday")], NOTICE, "at least one holiday"),
        ([NEW_YEAR], "  ", "source is required"),
        ([NEW_YEAR], "x" * 201, "longer than 200"),
        ([Day(dt.date(2027, 1, 1), "holiday", "节" * 41)], NOTICE, "name is longer"),
        ([Day(dt.date(2027, 1, 1), "festival")], NOTICE, "holiday or workday"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_stored(
    session: Session, days: list[Day], source: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        calendar.record_year(session, 2027, days, source, "cli")
    assert session.scalar(select(func.count()).select_from(CalendarYear)) == 0


def test_a_year_the_package_knows_is_refused(session: Session) -> None:
    with pytest.raises(CalendarKnown, match="already knows 2026") as refused:
        calendar.record_year(session, 2026, [Day(dt.date(2026, 1, 1), "holiday")], NOTICE, "cli")
    assert (refused.value.code, refused.value.http_status) == ("calendar_known", 409)
    with pytest.raises(NotFound):
        calendar.get_year(session, 2026)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE calendar_years SET source = 'x'", "DELETE FROM calendar_days"],
)
def test_entered_years_are_append_only(session: Session, statement: str) -> None:
    calendar.record_year(session, 2027, [NEW_YEAR], NOTICE, "cli")
    session.commit()
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert calendar.get_year(session, 2027).days == (NEW_YEAR,)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty home: the CLI creates its SQLite service database there."""
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_set_show_and_list_from_the_shell(home: Path) -> None:
    runner = CliRunner()
    entered = runner.invoke(
        app,
        ["calendar", "set", "2027", "--source", NOTICE, "--holiday", "2027-01-01:元旦",
         "--holiday", "2027-02-06..2027-02-12:春节", "--workday", "2027-02-14"],
    )  # fmt: skip
    assert entered.exit_code == 0, entered.output
    assert "2027 version 1: 8 holiday(s), 1 adjusted working day(s)" in entered.output
    shown = runner.invoke(app, ["calendar", "show", "2027"])
    assert shown.exit_code == 0, shown.output
    assert NOTICE in shown.output
    assert "recorded by cli" in shown.output
    assert "2027-02-10 Wed  holiday  春节" in shown.output
    assert "2027-02-14 Sun  workday" in shown.output
    listed = runner.invoke(app, ["calendar", "list"])
    assert "2004-2026" in listed.output
    assert "entered by the operator: 2027 (version 1)" in listed.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["2026", "--holiday", "2026-01-01"], "[calendar_known]"),
        (["2027", "--holiday", "2027-13-01"], "[invalid_input]: a day is YYYY-MM-DD"),
        (["2027", "--holiday", "2027-02-12..2027-02-06"], "[invalid_input]: a range runs"),
        (["2027", "--workday", "2027-01-04", "--holiday", "2027-01-01"], "is a weekday"),
    ],
)
def test_the_shell_refuses_with_one_line_and_a_non_zero_exit(
    home: Path, args: list[str], line: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "precredit.cli", "calendar", "set", *args, "--source", NOTICE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert line in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "version" not in done.stdout


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # roles and grants are PostgreSQL's
def test_the_api_role_may_only_read_and_insert_entered_years(session: Session) -> None:
    for table in ("calendar_years", "calendar_days"):
        granted = {
            privilege: session.scalar(
                text("SELECT has_table_privilege('precredit_api', :table, :privilege)"),
                {"table": table, "privilege": privilege},
            )
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        }
        assert granted == {
            "SELECT": True,
            "INSERT": True,
            "UPDATE": False,
            "DELETE": False,
            "TRUNCATE": False,
        }
