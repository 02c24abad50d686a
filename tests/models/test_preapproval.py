"""The pre-approval model as a risk officer checks it, on one real LightGBM model of the session.

Monotone in every declared direction, SHAP reasons that add up, a row alone answered exactly
as inside a batch, deterministic training, verified text-only artifacts, gates that decline
with reasons. The model is `trained_platform` (tests/conftest.py): the cold-start label on
`small_store`, trained once per session.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from catalog.errors import ModelUnavailable
from models import wording
from models.explain import ADDITIVITY_TOLERANCE, additivity_error
from models.limit import PLAN_INPUTS, plan_covers_court_debts
from models.preapproval import FILES, PreapprovalModel
from training.dataset import time_split
from training.gate import monotonicity_violations
from training.train import TrainConfig, TrainResult, fit_model, spec_from_registry

Decision = dict[str, Any]


@pytest.fixture(scope="module")
def test_rows(trained_platform: TrainResult) -> pd.DataFrame:
    """The out-of-time test rows (newest 20% of observation dates)."""
    return trained_platform.splits["test"]


@pytest.fixture(scope="module")
def decisions(trained_platform: TrainResult, test_rows: pd.DataFrame) -> list[Decision]:
    """One batch `preapprove` over every test row."""
    return trained_platform.model.preapprove(test_rows)


def pd_along(
    model: PreapprovalModel, rows: pd.DataFrame, changes: list[dict[str, float]]
) -> np.ndarray:
    """PD of every row (axis 0) under each set of feature values (axis 1)."""
    columns = [model.predict_proba(rows.assign(**change)) for change in changes]
    return np.column_stack(columns)


def first_index(decisions: list[Decision], predicate: Any) -> int:
    return next(i for i, d in enumerate(decisions) if predicate(d))


# --- 1. monotonicity ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_pd_never_moves_against_a_declared_direction(
    trained_platform: TrainResult, test_rows: pd.DataFrame, seed: int
) -> None:
    model = trained_platform.model
    probed = [
        n
        for n, d in zip(model.spec.names, model.spec.monotone, strict=True)
        if d != 0 and test_rows[n].nunique() > 1
    ]
    assert len(probed) >= 40  # the probe is not vacuous: most declared features vary
    assert monotonicity_violations(model, test_rows, rows=100, points=15, seed=seed) == []


def test_a_court_debtor_listing_never_lowers_the_pd(
    trained_platform: TrainResult, test_rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    rows = test_rows[test_rows["court_in_force"] == 0].sample(600, random_state=3)
    alone = pd_along(model, rows, [{"court_in_force": 0.0}, {"court_in_force": 1.0}])
    assert (alone[:, 1] >= alone[:, 0]).all()
    # The listing with what comes with it (count, unperformed amount, a new case) is a risk.
    listed = test_rows[test_rows["court_in_force"] == 1]
    with_case = {
        "court_in_force": 1.0,
        "court_in_force_count": 1.0,
        "court_new_12m": 1.0,
        "court_unperformed_cny": float(listed["court_unperformed_cny"].median()),
    }
    without = dict.fromkeys(with_case, 0.0)
    joint = pd_along(model, rows, [without, with_case])
    assert (joint[:, 1] >= joint[:, 0]).all()
    assert (joint[:, 1] > joint[:, 0]).any()


def test_more_tax_paid_never_raises_the_pd(
    trained_platform: TrainResult, test_rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    rows = test_rows.sample(400, random_state=4)
    paid = test_rows["tax_paid_cny_12m"].to_numpy(dtype=float)
    grid = np.unique(np.concatenate([[0.0], np.nanquantile(paid, np.linspace(0, 1, 15))]))
    pds = pd_along(model, rows, [{"tax_paid_cny_12m": float(v)} for v in grid])
    assert (np.diff(pds, axis=1) <= 0).all()
    assert (pds[:, -1] < pds[:, 0]).any()  # the feature is used: the check can bite


def test_more_penalties_never_lower_the_pd(
    trained_platform: TrainResult, test_rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    rows = test_rows.sample(400, random_state=5)
    pds = pd_along(model, rows, [{"pen_count_12m": float(k)} for k in range(6)])
    assert (np.diff(pds, axis=1) >= 0).all()


# --- 2. SHAP additivity and reasons ---------------------------------------------------------


def test_contributions_plus_base_value_equal_the_raw_score(
    trained_platform: TrainResult, test_rows: pd.DataFrame, decisions: list[Decision]
) -> None:
    model = trained_platform.model
    contributions = model.classifier_.contributions(test_rows)
    raw = model.classifier_.raw_score(test_rows)
    assert contributions.shape == (len(test_rows), len(model.spec.names) + 1)
    assert np.abs(contributions.sum(axis=1) - raw).max() < 1e-6
    assert (
        additivity_error(model.contributions(test_rows), model.raw_score(test_rows))
        < ADDITIVITY_TOLERANCE
    )
    # What a decision reports is that same decomposition and the calibrated PD.
    reported_raw = np.array([d["raw_score"] for d in decisions])
    assert np.abs(reported_raw - raw).max() < 1e-6
    np.testing.assert_array_equal([d["base_value"] for d in decisions], contributions[:, -1])
    np.testing.assert_allclose(
        [d["pd"] for d in decisions], model.predict_proba(test_rows), rtol=0, atol=1e-12
    )


def expected_value(model: PreapprovalModel, feature: str, value: float) -> object:
    """A reason's value as a loan officer reads it: None if missing, label if categorical."""
    if math.isnan(value):
        return None
    labels = model.spec.categories.get(feature)
    # Python's round works on the exact binary value, as the service does (numpy's does not)
    return labels[int(value)] if labels else round(float(value), 4)


