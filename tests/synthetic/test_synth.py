"""The synthetic platform: deterministic, complete, and realistically hard."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from catalog import schema, store, uscc
from catalog.errors import InvalidPlatformData
from synthetic.config import SynthConfig
from synthetic.generate import generate

MATURED_LOANS = """
    SELECT l.loan_id, l.uscc, l.start_date, e.entity_type, o.default_flag, o.default_date
    FROM loans l JOIN loan_outcomes o USING (loan_id)
    JOIN (SELECT DISTINCT ON (uscc) uscc, entity_type FROM entities ORDER BY uscc) e ON e.uscc = l.uscc
    WHERE l.start_date + INTERVAL 12 MONTH <= o.observation_date
"""


def _query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def _loans_with_signals(path: Path) -> pd.DataFrame:
    """Matured loans with the true PD and a few raw signals as of the application month."""
    return _query(
        path,
        f"""
        WITH m AS ({MATURED_LOANS})
        SELECT m.*, t.pd_12m,
          (SELECT count(*) FROM penalties p WHERE p.uscc = m.uscc
             AND p.decision_date BETWEEN m.start_date - INTERVAL 24 MONTH AND m.start_date) AS penalties_24m,
          (SELECT coalesce(max(arrears_cny), 0) FROM social_insurance s WHERE s.uscc = m.uscc
             AND s.month BETWEEN m.start_date - INTERVAL 12 MONTH AND m.start_date) AS si_arrears,
          (SELECT coalesce(avg(CASE WHEN paid_on_time THEN 0 ELSE 1 END), 0) FROM utilities u
             WHERE u.uscc = m.uscc AND u.month BETWEEN m.start_date - INTERVAL 12 MONTH
             AND m.start_date) AS utility_late_share,
          (SELECT -coalesce(sum(tax_paid_cny), 0) FROM tax_payments x WHERE x.uscc = m.uscc
             AND x.period_end BETWEEN m.start_date - INTERVAL 12 MONTH AND m.start_date) AS neg_tax
        FROM m JOIN truth_monthly t
          ON t.uscc = m.uscc AND t.month = date_trunc('month', m.start_date - INTERVAL 20 DAY)
    """,
    ).drop_duplicates("loan_id")


def test_same_seed_same_tables_other_seed_differs(tmp_path: Path) -> None:
    config = SynthConfig(entities=1_500, seed=11)
    hashes = []
    for name, cfg in (("a", config), ("b", config), ("c", SynthConfig(entities=1_500, seed=12))):
        generate(tmp_path / f"{name}.duckdb", cfg)
        with store.connect(tmp_path / f"{name}.duckdb", read_only=True) as con:
            hashes.append(store.content_hash(con))
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_every_table_filled_and_schema_complete(small_store: Path) -> None:
    with store.connect(small_store, read_only=True) as con:
        counts = store.row_counts(con)
    empty = [t.name for t in schema.ALL_TABLES if t.kind != "system" and counts[t.name] == 0]
    assert empty == []


# Reorganisation plans are rare (about 20 in 3,000 entities) and each follows a court case by
# 4-17 months: their history starts later.
HISTORY_YEARS = {"reorganisation_plans": 2.5}


def test_history_covers_four_years_in_every_catalog_table(small_store: Path) -> None:
    for table in schema.CATALOG_TABLES:
        column = table.event_dates[0]
        span = _query(
            small_store,
            f"SELECT date_diff('day', min({column}), max({column})) AS days FROM {table.name}",
        )
        years = HISTORY_YEARS.get(table.name, 4)
        assert span["days"].iloc[0] >= years * 365 - 120, table.name


def test_population_mix_and_divisions(realism_store: Path) -> None:
    mix = _query(
        realism_store,
        "SELECT entity_type, count(*) / sum(count(*)) OVER () AS share FROM entities GROUP BY 1",
    ).set_index("entity_type")["share"]
    assert 0.27 <= mix["enterprise"] <= 0.33
    assert 0.64 <= mix["individual"] <= 0.70
    assert 0.005 <= mix["cooperative"] <= 0.025
    divisions = set(_query(realism_store, "SELECT DISTINCT division FROM entities")["division"])
    assert divisions == {"441500", "441502", "441521", "441523", "441581"}


def test_codes_valid_except_injected_defects(realism_store: Path) -> None:
    codes = _query(realism_store, "SELECT uscc FROM entities")["uscc"].tolist()
    failing = {c for c, r in zip(codes, uscc.reasons_for(codes), strict=True) if r is not None}
    injected = set(
        _query(realism_store, "SELECT ref FROM truth_defects WHERE defect = 'bad_check_char'")[
            "ref"
        ]
    )
    assert failing == injected
    assert 1 <= len(failing) <= 3 * len(codes) / 10_000
    assert len(codes) - len(set(codes)) >= 1  # injected duplicate codes


def test_bank_default_rates_in_domain_ranges(realism_store: Path) -> None:
    loans = _query(realism_store, MATURED_LOANS)
    rate = loans.groupby("entity_type")["default_flag"].mean()
    assert 0.015 <= rate["enterprise"] <= 0.03
    assert 0.03 <= rate["individual"] <= 0.06
    assert loans["entity_type"].value_counts()["individual"] >= 100
    banks = _query(realism_store, "SELECT bank_id, count(*) AS n FROM loans GROUP BY 1")
    assert len(banks) >= 2
    assert banks["n"].min() >= 500


def test_true_pd_ranks_loans_realistically_and_beats_every_raw_signal(realism_store: Path) -> None:
    loans = _loans_with_signals(realism_store)
    assert loans["default_flag"].sum() >= 60
    oracle = roc_auc_score(loans["default_flag"], loans["pd_12m"])
    assert 0.80 <= oracle <= 0.90
    for signal in ("penalties_24m", "si_arrears", "utility_late_share", "neg_tax"):
        auc = roc_auc_score(loans["default_flag"], loans[signal])
        assert auc < oracle - 0.1, signal


def test_adverse_public_events_follow_true_pd(realism_store: Path) -> None:
    """Entities with a new court-debtor listing had a higher true PD a year before."""
    pd_by_event = _query(
        realism_store,
        """
        WITH t AS (SELECT uscc, pd_12m FROM truth_monthly WHERE month = DATE '2023-06-01'),
        ev AS (SELECT DISTINCT uscc FROM court_debtors
               WHERE publish_date BETWEEN DATE '2023-07-01' AND DATE '2024-06-30')
        SELECT (ev.uscc IS NOT NULL) AS listed, avg(t.pd_12m) AS mean_pd, count(*) AS n
        FROM t LEFT JOIN ev USING (uscc) GROUP BY 1
    """,
    ).set_index("listed")
    assert pd_by_event.loc[True, "n"] >= 50
    assert pd_by_event.loc[True, "mean_pd"] > 2.5 * pd_by_event.loc[False, "mean_pd"]


def test_penalty_publicity_and_repairs_follow_the_rules(realism_store: Path) -> None:
    p = _query(
        realism_store, "SELECT severity, decision_date, publicity_end, repair_date FROM penalties"
    )
    publicity = (p["publicity_end"] - p["decision_date"]).dt.days
    expected = p["severity"].map({"minor": 91, "general": 365, "serious": 1095})
    assert (publicity == expected).all()
    repaired = p.dropna(subset=["repair_date"])
    wait = (repaired["repair_date"] - repaired["decision_date"]).dt.days
    minimum = repaired["severity"].map({"general": 91, "serious": 365})
    assert minimum.notna().all()  # minor penalties are never repaired: they expire
    assert (wait >= minimum).all()
    assert (repaired["repair_date"] < repaired["publicity_end"]).all()


def test_defects_present_at_realistic_rates(realism_store: Path) -> None:
    versions = _query(
        realism_store, "SELECT version, retracted, count(*) AS n FROM penalties GROUP BY 1, 2"
    )
    corrected = versions.query("version == 2")["n"].sum()
    assert 0 < corrected < 0.05 * versions["n"].sum()
    late = _query(
        realism_store,
        "SELECT avg(CASE WHEN ingest_date - month > 120 THEN 1 ELSE 0 END) AS late "
        "FROM social_insurance",
    )["late"].iloc[0]
    assert 0.01 < late < 0.06
    orphans = _query(
        realism_store,
        "SELECT count(*) AS n FROM penalties WHERE uscc NOT IN (SELECT uscc FROM entities)",
    )["n"].iloc[0]
    assert orphans >= 1


def test_nothing_ingested_after_the_end_date(small_store: Path) -> None:
    for table in schema.CATALOG_TABLES:
        latest = _query(small_store, f"SELECT max(ingest_date) AS d FROM {table.name}")["d"].iloc[0]
        assert latest <= pd.Timestamp("2025-12-31"), table.name


@pytest.mark.parametrize("kwargs", [{"entities": 5}, {"years": 2}, {"seed": -1}])
def test_bad_parameters_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidPlatformData):
        SynthConfig(**kwargs)


def test_truth_pd_is_a_probability(small_store: Path) -> None:
    t = _query(
        small_store, "SELECT min(pd_12m) AS lo, max(pd_12m) AS hi, count(*) AS n FROM truth_monthly"
    )
    assert t["n"].iloc[0] > 0
    assert t["lo"].iloc[0] >= 0
    assert t["hi"].iloc[0] <= 1
    assert np.isfinite(
        _query(small_store, "SELECT sum(capacity_cny) AS c FROM truth_monthly")["c"].iloc[0]
    )
