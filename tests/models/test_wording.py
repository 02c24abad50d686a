"""What a loan officer reads: labels for coded values, gates and limits in words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from catalog.schema import INDUSTRY_SECTIONS
from models import wording
from models.limit import GATE_CODES, decide
from models.policy import default_policy


@pytest.mark.parametrize(
    ("feature", "value", "zh", "en"),
    [
        ("tax_grade_latest", 5.0, "A级", "grade A"),
        ("tax_grade_latest", 3.0, "M级", "grade M"),
        ("tax_grade_latest", 1.0, "D级", "grade D"),
        ("reg_industry", float(INDUSTRY_SECTIONS.index("C")), "C 制造业", "C manufacturing"),
        ("court_in_force", 1.0, "是", "yes"),
        ("court_in_force", 0.0, "否", "no"),
        ("tax_paid_cny_12m", 1234567.0, "1,234,567元", "CNY 1,234,567"),
        ("reg_capital_log_cny", math.log1p(5_000_000.0), "5,000,000元", "CNY 5,000,000"),
        ("si_headcount_latest", 12.0, "12", "12"),
        ("tax_paid_cny_12m", math.nan, "缺失", "missing"),
    ],
)
def test_coded_values_are_shown_as_labels(feature: str, value: float, zh: str, en: str) -> None:
    assert wording.value_texts(feature, value, {}) == (zh, en)


def test_a_log_scaled_amount_is_named_in_cny() -> None:
    assert wording.name_texts(
        "reg_capital_log_cny", ("注册资本(对数)", "Registered capital (log CNY)")
    ) == (
        "注册资本(元)",
        "Registered capital (CNY)",
    )


def test_every_gate_has_its_words() -> None:
    for code in GATE_CODES:
        zh, en = wording.gate_texts(code)
        assert code not in (zh, en)
        assert en.isascii()


def columns(**changes: float) -> dict[str, np.ndarray]:
    row = {
        "tax_paid_cny_24m": 0.0, "tax_revenue_cny_12m": 1_000_000.0, "si_headcount_latest": 6.0,
        "reg_entity_type": 0.0, "reg_age_months": 60.0, "reg_deregistered": 0.0,
        "court_in_force": 0.0, "dis_in_force": 0.0, "abn_in_force": 0.0,
        "tax_grade_latest": 4.0, "tax_paid_cny_12m": 10_000.0, "reg_industry": 2.0,
    } | changes  # fmt: skip
    return {k: np.array([v]) for k, v in row.items()}


def test_the_limit_is_explained_from_the_policy() -> None:
    policy = default_policy()
    row = decide(policy, columns(), [0.07]).to_records()[0]
    assert row["capacity_source"] == "capacity:headcount"
    zh, en = wording.limit_texts(row, "G06", 0.07, policy)
    assert en == (
        "6 insured staff × CNY 60,000 per head × 0.25 for grade G06 (PD 7.00%) = CNY 90,000 "
        "(rounded down to CNY 1,000)"
    )
    assert zh.startswith("参保6人 × 每人60,000元 × 系数0.25（等级G06")
    assert "90,000元" in zh


def test_a_decline_leads_with_its_gate_then_pd_or_minimum() -> None:
    policy = default_policy()
    row = decide(policy, columns(court_in_force=1.0), [0.01]).to_records()[0]
    texts = wording.decline_texts(row["failed_gates"], row["binding"], 0.01, policy)
    assert texts[0] == wording.gate_texts("gate:court_debtor")
    assert texts[0][1] == "listed as a court debtor"
    pd_row = decide(policy, columns(), [0.2]).to_records()[0]
    [(_, en)] = wording.decline_texts([], pd_row["binding"], 0.2, policy)
    assert en == "probability of default 20.00% above this product's limit of 8.00%"
    assert wording.limit_texts(pd_row, "G10", 0.2, policy) == (
        "拒绝，额度为0元",
        "declined: limit CNY 0",
    )


def test_a_referral_under_a_reorganisation_plan_names_the_plan_after_the_limit() -> None:
    policy = default_policy()
    covered = columns(
        court_in_force=1.0,
        court_newest_filing_days=500.0,
        reorg_plan_in_force=1.0,
        reorg_accepted_days=400.0,
    )
    row = decide(policy, covered, [0.01]).to_records()[0]
    assert row["decision"] == "refer"
    zh, en = wording.limit_texts(row, "G03", 0.01, policy)
    assert zh.endswith(wording.PLAN_REFERRAL[0])
    assert "重整计划" in zh
    assert (
        "= CNY 250,000 (rounded down to CNY 1,000); a court-approved bankruptcy reorganisation"
        in en
    )
    plain = decide(policy, columns(), [0.01]).to_records()[0]
    assert "reorganisation" not in wording.limit_texts(plain, "G03", 0.01, policy)[1]