def check_reasons(
    model: PreapprovalModel,
    reasons: list[dict[str, Any]],
    parts: dict[str, float],
    values: dict[str, float],
) -> None:
    nonzero = sum(v != 0.0 for v in parts.values())
    assert len(reasons) == min(model.top_n, nonzero)
    cited = [r["feature"] for r in reasons]
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert all(abs(v) <= min(sizes) for n, v in parts.items() if n not in cited)
    for reason in reasons:
        feature, contribution = reason["feature"], reason["contribution"]
        assert contribution == parts[feature]
        raises = contribution > 0
        assert reason["direction"] == ("raises_risk" if raises else "lowers_risk")
        assert reason["code"] == feature.upper()
        zh, en = wording.name_texts(feature, model.spec.texts[feature])  # log amounts in CNY
        assert reason["text_zh"].startswith(zh)
        assert reason["text_en"].startswith(en)
        assert ("提高风险" if raises else "降低风险") in reason["text_zh"]
        assert ("raises risk" if raises else "lowers risk") in reason["text_en"]
        assert reason["value"] == expected_value(model, feature, values[feature])


def test_reasons_are_the_largest_contributions_with_direction_and_texts(
    trained_platform: TrainResult, test_rows: pd.DataFrame, decisions: list[Decision]
) -> None:
    model = trained_platform.model
    names = list(model.spec.names)
    assert all(zh.strip() and en.strip() and en != n for n, (zh, en) in model.spec.texts.items())
    contributions = model.contributions(test_rows)[:, :-1]
    matrix = test_rows[names].to_numpy(dtype=float)
    for i, decision in enumerate(decisions):
        check_reasons(
            model,
            decision["reasons"],
            dict(zip(names, contributions[i], strict=True)),
            dict(zip(names, matrix[i], strict=True)),
        )
    directions = {r["direction"] for d in decisions for r in d["reasons"]}
    assert directions == {"raises_risk", "lowers_risk"}


# --- 3. a row alone equals the row in a batch -----------------------------------------------


def test_a_row_alone_gets_exactly_its_batch_decision(
    trained_platform: TrainResult, test_rows: pd.DataFrame, decisions: list[Decision]
) -> None:
    model = trained_platform.model
    with_gap = np.flatnonzero(test_rows[list(model.spec.names)].isna().any(axis=1).to_numpy())
    picks = {
        0,
        len(decisions) - 1,
        137,
        int(with_gap[0]) if len(with_gap) else 1,
        first_index(decisions, lambda d: d["decision"] == "approve"),
        first_index(decisions, lambda d: d["decision"] == "refer"),
        first_index(decisions, lambda d: d["binding"] == "pd:decline"),
        first_index(decisions, lambda d: d["binding"].startswith("gate:")),
        int(np.argmax([d["pd"] for d in decisions])),
    }
    for i in sorted(picks):
        assert model.preapprove(test_rows.iloc[[i]])[0] == decisions[i], i
    chosen = sorted(picks)
    assert model.preapprove(test_rows.iloc[chosen[::-1]]) == [decisions[i] for i in chosen[::-1]]


# --- 5. determinism -------------------------------------------------------------------------


def refit(frame: pd.DataFrame, seed: int) -> PreapprovalModel:
    """Fit the model exactly as `train` does (shape selection included), from the raw frame."""
    model, _ = fit_model(time_split(frame), spec_from_registry(), config=TrainConfig(seed=seed))
    return model


