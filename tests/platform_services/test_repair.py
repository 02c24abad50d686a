"""When a penalty may be repaired (DOMAIN.md §4: 3 months general, 1 year serious)."""

from __future__ import annotations

import datetime as dt

import pytest

from platform_services.repair import PenaltyFacts, add_months, earliest_repair_date, ineligibility

D = dt.date


def penalty(severity: str, **changes: object) -> PenaltyFacts:
    """A penalty decided on 2025-11-30, published for its maximum period."""
    facts = {
        "severity": severity,
        "decision_date": D(2025, 11, 30),
        "publicity_end": D(2028, 11, 30),
        "repair_date": None,
    } | changes
    return PenaltyFacts(**facts)  # type: ignore[arg-type]


def test_months_are_added_to_the_calendar_clamping_the_month_end() -> None:
    assert add_months(D(2025, 11, 30), 3) == D(2026, 2, 28)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    assert add_months(D(2025, 1, 15), 14) == D(2026, 3, 15)


@pytest.mark.parametrize(
    ("severity", "earliest"),
    [("general", D(2026, 2, 28)), ("serious", D(2026, 11, 30)), ("minor", None)],
)
def test_the_minimum_publicity_period_sets_the_earliest_repair(
    severity: str, earliest: dt.date | None
) -> None:
    assert earliest_repair_date(penalty(severity)) == earliest


def test_a_repair_is_refused_before_and_allowed_from_the_earliest_day() -> None:
    facts = penalty("general")
    assert (
        ineligibility(facts, D(2026, 2, 27)) == "a general penalty may be repaired from 2026-02-28"
    )
    assert ineligibility(facts, D(2026, 2, 28)) is None


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (penalty("minor"), "not published"),
        (penalty("general", repair_date=D(2026, 3, 1)), "already repaired on 2026-03-01"),
        (penalty("general", publicity_end=D(2026, 4, 1)), "publicity ended on 2026-04-01"),
        (penalty("general", retracted=True), "retracted"),
    ],
)
def test_unpublished_repaired_expired_or_retracted_penalties_are_not_repairable(
    facts: PenaltyFacts, why: str
) -> None:
    reason = ineligibility(facts, D(2026, 6, 1))
    assert reason is not None
    assert why in reason
