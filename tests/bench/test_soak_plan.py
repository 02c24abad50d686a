"""The soak bench's pure parts: a seeded mix, open-loop send times, per-minute figures."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import soak_plan

from serving import outcome_checks
from serving.schemas import (
    FinancingRequestIn,
    OutcomeIn,
    PreapprovalBatchIn,
    PreapprovalIn,
    WatchIn,
)

CODES = [f"91110108MA01A{i:03d}XX" for i in range(50)]
TODAY = dt.date(2026, 12, 4)
SCHEMAS = {
    "preapproval": PreapprovalIn,
    "batch": PreapprovalBatchIn,
    "outcome": OutcomeIn,
    "watch": WatchIn,
    "financing": FinancingRequestIn,
}


def _take(seed: int, n: int) -> list[soak_plan.Planned]:
    return list(itertools.islice(soak_plan.plan(CODES, seed, TODAY), n))


def test_the_same_seed_plans_the_same_requests_and_another_seed_others() -> None:
    assert _take(7, 500) == _take(7, 500)
    assert _take(7, 500) != _take(8, 500)


def test_the_mix_follows_the_issue_shares() -> None:
    planned = _take(7, 20_000)
    for kind, share in soak_plan.MIX.items():
        seen = sum(p.kind == kind for p in planned) / len(planned)
        assert seen == pytest.approx(share, abs=0.01), kind


def test_every_body_is_valid_for_its_route_and_outcomes_are_possible() -> None:
    planned = _take(7, 2_000)
    for p in planned:
        SCHEMAS[p.kind].model_validate_json(json.dumps(p.body))
    outcomes = [OutcomeIn.model_validate(p.body) for p in planned if p.kind == "outcome"]
    assert outcomes
    assert all(outcome_checks.problems(o, TODAY) == [] for o in outcomes)


def test_outcome_loan_ids_and_idempotency_keys_are_unique() -> None:
    outcomes = [p for p in _take(7, 5_000) if p.kind == "outcome"]
    loans = [p.body["loan_id"] for p in outcomes]
    assert len(set(loans)) == len(loans)
    assert [p.idempotency_key for p in outcomes] == loans


def test_send_times_are_evenly_spaced_and_stop_at_the_duration() -> None:
    times = list(soak_plan.send_times(50.0, 2.0))
    assert len(times) == 100
    assert times[0] == 0.0
    assert times[-1] < 2.0
    assert all(b - a == pytest.approx(0.02) for a, b in itertools.pairwise(times))


def test_a_minute_counts_answers_by_class_and_reports_percentiles() -> None:
    minute = soak_plan.Minute(sent=5)
    minute.record("preapproval", 200, 0.010, 0.0)
    minute.record("financing", 201, 0.020, 0.001)
    minute.record("outcome", 422, 0.030, 0.0)
    minute.record("batch", 503, 0.040, 0.0)
    minute.record("watch", None, 0.050, 0.0)
    row = minute.figures(3, 60.0, {101: 204_800, 102: 102_400})
    assert (row["minute"], row["sent"], row["answered"]) == (3, 5, 5)
    assert (row["ok"], row["4xx"], row["5xx"], row["transport_errors"]) == (2, 1, 1, 1)
    assert row["statuses"] == {"200": 1, "201": 1, "422": 1, "503": 1, "transport_error": 1}
    assert row["ok_by_kind"] == {"financing": 1, "preapproval": 1}
    assert row["p50_ms"] == 30.0
    assert row["max_ms"] == 50.0
    assert row["rss_mb"] == 300.0
    assert row["rss_mb_per_process"] == {"101": 200.0, "102": 100.0}


def test_memory_growth_compares_the_last_minute_with_the_first() -> None:
    rows: list[dict[str, object]] = [{"rss_mb": 1000.0}, {"rss_mb": 1200.0}, {"rss_mb": 1050.0}]
    assert soak_plan.memory_growth_pct(rows) == 5.0
    assert soak_plan.memory_growth_pct(rows[:1]) is None
