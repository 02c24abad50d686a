"""Limits and decisions as a risk officer checks them: monotone, gated, capped, batch-stable."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import InvalidInput
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS
from models.limit import GATE_CODES, LimitResult, decide, required_inputs
from models.policy import ProductPolicy, default_policy

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None)
DEFAULT = default_policy()
# Most tests pin the capacity arithmetic, so the working-capital ceiling is off here; it has
# its own tests below with the shipped default.
POLICY = DEFAULT.model_copy(
    update={"capacity": DEFAULT.capacity.model_copy(update={"max_revenue_share": 0.0})}
)
NAN = math.nan

# A healthy enterprise: 5 years old, grade B, 150k tax a year -> tax capacity 8 x 150k = 1.2M.
GOOD = {
    "tax_paid_cny_24m": 300_000.0,
    "tax_paid_cny_12m": 150_000.0,
    "tax_revenue_cny_12m": 2_000_000.0,
    "si_headcount_latest": 5.0,
    "reg_entity_type": 0.0,
    "reg_age_months": 60.0,
    "reg_deregistered": 0.0,
    "reg_industry": float(INDUSTRY_SECTIONS.index("C")),
    "court_in_force": 0.0,
    "dis_in_force": 0.0,
    "abn_in_force": 0.0,
    "tax_grade_latest": 4.0,
}


def frame(*rows: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([GOOD | r for r in rows])


def one(
    row: dict[str, float], pd_: float = 0.004, policy: ProductPolicy = POLICY
) -> dict[str, Any]:
    """The single record for GOOD updated with `row`."""
    return decide(policy, frame(row), np.array([pd_])).to_records()[0]


def with_gates(**gates: object) -> ProductPolicy:
    return ProductPolicy.model_validate({"version": "t", "gates": gates})


GATE_CASES: dict[str, tuple[dict[str, float], dict[str, Any]]] = {
    "gate:unknown_entity": (
        {"reg_age_months": NAN, "reg_entity_type": NAN, "reg_industry": NAN},
        {"known_entity": False},
    ),
    "gate:deregistered": ({"reg_deregistered": 1.0}, {"not_deregistered": False}),
    "gate:court_debtor": ({"court_in_force": 1.0}, {"no_court_debtor": False}),
    "gate:serious_dishonesty": ({"dis_in_force": 1.0}, {"no_serious_dishonesty": False}),
    "gate:abnormal_operations": ({"abn_in_force": 1.0}, {"no_abnormal_operations": False}),
    "gate:tax_grade": ({"tax_grade_latest": 2.0}, {"excluded_tax_grades": []}),
    "gate:no_tax_paid": ({"tax_paid_cny_12m": 0.0}, {"require_tax_paid_12m": False}),
    "gate:min_age": ({"reg_age_months": 23.0}, {"min_age_months": 0, "min_age_months_grade_m": 0}),
    "gate:excluded_industry": (
        {"reg_industry": float(INDUSTRY_SECTIONS.index("K"))},
        {"excluded_industries": []},
    ),
}


def with_failure(row: dict[str, float], gate: str | None) -> dict[str, float]:
    """`row`, made to fail `gate` (if any) the way its GATE_CASES entry does."""
    return row if gate is None else row | GATE_CASES[gate][0]


money = st.one_of(st.integers(0, 2_000_000).map(float), st.floats(0.0, 5e7), st.just(NAN))
# Eligible by default so most examples reach the arithmetic; hypothesis picks the gate to fail.
feature_rows = st.builds(
    with_failure,
    st.fixed_dictionaries(
        {
            "tax_paid_cny_24m": money,
            "tax_paid_cny_12m": st.integers(1, 1_000_000).map(float),
            "tax_revenue_cny_12m": money,
            "si_headcount_latest": st.one_of(st.integers(0, 200).map(float), st.just(NAN)),
            "reg_entity_type": st.sampled_from([0.0, 1.0, 2.0, 3.0, NAN]),
            "reg_age_months": st.integers(24, 400).map(float),
            "reg_deregistered": st.just(0.0),
            "reg_industry": st.sampled_from([2.0, 6.0, 0.0, 13.0, NAN]),
            "court_in_force": st.just(0.0),
            "dis_in_force": st.just(0.0),
            "abn_in_force": st.just(0.0),
            "tax_grade_latest": st.sampled_from([5.0, 4.0, 3.0, NAN]),
        }
    ),
    st.one_of(st.none(), st.sampled_from(sorted(GATE_CASES))),
)


pds = st.one_of(st.floats(0.0, 0.1), st.floats(0.0, 1.0))  # half in the lending range


# --- the arithmetic ---------------------------------------------------------------------------


def test_tax_capacity_times_pd_multiplier() -> None:
    record = one({}, pd_=0.015)
    assert record["capacity_cny"] == 1_200_000
    assert record["capacity_source"] == "capacity:tax"
    assert record["multiplier"] == 0.75
    assert record["limit_cny"] == 900_000
    assert record["binding"] == "capacity:tax"
    assert record["decision"] == "approve"
    assert record["drivers"] == [
        {"feature": "tax_paid_cny_24m", "value": 300_000.0, "role": "capacity"},
        {"feature": "pd", "value": 0.015, "role": "multiplier"},
    ]


@pytest.mark.parametrize(
    ("row", "source", "capacity"),
    [
        ({"tax_revenue_cny_12m": 8_000_000.0}, "capacity:revenue", 1_600_000),
        ({"si_headcount_latest": 30.0}, "capacity:headcount", 1_800_000),
        ({"tax_paid_cny_24m": NAN}, "capacity:revenue", 400_000),  # missing counts as 0
        ({"tax_paid_cny_24m": NAN, "tax_revenue_cny_12m": NAN}, "capacity:headcount", 300_000),
    ],
)
def test_largest_available_capacity_component_wins(
    row: dict[str, float], source: str, capacity: float
) -> None:
    record = one(row)
    assert (record["capacity_source"], record["capacity_cny"]) == (source, capacity)
    assert record["binding"] == source
    assert record["drivers"][0]["role"] == "capacity"


def test_no_capacity_declines_at_min_limit() -> None:
    empty = {"tax_paid_cny_24m": NAN, "tax_revenue_cny_12m": NAN, "si_headcount_latest": NAN}
    record = one(empty)
    assert record["capacity_source"] == "capacity:none"
    assert (record["decision"], record["binding"], record["limit_cny"]) == (
        "decline",
        "min_limit",
        0,
    )


def test_limit_rounds_down_to_thousands() -> None:
    only_tax = {"tax_revenue_cny_12m": 0.0, "si_headcount_latest": 0.0}
    record = one(only_tax | {"tax_paid_cny_24m": 2 * 123_456.7 / 8})  # capacity 123,456.7
    assert record["capacity_cny"] == pytest.approx(123_456.7)
    assert record["limit_cny"] == 123_000


def test_float_noise_does_not_drop_a_thousand() -> None:
    record = one({"tax_paid_cny_24m": 0.0, "si_headcount_latest": 10.0}, pd_=0.02)  # 600k x 0.75
    assert record["limit_cny"] == 450_000


# --- risk officer's monotonicity ----------------------------------------------------------------


@PROPERTY
@given(feature_rows, st.lists(pds, min_size=2, max_size=8))
def test_higher_pd_never_raises_the_limit(row: dict[str, float], draws: list[float]) -> None:
    ladder = sorted(draws)
    result = decide(POLICY, pd.DataFrame([row] * len(ladder)), np.array(ladder))
    assert np.all(np.diff(result.limit_cny) <= 0)


LADDERS: dict[str, Callable[[float], dict[str, float]]] = {  # input -> one rung at `amount`
    "tax": lambda amount: {"tax_paid_cny_24m": amount, "tax_paid_cny_12m": amount / 2},
    "revenue": lambda amount: {"tax_revenue_cny_12m": amount},
    "headcount": lambda amount: {"si_headcount_latest": float(round(amount / 10_000))},
}


@pytest.mark.parametrize("what", list(LADDERS))
@PROPERTY
@given(row=feature_rows, pd_=pds, amounts=st.lists(st.floats(0.0, 5e6), min_size=2, max_size=8))
def test_more_tax_revenue_or_headcount_never_lowers_the_limit(
    what: str, row: dict[str, float], pd_: float, amounts: list[float]
) -> None:
    rungs = [row | LADDERS[what](amount) for amount in sorted(amounts)]
    result = decide(POLICY, pd.DataFrame(rungs), np.full(len(rungs), pd_))
    assert np.all(np.diff(result.limit_cny) >= 0)


# --- gates --------------------------------------------------------------------------------------


def test_every_gate_has_a_case() -> None:
    assert set(GATE_CASES) == set(GATE_CODES)


@pytest.mark.parametrize("code", list(GATE_CASES))
def test_gate_declines_with_its_code(code: str) -> None:
    failing, _ = GATE_CASES[code]
    record = one(failing)
    assert record["decision"] == "decline"
    assert record["limit_cny"] == 0
    assert record["binding"] == code
    assert record["failed_gates"] == [code]
    assert {d["role"] for d in record["drivers"]} == {"gate"}


@pytest.mark.parametrize("code", list(GATE_CASES))
def test_switching_the_gate_off_lets_the_row_through(code: str) -> None:
    failing, switch_off = GATE_CASES[code]
    record = one(failing, policy=with_gates(**switch_off))
    assert record["decision"] == "approve"
    assert record["limit_cny"] > 0
    assert record["failed_gates"] == []


def test_switched_off_gate_does_not_need_its_column() -> None:
    policy = with_gates(no_court_debtor=False)
    assert "court_in_force" not in required_inputs(policy)
    result = decide(policy, frame({}).drop(columns=["court_in_force"]), np.array([0.01]))
    assert result.decision.tolist() == ["approve"]


def test_grade_m_needs_only_twelve_months() -> None:
    assert one({"reg_age_months": 12.0, "tax_grade_latest": 3.0})["decision"] == "approve"
    assert one({"reg_age_months": 11.0, "tax_grade_latest": 3.0})["binding"] == "gate:min_age"
    assert one({"reg_age_months": 24.0})["decision"] == "approve"


def test_all_failed_gates_are_listed_first_one_binds() -> None:
    record = one({"court_in_force": 1.0, "abn_in_force": 1.0, "reg_age_months": 6.0}, pd_=0.5)
    assert record["failed_gates"] == [
        "gate:court_debtor",
        "gate:abnormal_operations",
        "gate:min_age",
    ]
    assert record["binding"] == "gate:court_debtor"


# --- caps and minimum ---------------------------------------------------------------------------


@pytest.mark.parametrize("entity_type", ENTITY_TYPES)
def test_cap_binds_with_its_entity_type(entity_type: str) -> None:
    row = {"reg_entity_type": float(ENTITY_TYPES.index(entity_type)), "tax_paid_cny_24m": 5e7}
    record = one(row)
    assert record["limit_cny"] == POLICY.caps_cny[entity_type]
    assert record["binding"] == f"cap:{entity_type}"
    assert record["drivers"][0] == {
        "feature": "reg_entity_type",
        "value": float(ENTITY_TYPES.index(entity_type)),
        "role": "cap",
    }


def test_unknown_entity_type_gets_the_smallest_cap() -> None:
    record = one({"reg_entity_type": NAN, "tax_paid_cny_24m": 5e7})
    assert (record["limit_cny"], record["binding"]) == (1_000_000, "cap:unknown")


def test_below_min_limit_declines() -> None:
    record = one(
        {"tax_paid_cny_24m": 4_000.0, "tax_revenue_cny_12m": 0.0, "si_headcount_latest": 0}
    )
    assert record["capacity_cny"] == 16_000
    assert (record["decision"], record["binding"], record["limit_cny"]) == (
        "decline",
        "min_limit",
        0,
    )


def test_exactly_min_limit_is_granted() -> None:
    record = one(
        {"tax_paid_cny_24m": 5_000.0, "tax_revenue_cny_12m": 0.0, "si_headcount_latest": 0}
    )
    assert (record["decision"], record["limit_cny"]) == ("approve", 20_000)


# --- decision thresholds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pd_", "decision", "limit"),
    [
        (0.0, "approve", 1_200_000),
        (0.03, "approve", 720_000),  # on approve_max_pd
        (0.0300001, "refer", 480_000),  # a refer keeps its computed limit
        (0.08, "refer", 300_000),  # on refer_max_pd
        (0.0800001, "decline", 0),
        (1.0, "decline", 0),
    ],
)
def test_decision_thresholds(pd_: float, decision: str, limit: float) -> None:
    record = one({}, pd_=pd_)
    assert (record["decision"], record["limit_cny"]) == (decision, limit)
    if decision == "decline":
        assert record["binding"] == "pd:decline"
        assert record["drivers"] == [{"feature": "pd", "value": pd_, "role": "decision"}]


def test_policy_thresholds_are_used() -> None:
    strict = ProductPolicy.model_validate(
        {"version": "t", "decision": {"approve_max_pd": 0.01, "refer_max_pd": 0.02}}
    )
    assert one({}, pd_=0.015, policy=strict)["decision"] == "refer"
    assert one({}, pd_=0.025, policy=strict)["binding"] == "pd:decline"


# --- batches ------------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(st.tuples(feature_rows, pds), min_size=1, max_size=12))
def test_single_row_equals_its_batch_row(rows: list[tuple[dict[str, float], float]]) -> None:
    features = pd.DataFrame([r for r, _ in rows], index=np.arange(len(rows)) * 7)
    batch = decide(POLICY, features, np.array([p for _, p in rows])).to_records()
    for i, (_, p) in enumerate(rows):
        assert decide(POLICY, features.iloc[[i]], np.array([p])).to_records() == [batch[i]]


def test_empty_batch() -> None:
    result = decide(POLICY, frame({}).iloc[:0], np.array([]))
    assert len(result) == 0
    assert result.to_records() == []


def test_records_are_json_ready() -> None:
    result = decide(POLICY, frame({}, {"court_in_force": 1.0}, {"reg_age_months": NAN}), [0.01] * 3)
    assert isinstance(result, LimitResult)
    records = json.loads(json.dumps(result.to_records(), allow_nan=False))
    assert [r["decision"] for r in records] == ["approve", "decline", "decline"]
    assert records[2]["drivers"][0] == {"feature": "reg_age_months", "value": None, "role": "gate"}


# --- invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [[0.01], [0.01, NAN], [0.01, 1.2], [[0.01, 0.02]]])
def test_pd_must_be_one_valid_value_per_row(bad: list[float]) -> None:
    with pytest.raises(InvalidInput, match="pd:"):
        decide(POLICY, frame({}, {}), np.array(bad))


def test_missing_feature_column_is_named() -> None:
    with pytest.raises(InvalidInput, match="missing columns \\['si_headcount_latest'\\]"):
        decide(POLICY, frame({}).drop(columns=["si_headcount_latest"]), np.array([0.01]))


def test_non_numeric_feature_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="must be numeric"):
        decide(POLICY, frame({}).assign(reg_entity_type="enterprise"), np.array([0.01]))


def test_revenue_ceiling_binds_with_its_code() -> None:
    row = GOOD | {"tax_paid_cny_24m": 2_000_000.0, "tax_revenue_cny_12m": 1_000_000.0}
    record = decide(DEFAULT, pd.DataFrame([row]), np.array([0.004])).to_records()[0]
    assert record["binding"] == "cap:revenue"
    assert record["limit_cny"] == 250_000.0
    assert {"feature": "tax_revenue_cny_12m", "value": 1_000_000.0, "role": "cap"} in record[
        "drivers"
    ]


def test_revenue_ceiling_off_and_more_revenue_never_lowers_the_limit() -> None:
    rows = [
        GOOD | {"tax_paid_cny_24m": 2_000_000.0, "tax_revenue_cny_12m": r}
        for r in (1e5, 1e6, 4e6, 1e7)
    ]
    limits = decide(DEFAULT, pd.DataFrame(rows), np.full(4, 0.004)).limit_cny
    assert list(limits) == sorted(limits)
    uncapped = decide(POLICY, pd.DataFrame(rows[:1]), np.array([0.004])).to_records()[0]
    assert uncapped["binding"] != "cap:revenue"


# --- a model that reads public records only -------------------------------------------------

PUBLIC_INPUTS = [n for n in GOOD if not n.startswith(("tax_", "si_"))]


def test_public_scope_refers_without_a_limit_and_reads_no_private_input() -> None:
    public = pd.DataFrame([{n: GOOD[n] for n in PUBLIC_INPUTS}])  # no tax or headcount column
    record = decide(POLICY, public, np.array([0.004]), PUBLIC_INPUTS).to_records()[0]
    assert (record["decision"], record["limit_cny"]) == ("refer", 0.0)
    assert record["binding"] == "scope:limit_basis"
    assert record["drivers"] == [{"feature": "pd", "value": 0.004, "role": "decision"}]
    hidden = frame({"tax_paid_cny_12m": 0.0, "tax_grade_latest": 1.0})  # would fail tax gates
    scoped = decide(POLICY, hidden, np.array([0.004]), PUBLIC_INPUTS).to_records()[0]
    assert (scoped["decision"], scoped["failed_gates"]) == ("refer", [])


def test_public_scope_still_applies_public_gates_and_the_pd_rule() -> None:
    listed = pd.DataFrame([{n: GOOD[n] for n in PUBLIC_INPUTS} | {"court_in_force": 1.0}])
    gated = decide(POLICY, listed, np.array([0.004]), PUBLIC_INPUTS).to_records()[0]
    assert (gated["decision"], gated["binding"]) == ("decline", "gate:court_debtor")
    public = pd.DataFrame([{n: GOOD[n] for n in PUBLIC_INPUTS}])
    risky = decide(POLICY, public, np.array([0.5]), PUBLIC_INPUTS).to_records()[0]
    assert (risky["decision"], risky["binding"]) == ("decline", "pd:decline")


def test_every_input_in_scope_decides_exactly_as_without_a_scope() -> None:
    rows = frame({}, {"tax_paid_cny_24m": 10_000.0}, {"court_in_force": 1.0})
    pds = np.array([0.004, 0.02, 0.004])
    everything = list(rows.columns)
    assert (
        decide(POLICY, rows, pds, everything).to_records() == decide(POLICY, rows, pds).to_records()
    )


# A court debtor whose only case was filed 400 days ago, under a reorganisation the court
# accepted 300 days ago whose plan is in execution: the plan covers that debt.
COVERED = {
    "court_in_force": 1.0,
    "court_newest_filing_days": 400.0,
    "reorg_plan_in_force": 1.0,
    "reorg_accepted_days": 300.0,
}


def test_a_plan_covering_the_court_debts_refers_instead_of_declining() -> None:
    record = one(COVERED)
    assert record["decision"] == "refer"
    assert record["failed_gates"] == []
    assert record["limit_cny"] == 1_200_000.0  # the limit is still computed
    assert {"feature": "reorg_plan_in_force", "value": 1.0, "role": "decision"} in record["drivers"]


@pytest.mark.parametrize(
    "change",
    [
        {"reorg_plan_in_force": 0.0, "reorg_accepted_days": NAN},  # no plan in execution
        {"court_newest_filing_days": 200.0},  # a case filed after the court accepted
        {"court_newest_filing_days": NAN},  # filing date unknown: not covered
    ],
)
def test_court_debts_the_plan_does_not_cover_still_decline(change: dict[str, float]) -> None:
    record = one(COVERED | change)
    assert record["decision"] == "decline"
    assert record["failed_gates"] == ["gate:court_debtor"]


def test_the_policy_can_ignore_the_plan() -> None:
    policy = POLICY.model_copy(
        update={"gates": POLICY.gates.model_copy(update={"reorganisation_plan": "decline"})}
    )
    assert one(COVERED, policy=policy)["failed_gates"] == ["gate:court_debtor"]
    assert policy.fingerprint() != POLICY.fingerprint()


def test_the_plan_rule_at_its_default_keeps_older_policy_fingerprints() -> None:
    assert "reorganisation_plan" not in POLICY.to_json()
    explicit = with_gates(reorganisation_plan="refer")
    assert explicit.fingerprint() == with_gates().fingerprint()


def test_a_plan_never_lifts_another_gate_or_the_pd_rule() -> None:
    assert one(COVERED | {"dis_in_force": 1.0})["failed_gates"] == ["gate:serious_dishonesty"]
    assert one(COVERED, pd_=0.2)["decision"] == "decline"


def test_a_model_without_the_plan_inputs_sees_no_plan() -> None:
    rows = frame(COVERED).drop(columns=["reorg_plan_in_force", "reorg_accepted_days"])
    [record] = decide(POLICY, rows, np.array([0.004])).to_records()
    assert record["failed_gates"] == ["gate:court_debtor"]