def test_same_data_and_seed_give_the_same_model_another_seed_another(
    platform_frame: pd.DataFrame,
    trained_platform: TrainResult,
    test_rows: pd.DataFrame,
    decisions: list[Decision],
) -> None:
    again = refit(platform_frame, seed=42)
    assert again.fingerprint() == trained_platform.model.fingerprint()
    assert again.preapprove(test_rows) == decisions
    other = refit(platform_frame, seed=9)
    assert other.fingerprint() != trained_platform.model.fingerprint()
    assert not np.allclose(
        other.predict_proba(test_rows), trained_platform.model.predict_proba(test_rows)
    )


# --- 6. artifacts ---------------------------------------------------------------------------


@pytest.fixture
def saved(trained_platform: TrainResult, tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    trained_platform.model.save(directory)
    return directory


def test_save_then_load_gives_identical_decisions(
    trained_platform: TrainResult, saved: Path, test_rows: pd.DataFrame, decisions: list[Decision]
) -> None:
    loaded = PreapprovalModel.load(saved)
    assert loaded.fingerprint() == trained_platform.model.fingerprint()
    assert loaded.preapprove(test_rows) == decisions


def test_artifacts_are_text_and_json_only(saved: Path) -> None:
    names = sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file())
    assert names == sorted([*FILES, "manifest.json"])
    for name in names:
        data = (saved / name).read_bytes()
        assert not data.startswith(b"\x80"), f"{name} looks like a pickle"
        text = data.decode("utf-8")
        if name.endswith(".json"):
            json.loads(text)
    assert (saved / "model.txt").read_text().startswith("tree\n")


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", FILES)
def test_one_tampered_byte_makes_load_refuse(saved: Path, name: str) -> None:
    flip_one_byte(saved / name)
    with pytest.raises(ModelUnavailable, match=name.replace(".", r"\.")):
        PreapprovalModel.load(saved)


def test_a_missing_artifact_makes_load_refuse(saved: Path) -> None:
    (saved / "calibrator.json").unlink()
    with pytest.raises(ModelUnavailable):
        PreapprovalModel.load(saved)


@pytest.mark.parametrize("manifest", ["[]", "null"])
def test_a_manifest_that_is_not_an_object_makes_load_refuse(saved: Path, manifest: str) -> None:
    (saved / "manifest.json").write_text(manifest)
    with pytest.raises(ModelUnavailable):
        PreapprovalModel.load(saved)


def test_a_manifest_naming_a_file_outside_the_model_is_refused(saved: Path) -> None:
    outside = saved.parent / "outside.txt"
    outside.write_text("not part of the model\n")
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["../outside.txt"] = hashlib.sha256(outside.read_bytes()).hexdigest()
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelUnavailable):
        PreapprovalModel.load(saved)


# --- 7. a decline is a decision -------------------------------------------------------------


def test_a_court_debtor_is_declined_with_limit_zero_and_reasons(
    trained_platform: TrainResult, test_rows: pd.DataFrame, decisions: list[Decision]
) -> None:
    model = trained_platform.model
    approved = [i for i, d in enumerate(decisions) if d["decision"] == "approve"][:50]
    assert approved
    listed = test_rows.iloc[approved].assign(court_in_force=1.0)
    for decision in model.preapprove(listed):
        assert decision["decision"] == "decline"
        assert decision["limit_cny"] == 0.0
        assert decision["binding"] == "gate:court_debtor"
        assert decision["failed_gates"] == ["gate:court_debtor"]
        assert decision["drivers"] == [{"feature": "court_in_force", "value": 1.0, "role": "gate"}]
        assert decision["reasons"]
        assert 0.0 < decision["pd"] < 1.0
        assert decision["grade_label"]
    # Real court debtors among the test rows: every one declined, with its reasons, unless a
    # reorganisation plan in execution covers its debts: then never declined as a court debtor,
    # and referred (not approved) with the plan named, when nothing else declines it.
    inputs = ("court_in_force", *PLAN_INPUTS)
    columns = {n: test_rows[n].to_numpy(dtype=np.float64) for n in inputs}
    covered = plan_covers_court_debts(columns)
    listed = test_rows["court_in_force"].to_numpy() == 1
    real = [d for d, flag in zip(decisions, listed & ~covered, strict=True) if flag]
    assert real
    assert all(
        d["decision"] == "decline"
        and d["limit_cny"] == 0.0
        and d["reasons"]
        and "gate:court_debtor" in d["failed_gates"]
        for d in real
    )
    for d in (d for d, flag in zip(decisions, covered, strict=True) if flag):
        assert "gate:court_debtor" not in d["failed_gates"]
        assert d["decision"] != "approve"
        if d["decision"] == "refer":
            assert "重整计划" in d["limit_explained"]["text_zh"]
            assert "reorganisation plan" in d["limit_explained"]["text_en"]
