"""Frozen references, PSI from shares, vintage and mix tables: the pure parts of monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from models.pd_model import FeatureSpec
from serving.config import Settings
from training import drift, metrics, performance

SPEC = FeatureSpec(names=("tax", "kind"), monotone=(-1, 0), categorical=("kind",),
                   categories={"kind": ("enterprise", "individual", "cooperative")})  # fmt: skip


def frame(
    n: int, seed: int, scale: float = 1.0, kinds: tuple[float, ...] = (0.3, 0.6, 0.1)
) -> pd.DataFrame:
    """Rows of a lognormal amount (10% missing) and a category code."""
    rng = np.random.default_rng(seed)
    tax = rng.lognormal(10, 1, n) * scale
    tax[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "tax": tax,
            "kind": rng.choice(3, n, p=kinds).astype(float),
            "as_of": pd.Timestamp("2023-03-31"),
        }
    )


def test_psi_from_frozen_shares_equals_psi_on_the_values() -> None:
    ref, new = frame(5_000, 1)["tax"].to_numpy(), frame(3_000, 2, scale=0.5)["tax"].to_numpy()
    edges = metrics.psi_reference(ref)
    frozen = metrics.bin_shares(ref, edges)
    assert frozen[-1] == pytest.approx(np.isnan(ref).mean())  # missing values: a bin of their own
    from_shares = metrics.psi_from_shares(frozen, metrics.bin_shares(new, edges))
    assert from_shares == pytest.approx(metrics.psi(ref, new, edges))


def test_reference_freezes_every_feature_with_a_bin_per_category() -> None:
    reference = drift.feature_reference(frame(5_000, 1), SPEC)
    assert reference["rows"] == 5_000
    assert reference["as_of_first"] == reference["as_of_last"] == "2023-03-31"
    kind = reference["features"]["kind"]
    assert kind["inner_edges"] == [0.5, 1.5]
    assert kind["shares"][:3] == pytest.approx([0.3, 0.6, 0.1], abs=0.02)
    assert len(reference["features"]["tax"]["shares"]) == drift.REFERENCE_BINS + 1


def test_same_population_is_stable_and_a_shift_is_an_alert() -> None:
    reference = drift.feature_reference(frame(5_000, 1), SPEC)
    same = {
        r["feature"]: r
        for r in drift.feature_stability(reference, frame(2_000, 2), drift.Thresholds())
    }
    assert all(r["level"] == "ok" for r in same.values())
    moved = frame(2_000, 3, scale=0.2, kinds=(0.7, 0.2, 0.1))
    shifted = {
        r["feature"]: r for r in drift.feature_stability(reference, moved, drift.Thresholds())
    }
    assert shifted["tax"]["level"] == shifted["kind"]["level"] == "alert"


def test_too_few_rows_give_no_psi() -> None:
    reference = drift.feature_reference(frame(5_000, 1), SPEC)
    score = {"inner_edges": [0.1, 0.2], "pd_sample": [0.05, 0.15, 0.25]}
    small = drift.scope(reference, score, frame(50, 2), np.full(50, 0.1), drift.Thresholds())
    assert (small["status"], small["score"], small["features"]) == ("too_few_rows", None, [])
    enough = drift.scope(reference, None, frame(500, 2), np.full(500, 0.1), drift.Thresholds())
    assert enough["status"] == "no_reference"
    assert enough["features"]


def test_levels_and_settings_refuse_inverted_thresholds() -> None:
    limits = drift.Thresholds(0.1, 0.25)
    assert [limits.level(v) for v in (0.099, 0.1, 0.249, 0.25)] == ["ok", "warn", "warn", "alert"]
    with pytest.raises(ValidationError):
        Settings(monitor_psi_warn=0.3, monitor_psi_alert=0.25)


def test_vintages_grades_and_mix() -> None:
    rng = np.random.default_rng(5)
    pds = rng.uniform(0.01, 0.3, 400)
    loans = pd.DataFrame(
        {
            "application_date": pd.date_range("2023-01-01", periods=400, freq="D"),
            "label": (rng.random(400) < pds).astype(int),
            "pd": pds,
            "grade": np.digitize(pds, [0.1, 0.2]) + 1,
        }
    )
    loans["grade_label"] = "G" + loans["grade"].astype(str)
    vintages = performance.by_vintage(loans, trained_through="2023-06-30")
    assert [v["vintage"] for v in vintages] == ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    assert [v["in_training_period"] for v in vintages][:3] == [True, True, False]
    assert sum(v["loans"] for v in vintages) == 400
    assert [g["grade"] for g in performance.by_grade(loans)] == ["G1", "G2", "G3"]
    decisions = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2026-01-05", "2026-01-07", "2026-02-01"], utc=True),
            "decision": ["approve", "decline", "refer"],
            "model": "m v1",
        }
    )
    weekly = performance.decision_mix(decisions, "week")
    assert [(r["period"], r["decisions"]) for r in weekly] == [("2026-01-05", 2), ("2026-01-26", 1)]
    monthly = performance.decision_mix(decisions, "month")
    assert monthly[0]["approve_share"] == monthly[0]["decline_share"] == 0.5
