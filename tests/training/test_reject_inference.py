"""Reject inference and the gate's sample on hand-made cases, the label proxy on a real store.

The proxy is read from a real DuckDB store holding a few hand-written court-debtor listings,
so its point-in-time rule (after the decision, within 12 months, ingested by the retraining
date) is checked against dates chosen on purpose.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog import store
from catalog.errors import InvalidInput
from models.pd_model import WEIGHT_COLUMN
from training import gate_sample
from training import reject_inference as ri

DECIDED = dt.date(2024, 3, 1)
KNOWN_BY = dt.date(2025, 6, 1)


def listing(con: store.Connection, code: str, published: dt.date, ingested: dt.date) -> None:
    """A court-debtor listing of `code` published and ingested on the given days."""
    con.execute(
        "INSERT INTO court_debtors (record_id, version, retracted, uscc, court, case_no, "
        "filing_date, publish_date, obligation_cny, performance, removed_date, ingest_date) "
        "VALUES (?, 1, false, ?, '汕尾市城区人民法院', '(2024)粤1502执1号', ?, ?, 1000, 'none', "
        "NULL, ?)",
        [f"{code}-{published}", code, published, published, ingested],
    )


@pytest.fixture
def proxy_store(tmp_path: Path) -> Path:
    """Codes A-E, each with one listing placed around a decision on DECIDED."""
    path = tmp_path / "proxy.duckdb"
    store.create(path)
    with store.connect(path) as con:
        listing(con, "A", dt.date(2024, 2, 1), dt.date(2024, 2, 2))  # before the decision
        listing(con, "B", dt.date(2024, 9, 1), dt.date(2024, 9, 2))  # inside the window
        listing(con, "C", dt.date(2025, 3, 2), dt.date(2025, 3, 3))  # after the 12 months
        listing(con, "D", dt.date(2024, 9, 1), dt.date(2025, 7, 1))  # ingested too late
        listing(con, "E", DECIDED, DECIDED)  # on the decision day itself: already known
    return path


def test_the_proxy_counts_only_events_after_the_decision_within_the_window(
    proxy_store: Path,
) -> None:
    rows = pd.DataFrame({"uscc": list("ABCDEF"), "as_of": pd.Timestamp(DECIDED)})
    with store.connect(proxy_store, read_only=True) as con:
        labels = ri.proxy_labels(con, rows, KNOWN_BY)
        assert labels.tolist() == [0, 1, 0, 0, 0, 0]
        later = ri.proxy_labels(con, rows, dt.date(2025, 12, 31))
        assert later.tolist() == [0, 1, 0, 1, 0, 0]  # D once ingested


def test_the_proxy_refuses_a_window_that_has_not_closed(proxy_store: Path) -> None:
    rows = pd.DataFrame({"uscc": ["B"], "as_of": pd.Timestamp(dt.date(2024, 7, 1))})
    with store.connect(proxy_store, read_only=True) as con, pytest.raises(InvalidInput):
        ri.proxy_labels(con, rows, KNOWN_BY)


def accepted_loans() -> pd.DataFrame:
    """200 loans: the serving PD says nothing, the proxy does (50% vs 5% default)."""
    proxy = np.repeat([1, 0], [40, 160])
    label = np.concatenate([np.repeat([1, 0], [20, 20]), np.repeat([1, 0], [8, 152])])
    return pd.DataFrame({"pd_serving": 0.1, "proxy": proxy, "label": label})


REJECTS = pd.DataFrame({"pd_serving": [0.1, 0.1], "proxy": [1, 0]})


def test_the_platform_method_learns_the_proxy_link_and_fuzzy_ignores_it() -> None:
    platform = ri.soft_labels("platform", accepted_loans(), REJECTS)
    assert platform == pytest.approx([0.5, 0.05], abs=0.005)
    fuzzy = ri.soft_labels("fuzzy", accepted_loans(), REJECTS)
    assert fuzzy == pytest.approx([28 / 200, 28 / 200], abs=0.005)
    with pytest.raises(InvalidInput):
        ri.soft_labels("none", accepted_loans(), REJECTS)
    with pytest.raises(InvalidInput):
        ri.soft_labels("fuzzy", accepted_loans().assign(label=0), REJECTS)


def test_fuzzy_augmentation_splits_each_reject_into_weighted_default_and_good() -> None:
    rejects = pd.DataFrame({"uscc": ["A", "B"], "x": [1.0, 2.0]})
    rows = ri.augment(rejects, np.array([0.2, 0.7]), weight=0.5)
    assert rows["uscc"].tolist() == ["A", "B", "A", "B"]
    assert rows["label"].tolist() == [1, 1, 0, 0]
    assert rows[WEIGHT_COLUMN].tolist() == pytest.approx([0.1, 0.35, 0.4, 0.15])
    assert rows.groupby("uscc")[WEIGHT_COLUMN].sum().tolist() == pytest.approx([0.5, 0.5])


def test_proxy_rates_are_the_jeffreys_default_rate_at_each_proxy_value() -> None:
    accepted = pd.DataFrame({"proxy": [1, 1, 1, 0, 0, 0, 0], "label": [1, 0, 0, 0, 0, 0, 0]})
    rates = ri.proxy_rates(accepted, pd.DataFrame({"proxy": [1, 0, 1]}))
    assert rates == pytest.approx([1.5 / 4, 0.5 / 5, 1.5 / 4])


def test_a_decline_followed_by_a_loan_is_not_inferred() -> None:
    declines = pd.DataFrame({"uscc": ["A", "B", "C"], "as_of": pd.to_datetime(["2024-01-01"] * 3)})
    loans = pd.DataFrame(
        {
            "uscc": ["A", "B"],
            "application_date": [dt.date(2024, 2, 10), dt.date(2023, 12, 1)],  # B: before
        }
    )
    assert ri.without_loans(declines, loans)["uscc"].tolist() == ["B", "C"]


def loans(n_plain: int, n_explore: int, explore_defaults: int) -> pd.DataFrame:
    """Out-of-time loans: plain ones (every tenth a default) and test loans to declines."""
    plain = pd.DataFrame({"label": (np.arange(n_plain) % 10 == 0).astype(int), "explore": False})
    tests = pd.DataFrame(
        {"label": (np.arange(n_explore) < explore_defaults).astype(int), "explore": True}
    )
    return pd.concat([plain, tests], ignore_index=True)


def test_the_gate_prefers_test_loans_reweighted_to_all_declines() -> None:
    test = loans(100, 50, 30)
    chosen = gate_sample.choose(gate_sample.SampleInput(test, None, 200, 30))
    assert chosen.name == "explore"
    assert len(chosen.rows) == 100 + 50 * 4  # each test loan stands for 4 declines
    assert int(chosen.rows["label"].sum()) == 10 + 30 * 4


def test_the_gate_falls_back_to_inferred_rejects_then_to_own_loans() -> None:
    test = loans(100, 50, 29)  # one default short of the minimum
    rejects = pd.DataFrame({"label": [1, 0, 0]})
    inferred = gate_sample.choose(gate_sample.SampleInput(test, rejects, 200, 30))
    assert inferred.name == "reject_inferred"
    assert len(inferred.rows) == 153
    # sampled from 3 x 2.6 declines without a loan: each inferred decline stands for 3
    stood = gate_sample.choose(gate_sample.SampleInput(test, rejects, 200, 30, 2.6))
    assert len(stood.rows) == 150 + 3 * 3
    assert int(stood.rows["label"].sum()) == 10 + 29 + 3
    alone = gate_sample.choose(gate_sample.SampleInput(test, None, 200, 30))
    assert (alone.name, len(alone.rows)) == ("own_loans", 150)
