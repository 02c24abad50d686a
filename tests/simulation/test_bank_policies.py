"""A simulated bank with its own product policy: provisioned through the service database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.policy import default_policy
from serving.config import Settings
from serving.db import make_engine, policies, session_factory
from simulation.api import provision
from simulation.lending import BankPolicy

CAPPED = default_policy().model_copy(
    update={"version": "sim-1", "caps_cny": dict.fromkeys(default_policy().caps_cny, 30_000.0)}
)


def test_provision_stores_each_banks_own_policy(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    banks = [BankPolicy("bank_a", product_policy=CAPPED), BankPolicy("bank_b")]
    keys = provision(settings, banks, pooling=False)
    assert set(keys) == {"bank_a", "bank_b"}
    engine = make_engine(settings.service_db)
    try:
        with session_factory(engine)() as session:
            [stored] = policies.latest(session, "bank_a").values()
            assert stored.policy.caps_cny["enterprise"] == 30_000.0
            assert stored.policy.bank == "bank_a"
            assert policies.latest(session, "bank_b") == {}
    finally:
        engine.dispose()


def test_two_banks_policies_give_one_entity_two_limits() -> None:
    from models.limit import decide

    row = {
        "tax_paid_cny_24m": 4_000_000.0, "tax_revenue_cny_12m": 50_000_000.0,
        "si_headcount_latest": 50.0, "reg_entity_type": 0.0, "reg_age_months": 80.0,
        "reg_deregistered": 0.0, "court_in_force": 0.0, "dis_in_force": 0.0, "abn_in_force": 0.0,
        "tax_grade_latest": 5.0, "tax_paid_cny_12m": 2_000_000.0, "reg_industry": 2.0,
    }  # fmt: skip
    frame = pd.DataFrame([row])
    platform = decide(default_policy(), frame, np.array([0.004])).limit_cny[0]
    capped = decide(CAPPED, frame, np.array([0.004])).limit_cny[0]
    assert platform > 30_000.0 >= capped > 0.0
