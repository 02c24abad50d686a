"""Outcome upserts and idempotency claims on real SQLite and PostgreSQL, alone and racing."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import InvalidInput, NotFound
from serving.db import repo
from serving.db.models import IdempotencyKey, Outcome
from serving.db.outcomes import add_months, latest_start

T = TypeVar("T")
THREADS = 8


def outcome(loan_id: str = "L1", **overrides: object) -> repo.OutcomeFields:
    """A loan report as a bank would send it."""
    fields: repo.OutcomeFields = {
        "loan_id": loan_id,
        "uscc": "91440300MA5FXXXX1X",
        "application_date": dt.date(2024, 1, 15),
        "granted_amount_cny": 300_000.0,
        "drawn_amount_cny": 250_000.0,
        "default_flag": False,
        "observation_date": dt.date(2024, 6, 30),
    }
    return fields | overrides  # type: ignore[return-value]


def race(sessions: sessionmaker[Session], work: Callable[[Session, int], T]) -> list[T]:
    """Run `work(session, i)` in THREADS threads released together, each committing its session."""
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> T:
        with sessions() as session:
            barrier.wait()
            result = work(session, i)
            session.commit()
            return result

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


@pytest.fixture
def banks(session: Session) -> tuple[str, str]:
    """Two bank tenants, committed."""
    repo.create_tenant(session, "bank_a", "Bank A")
    repo.create_tenant(session, "bank_b", "Bank B")
    session.commit()
    return "bank_a", "bank_b"


def stored(session: Session, tenant_id: str, loan_id: str = "L1") -> Outcome:
    session.expire_all()
    return session.scalars(
        select(Outcome).where(Outcome.tenant_id == tenant_id, Outcome.loan_id == loan_id)
    ).one()


# --- outcomes -------------------------------------------------------------------------------


def test_only_a_strictly_newer_observation_updates(
    session: Session, banks: tuple[str, str]
) -> None:
    assert repo.upsert_outcome(session, "bank_a", outcome()) == "created"
    assert repo.upsert_outcome(session, "bank_a", outcome()) == "unchanged"
    same_day = outcome(drawn_amount_cny=1.0)
    assert repo.upsert_outcome(session, "bank_a", same_day) == "unchanged"
    older = outcome(observation_date=dt.date(2024, 5, 31), default_flag=True)
    assert repo.upsert_outcome(session, "bank_a", older) == "unchanged"
    assert stored(session, "bank_a").drawn_amount_cny == 250_000.0
    newer = outcome(
        observation_date=dt.date(2024, 9, 30),
        default_flag=True,
        default_date=dt.date(2024, 8, 1),
        max_dpd=95,
        dpd_history_json="[0, 30, 60, 95]",
    )
    assert repo.upsert_outcome(session, "bank_a", newer) == "updated"
    session.commit()
    row = stored(session, "bank_a")
    assert (row.default_flag, row.default_date, row.max_dpd) == (True, dt.date(2024, 8, 1), 95)
    assert row.observation_date == dt.date(2024, 9, 30)
    assert row.updated_at > row.created_at
    assert session.scalar(select(func.count()).select_from(Outcome)) == 1


def test_the_same_loan_id_of_two_tenants_is_two_loans(
    session: Session, banks: tuple[str, str]
) -> None:
    assert repo.upsert_outcome(session, "bank_a", outcome()) == "created"
    assert repo.upsert_outcome(session, "bank_b", outcome(granted_amount_cny=9.0)) == "created"
    session.commit()
    assert stored(session, "bank_a").granted_amount_cny == 300_000.0


def test_impossible_reports_are_refused(session: Session, banks: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput, match="before application_date"):
        repo.upsert_outcome(session, "bank_a", outcome(observation_date=dt.date(2023, 1, 1)))
    with pytest.raises(InvalidInput, match="not in default"):
        repo.upsert_outcome(session, "bank_a", outcome(default_date=dt.date(2024, 3, 1)))
    with pytest.raises(InvalidInput, match="unknown outcome fields: tenant_id"):
        repo.upsert_outcome(session, "bank_a", outcome(tenant_id="bank_b"))


def test_concurrent_reports_of_one_loan_make_one_row_with_the_newest(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    def report(session: Session, i: int) -> str:
        observed = dt.date(2024, 6, 1) + dt.timedelta(days=i)
        return repo.upsert_outcome(session, "bank_a", outcome(observation_date=observed))

    results = Counter(race(sessions, report))
    assert results["created"] == 1
    assert sum(results.values()) == THREADS
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Outcome)) == 1
        assert stored(session, "bank_a").observation_date == dt.date(2024, 6, 1 + THREADS - 1)


def test_identical_concurrent_reports_create_once(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    results = race(sessions, lambda session, _: repo.upsert_outcome(session, "bank_a", outcome()))
    assert Counter(results) == {"created": 1, "unchanged": THREADS - 1}


def test_matured_outcomes_need_a_whole_observed_window(
    session: Session, banks: tuple[str, str]
) -> None:
    as_of = dt.date(2025, 2, 28)
    reports = {
        "mature": outcome(application_date=dt.date(2024, 1, 10), observation_date=as_of),
        "leap_day": outcome(application_date=dt.date(2024, 2, 29), observation_date=as_of),
        "young": outcome(application_date=dt.date(2024, 3, 1), observation_date=as_of),
        "stale_good": outcome(
            application_date=dt.date(2023, 6, 1), observation_date=dt.date(2024, 1, 1)
        ),
        "stale_bad": outcome(
            application_date=dt.date(2023, 6, 1),
            observation_date=dt.date(2023, 9, 1),
            default_flag=True,
            default_date=dt.date(2023, 8, 20),
        ),
    }
    for loan_id, fields in reports.items():
        repo.upsert_outcome(session, "bank_a", fields | {"loan_id": loan_id})
    repo.upsert_outcome(session, "bank_b", outcome("other", application_date=dt.date(2023, 1, 1)))
    session.commit()
    matured = repo.matured_outcomes(session, "bank_a", as_of)
    assert [row.loan_id for row in matured] == ["stale_bad", "mature", "leap_day"]
    six_months = repo.matured_outcomes(session, "bank_a", as_of, horizon_months=6)
    assert [row.loan_id for row in six_months] == [
        "stale_bad",
        "stale_good",
        "mature",
        "leap_day",
        "young",
    ]


@pytest.mark.parametrize(
    ("as_of", "months", "latest"),
    [
        (dt.date(2025, 2, 28), 12, dt.date(2024, 2, 29)),  # month end: the whole month qualifies
        (dt.date(2024, 2, 29), 12, dt.date(2023, 2, 28)),
        (dt.date(2025, 3, 15), 12, dt.date(2024, 3, 15)),
        (dt.date(2025, 3, 30), 1, dt.date(2025, 2, 28)),
        (dt.date(2025, 1, 31), 2, dt.date(2024, 11, 30)),
    ],
)
def test_latest_start_inverts_add_months(as_of: dt.date, months: int, latest: dt.date) -> None:
    assert latest_start(as_of, months) == latest
    assert add_months(latest, months) <= as_of < add_months(latest + dt.timedelta(days=1), months)


# --- idempotency ----------------------------------------------------------------------------


def test_claims_go_new_in_progress_replay_and_conflict(
    session: Session, banks: tuple[str, str]
) -> None:
    claim = repo.claim_idempotency
    assert claim(session, "bank_a", "k-1", "/v1/preapprovals", "h1").status == "new"
    session.commit()
    assert claim(session, "bank_a", "k-1", "/v1/preapprovals", "h1").status == "in_progress"
    repo.complete_idempotency(session, "bank_a", "k-1", 200, '{"limit_cny": 1}')
    session.commit()
    assert claim(session, "bank_a", "k-1", "/v1/preapprovals", "h1") == repo.Claim(
        "replay", 200, '{"limit_cny": 1}'
    )
    assert claim(session, "bank_a", "k-1", "/v1/preapprovals", "h2").status == "conflict"
    assert claim(session, "bank_a", "k-1", "/v1/outcomes", "h1").status == "conflict"
    with pytest.raises(NotFound):
        repo.complete_idempotency(session, "bank_a", "k-1", 200, "{}")  # already completed
    with pytest.raises(NotFound):
        repo.complete_idempotency(session, "bank_a", "never-claimed", 200, "{}")
    for bad in ["", "k" * 201, "line\nbreak"]:
        with pytest.raises(InvalidInput, match="idempotency key"):
            claim(session, "bank_a", bad, "/v1/preapprovals", "h1")


def test_a_released_claim_can_be_claimed_again(session: Session, banks: tuple[str, str]) -> None:
    assert repo.claim_idempotency(session, "bank_a", "k", "/v1/x", "h").status == "new"
    session.commit()
    repo.release_idempotency(session, "bank_a", "k")
    session.commit()
    assert repo.claim_idempotency(session, "bank_a", "k", "/v1/x", "h").status == "new"
    repo.complete_idempotency(session, "bank_a", "k", 201, "{}")
    repo.release_idempotency(session, "bank_a", "k")  # completed: kept
    session.commit()
    assert repo.claim_idempotency(session, "bank_a", "k", "/v1/x", "h").status == "replay"


def test_keys_are_scoped_per_tenant(session: Session, banks: tuple[str, str]) -> None:
    for tenant in banks:
        assert repo.claim_idempotency(session, tenant, "same", "/v1/x", tenant).status == "new"
    session.commit()
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 2


def test_concurrent_claims_of_one_key_give_exactly_one_new(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    results = race(
        sessions, lambda session, _: repo.claim_idempotency(session, "bank_a", "k", "/v1/x", "h")
    )
    assert Counter(c.status for c in results) == {"new": 1, "in_progress": THREADS - 1}
