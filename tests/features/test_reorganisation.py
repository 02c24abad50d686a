"""Court-approved reorganisation plans: what the generator emits, what the features and gates see.

A plan (企业破产法 arts. 86-87) counts while in execution; a court debtor whose every case in
force was filed before the court accepted the reorganisation is referred, not declined, under
the default policy, and declined as before under `gates.reorganisation_plan: decline`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog import store
from features.compute import compute
from models.limit import decide, plan_covers_court_debts
from models.policy import default_policy

AS_OF = dt.date(2025, 12, 31)


def _query(path: Path, sql: str) -> pd.DataFrame:
    with store.connect(path, read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def plans(small_store: Path) -> pd.DataFrame:
    return _query(
        small_store,
        "SELECT p.*, e.entity_type, (SELECT min(c.filing_date) FROM court_debtors c "
        "WHERE c.uscc = p.uscc) AS first_filing FROM reorganisation_plans p "
        "JOIN entities e USING (uscc)",
    )


def test_the_generator_emits_plans_of_enterprises_after_their_court_cases(
    plans: pd.DataFrame,
) -> None:
    assert len(plans) >= 5
    assert set(plans["entity_type"]) == {"enterprise"}
    assert (plans["accepted_date"] > plans["first_filing"]).all()
    approval_days = (plans["approved_date"] - plans["accepted_date"]).dt.days
    assert approval_days.between(90, 270).all()  # art. 79: within 6 months, 3 more at most
    assert (plans["execution_end"] > plans["approved_date"]).all()
    assert plans["case_no"].str.contains("破").all()


@pytest.fixture(scope="module")
def features(small_store: Path, plans: pd.DataFrame) -> pd.DataFrame:
    codes = sorted(set(plans["uscc"]))
    with store.connect(small_store, read_only=True) as con:
        return compute(con, pd.DataFrame({"uscc": codes, "as_of": AS_OF}))


def test_a_plan_counts_only_while_in_execution(plans: pd.DataFrame, features: pd.DataFrame) -> None:
    day = pd.Timestamp(AS_OF)
    executing = plans[
        (plans["approved_date"] <= day)
        & (plans["ingest_date"] <= day)
        & (plans["execution_end"] > day)
        & (plans["terminated_date"].isna() | (plans["terminated_date"] > day))
        & ~plans["retracted"]
    ]
    in_force = set(features.loc[features["reorg_plan_in_force"] == 1.0, "uscc"])
    assert in_force == set(executing["uscc"])
    assert features.loc[features["reorg_plan_in_force"] == 0.0, "reorg_accepted_days"].isna().all()


def test_covered_court_debtors_are_referred_or_declined_as_the_policy_states(
    features: pd.DataFrame,
) -> None:
    columns = {n: features[n].to_numpy(dtype=np.float64) for n in features.columns[2:]}
    covered = plan_covers_court_debts(columns)
    assert covered.any(), "no court debtor covered by a plan on the small store"
    pd_ = np.full(len(features), 0.001)
    refer = decide(default_policy(), features, pd_)
    policy = default_policy()
    ignore = policy.model_copy(
        update={"gates": policy.gates.model_copy(update={"reorganisation_plan": "decline"})}
    )
    declined = decide(ignore, features, pd_)
    for i in np.flatnonzero(covered):
        assert "gate:court_debtor" not in refer.failed_gates[i]
        assert refer.decision[i] in ("refer", "decline")  # another gate may still decline
        assert "gate:court_debtor" in declined.failed_gates[i]
    listed = columns["court_in_force"] == 1.0
    for i in np.flatnonzero(listed & ~covered):
        assert "gate:court_debtor" in refer.failed_gates[i]
