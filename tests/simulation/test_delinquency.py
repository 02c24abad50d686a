"""The simulation's DPD paths: a default passes 30+ DPD before 90+, cured loans never reach 90,
and every report passes the API's own outcome checks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from serving.outcome_checks import problems
from serving.schemas import OutcomeIn
from simulation.delinquency import episodes, history, observed_months
from simulation.ledger import interim_body, outcome_body

START = dt.date(2024, 1, 10)


def test_a_default_falls_behind_90_days_before_it_is_declared() -> None:
    loan = {"application_date": START, "default_flag": True, "default_date": dt.date(2024, 6, 20)}
    # behind since 2024-03-22: 19 days on Apr 10, 49 on May 10, 80 on Jun 10, 110 on Jul 10, 141 on Aug 10
    assert history(loan, 7) == [0, 0, 19, 49, 80, 110, 141]


def test_a_cured_episode_rises_one_month_then_is_paid() -> None:
    loan = {"application_date": START, "default_flag": False, "episode_month": 3,
            "episode_dpd": 20, "episode_months": 2}  # fmt: skip
    assert history(loan, 6) == [0, 0, 20, 50, 0, 0]
    assert history(loan, 3) == [0, 0, 20]  # as seen after 3 months


def test_months_on_book_count_once_the_day_of_month_is_reached() -> None:
    assert observed_months(START, dt.date(2024, 4, 9)) == 2
    assert observed_months(START, dt.date(2024, 4, 10)) == 3
    assert observed_months(START, dt.date(2026, 1, 1)) == 12


def ledger(n: int, seed: int) -> pd.DataFrame:
    """Seeded loans as the simulation's ledger holds them (defaults on days 90-364)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    true_pd = rng.uniform(0.0, 0.3, n)
    bad = rng.random(n) < true_pd
    default = start + pd.to_timedelta(rng.integers(90, 365, n), unit="D")
    loans = pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(n)],
            "uscc": "91440300MA5FXXXX1X",
            "application_date": start.date,
            "observation_date": (start + pd.DateOffset(months=12)).date,
            "amount_cny": 1e5,
            "explore": False,
            "default_flag": bad,
            "default_date": [d.date() if b else None for d, b in zip(default, bad, strict=True)],
            "true_pd": true_pd,
        }
    )
    return loans.join(episodes(loans, rng))


def test_every_report_passes_the_apis_checks_and_matches_its_default() -> None:
    loans = ledger(600, seed=7)
    today = dt.date(2026, 1, 1)
    for items in (outcome_body(loans), interim_body(loans, dt.date(2024, 9, 1))):
        for item in items:
            outcome = OutcomeIn.model_validate(item)
            assert problems(outcome, today) == []
    full = outcome_body(loans)
    bad = [i for i in full if i["default_flag"]]
    good = [i for i in full if not i["default_flag"]]
    assert bad
    assert all(max(i["dpd_history"]) >= 90 for i in bad)
    assert all(max(i["dpd_history"]) < 90 for i in good)
    assert any(max(i["dpd_history"]) >= 30 for i in good)  # some cure after 30+ DPD
    for item in bad:  # 30+ DPD is seen in an earlier month than 90+
        path = item["dpd_history"]
        assert next(k for k, d in enumerate(path) if d >= 30) < next(
            k for k, d in enumerate(path) if d >= 90
        )


def test_a_maturing_report_shows_only_the_months_on_book_by_the_day() -> None:
    loans = ledger(200, seed=3)
    day = dt.date(2024, 9, 1)
    for item, app in zip(interim_body(loans, day), loans["application_date"], strict=True):
        assert len(item["dpd_history"]) == observed_months(app, day)
        if not item["default_flag"]:
            assert max(item["dpd_history"], default=0) < 90
