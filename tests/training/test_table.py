"""Training on a bank's own table: real LightGBM on seeded synthetic tables with a known truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from catalog.errors import InvalidInput
from models.pd_model import PDClassifier
from training import metrics
from training.table import (
    Prepared,
    Roles,
    TableSpec,
    cv_parts,
    evaluate,
    load_table,
    prepare,
    time_parts,
    train_table,
    verdict,
)
from training.tuning import Budget

N_ROWS, N_MISSING_TARGET = 3_000, 12
BUDGET = Budget(trials=4, seconds=60.0)  # a small search keeps the module fast
SECTORS = np.array(["agri", "manufacturing", "retail", "services", "tech"])
SECTOR_LOGIT = np.array([0.7, 0.0, 0.4, -0.3, -0.8])
BETA = np.array([0.9, -0.7, 0.5, 0.4, -0.3, 0.0])
METRICS = ("auc", "ks", "brier", "ece", "auc_logistic")


def bank_table(seed: int = 7, n: int = N_ROWS) -> tuple[pd.DataFrame, np.ndarray]:
    """Six numeric features and a sector with known logistic effects, dates, ids, good/bad."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, BETA.size))
    sector = rng.integers(0, SECTORS.size, n)
    truth = 1.0 / (1.0 + np.exp(-(-1.7 + numeric @ BETA + SECTOR_LOGIT[sector])))
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(1, BETA.size + 1)])
    frame.loc[rng.random(n) < 0.05, "x3"] = np.nan
    frame["sector"] = SECTORS[sector]
    days = np.sort(rng.integers(0, 5 * 365, n))
    frame["as_of"] = pd.Timestamp("2019-01-01") + pd.to_timedelta(days, unit="D")
    frame["company_id"] = [f"C{i:05d}" for i in range(n)]
    frame["status"] = np.where(rng.random(n) < truth, "bad", "good").astype(object)
    frame.loc[rng.choice(n, N_MISSING_TARGET, replace=False), "status"] = None
    return frame, truth


def _prepare(frame: pd.DataFrame, time_col: str | None = "as_of") -> Prepared:
    return prepare(frame, Roles("status", "bad", time_col, "company_id"))


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    return bank_table()


@pytest.fixture(scope="module")
def out_of_time(table: tuple[pd.DataFrame, np.ndarray]) -> dict[str, Any]:
    return evaluate(_prepare(table[0]), seed=42, budget=BUDGET)


@pytest.fixture(scope="module")
def cross_validated(table: tuple[pd.DataFrame, np.ndarray]) -> dict[str, Any]:
    undated = table[0].drop(columns="as_of")  # a table without dates: nothing to split by
    return evaluate(_prepare(undated, time_col=None), seed=42, budget=BUDGET)


# --- out of time --------------------------------------------------------------------------------


def test_out_of_time_auc_is_close_to_the_true_pd(
    table: tuple[pd.DataFrame, np.ndarray], out_of_time: dict[str, Any]
) -> None:
    frame, truth = table
    prepared = _prepare(frame)
    assert prepared.time is not None
    test = time_parts(prepared.time)[2]
    oracle = metrics.auc(prepared.y[test], truth[frame["status"].notna().to_numpy()][test])
    assert out_of_time["auc"] > 0.7
    assert out_of_time["auc"] > oracle - 0.04
    assert out_of_time["auc_logistic"] == pytest.approx(oracle, abs=0.03)  # the truth is logistic
    assert out_of_time["ece"] < 0.06


def test_out_of_time_report_is_complete_json(out_of_time: dict[str, Any]) -> None:
    assert {"auc", "ks", "brier", "ece", "auc_logistic", "n_rows", "n_positive"} <= set(out_of_time)
    assert out_of_time["split"] == "out_of_time"
    assert out_of_time["n_rows"] == N_ROWS - N_MISSING_TARGET
    assert (
        out_of_time["n_fit"] + out_of_time["n_valid"] + out_of_time["n_test"]
        == out_of_time["n_rows"]
    )
    assert out_of_time["n_test"] == pytest.approx(0.2 * out_of_time["n_rows"], rel=0.05)
    assert out_of_time["dropped_rows"] == {"missing_target": N_MISSING_TARGET, "missing_time": 0}
    assert out_of_time["categorical"] == ["sector"]
    assert out_of_time["n_features"] == 7  # x1..x6 and sector; not the date, id or target
    assert json.loads(json.dumps(out_of_time)) == out_of_time


def test_the_split_puts_the_newest_rows_in_test(table: tuple[pd.DataFrame, np.ndarray]) -> None:
    time = _prepare(table[0]).time
    assert time is not None
    fit, valid, test = time_parts(time)
    assert time[fit].max() < time[valid].min() <= time[valid].max() < time[test].min()


# --- cross-validation ---------------------------------------------------------------------------


def test_cross_validation_reports_mean_and_std(cross_validated: dict[str, Any]) -> None:
    assert cross_validated["split"] == "cv5"
    assert len(cross_validated["calibration"]) == 5
    for name in METRICS:
        assert np.isfinite(cross_validated[name])
        assert 0.0 < cross_validated[f"{name}_std"] < 0.1
    assert cross_validated["auc"] > 0.75
    assert cross_validated["n_rows"] == N_ROWS - N_MISSING_TARGET
    assert cross_validated["categorical"] == ["sector"]


# --- determinism and file formats ---------------------------------------------------------------


def test_cv_folds_are_seeded_stratified_and_disjoint(
    table: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """The only randomness CV adds to the out-of-time path; model determinism is pinned below."""
    y = _prepare(table[0].drop(columns="as_of"), time_col=None).y
    parts = cv_parts(y, seed=42)
    assert len(parts) == 5
    for fit, valid, test in parts:
        assert len(set(fit) | set(valid) | set(test)) == fit.size + valid.size + test.size == y.size
        assert valid.size == pytest.approx(0.2 * (fit.size + valid.size), abs=1)
        for rows in (fit, valid, test):
            assert y[rows].mean() == pytest.approx(y.mean(), abs=0.01)
    every_test_row = np.sort(np.concatenate([test for *_, test in parts]))
    assert np.array_equal(every_test_row, np.arange(y.size))  # each row held out exactly once
    again, other = cv_parts(y, seed=42), cv_parts(y, seed=43)
    assert all(
        np.array_equal(a, b)
        for one, two in zip(parts, again, strict=True)
        for a, b in zip(one, two, strict=True)
    )
    assert not np.array_equal(parts[0][2], other[0][2])


def test_csv_parquet_and_a_rerun_give_identical_metrics(
    table: tuple[pd.DataFrame, np.ndarray], out_of_time: dict[str, Any], tmp_path: Path
) -> None:
    """Three independent runs (in memory, CSV, Parquet) with one seed: one identical report."""
    table[0].to_csv(tmp_path / "bank.csv", index=False)
    table[0].to_parquet(tmp_path / "bank.parquet", index=False)
    runs = [
        train_table(
            TableSpec(tmp_path / name, Roles("status", "bad", "as_of", "company_id")),
            seed=42,
            budget=BUDGET,
        )
        for name in ("bank.csv", "bank.parquet")
    ]
    assert [run.pop("table") for run in runs] == ["bank.csv", "bank.parquet"]
    assert runs[0] == runs[1]
    assert {k: v for k, v in runs[0].items() if k not in {"target", "positive"}} == out_of_time


# --- encoding -----------------------------------------------------------------------------------


def test_a_categorical_signal_alone_is_learnt_with_categorical_splits() -> None:
    rng = np.random.default_rng(11)
    n = 2_000
    regions = np.array(["central", "coastal", "east", "north", "south", "west"])
    region = rng.integers(0, regions.size, n)
    logit = np.array([1.0, -3.0, 2.0, -2.0, 0.0, -1.0])  # not monotone in the sorted codes
    bad = rng.random(n) < 1.0 / (1.0 + np.exp(-logit[region]))
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["noise1", "noise2", "noise3"])
    frame["region"], frame["label"] = regions[region], np.where(bad, "bad", "good")
    frame["month"] = pd.period_range("2021-01", periods=24, freq="M").astype(str)[np.arange(n) % 24]
    prepared = prepare(frame, Roles("label", "bad", "month"))
    assert prepared.spec.categorical == ("region",)
    assert prepared.spec.categories["region"] == tuple(regions)
    assert evaluate(prepared, seed=1, budget=BUDGET)["auc"] > 0.7
    assert prepared.time is not None
    fit, valid, _ = time_parts(prepared.time)
    model = PDClassifier(prepared.spec).fit(
        prepared.X.iloc[fit], prepared.y[fit], prepared.X.iloc[valid], prepared.y[valid]
    )
    assert "cat_threshold=" in model.model_text()  # LightGBM split on category sets, natively


def test_same_table_gives_same_codes_from_a_sorted_list() -> None:
    frame = pd.DataFrame(
        {
            "kind": ["b", "a", None, "c", "a"] * 20,
            "flag": [True, False] * 50,
            "y": ["bad", "good"] * 50,
        }
    )
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    one, two = prepare(frame, Roles("y", "bad")), prepare(shuffled, Roles("y", "bad"))
    assert one.spec.categories == two.spec.categories == {"kind": ("a", "b", "c")}
    assert one.spec.monotone == (0, 0)
    assert one.spec.categorical == ("kind",)
    assert one.X["kind"][:2].tolist() == [1.0, 0.0]
    assert np.isnan(one.X["kind"][2])
    for prepared, source in ((one, frame), (two, shuffled)):
        codes = dict(zip(source["kind"].dropna(), prepared.X["kind"].dropna(), strict=True))
        assert codes == {"a": 0.0, "b": 1.0, "c": 2.0}
        assert prepared.X["flag"].tolist() == source["flag"].astype(float).tolist()


def test_csv_booleans_with_gaps_become_0_1_and_float_targets_match(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    flags, labels = ["", "True", "False"], [f"{i % 2}" if i % 11 else "" for i in range(120)]
    rows = [f"{flags[i % 3]},{i % 7},{labels[i]}" for i in range(120)]
    path.write_text("has_collateral,x,default\n" + "\n".join(rows) + "\n")
    prepared = prepare(load_table(path), Roles("default", "1"))
    kept = [i for i in range(120) if labels[i]]
    expected = [{0: np.nan, 1: 1.0, 2: 0.0}[i % 3] for i in kept]
    np.testing.assert_array_equal(prepared.X["has_collateral"].to_numpy(), expected)
    assert prepared.spec.categorical == ()
    assert prepared.dropped == {"missing_target": 11, "missing_time": 0}
    assert prepared.y.sum() == sum(i % 2 for i in range(120) if i % 11)


def test_rows_without_a_date_are_dropped_and_counted(
    table: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame = table[0].copy()
    frame.loc[frame.index[:30], "as_of"] = pd.NaT
    prepared = _prepare(frame)
    missing_target = int(frame["status"].isna().sum())
    missing_both = int(frame["status"][:30].isna().sum())
    assert prepared.dropped == {"missing_target": missing_target, "missing_time": 30 - missing_both}
    assert prepared.y.size == N_ROWS - missing_target - 30 + missing_both


# --- errors -------------------------------------------------------------------------------------


def _with(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    return frame.assign(**columns)


Change = Callable[[pd.DataFrame], pd.DataFrame]
ERRORS: dict[str, tuple[Change, dict[str, str], str]] = {
    "target": (lambda f: f, {"target": "default"}, "target column 'default' is not in the table"),
    "time": (lambda f: f, {"time_col": "date"}, "time column 'date' is not in the table"),
    "id": (lambda f: f, {"id_col": "uscc"}, "id column 'uscc' is not in the table"),
    "positive": (lambda f: f, {"positive": "default"}, "positive value 'default' never occurs"),
    "one class": (lambda f: _with(f, status="bad"), {}, "only one class"),
    "dates": (lambda f: _with(f, as_of=["2020-01-01"] * (len(f) - 1) + ["soon"]), {},
              "time column 'as_of' is not parseable as dates \\(1 values, first at row 2999\\)"),
    "rows": (lambda f: f.head(40), {}, r"only 39 usable rows \(1 dropped for a missing target or time\); need at least 50"),
    "positives": (lambda f: _with(f, status=["bad"] * 9 + ["good"] * (len(f) - 9)), {},
                  "only 9 positive rows; need at least 10"),
    "features": (lambda f: f[["status", "as_of", "company_id"]], {}, "no feature columns"),
    "same column": (lambda f: f, {"id_col": "as_of"}, "must be different columns"),
    "name": (lambda f: f.rename(columns={"x1": "x[1]"}), {}, "LightGBM refuses"),
}  # fmt: skip


@pytest.mark.parametrize("case", ERRORS)
def test_bad_tables_are_invalid_input(table: tuple[pd.DataFrame, np.ndarray], case: str) -> None:
    change, overrides, message = ERRORS[case]
    args = {"target": "status", "positive": "bad", "time_col": "as_of", "id_col": "company_id"}
    with pytest.raises(InvalidInput, match=message):
        prepare(change(table[0]), Roles(**(args | overrides)))


def test_a_time_part_without_both_classes_is_invalid_input(
    table: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame = table[0].copy()
    frame.loc[frame.index[-700:], "status"] = "good"  # nothing bad among the newest rows
    with pytest.raises(InvalidInput, match="out-of-time test part"):
        evaluate(_prepare(frame))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bank.xlsx", b"x,y\n1,2\n"),
        ("bank.parquet", b"SECRET-ROW,not parquet at all\n"),
        ("bank.csv", b""),
        ("bank.csv", b"\xff\xfe SECRET-ROW \x00\x81"),
    ],
)
def test_unreadable_tables_are_one_line_without_content(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as info:
        load_table(path)
    assert "SECRET" not in info.value.message
    assert "\n" not in info.value.message
    assert info.value.__cause__ is None  # no parser traceback chained to the message
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_missing_table_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"'absent\.csv' not found"):
        load_table(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("auc", "best", "beaten"),
    [(0.80, "logistic", False), (0.70, "logistic", True), (0.74, "lightgbm_default", True)],
)
def test_verdict_says_in_words_when_a_baseline_wins(auc: float, best: str, beaten: bool) -> None:
    """The best baseline on the same rows, the margin, and a WARNING sentence when it wins."""
    scores = {"auc_scorecard": 0.72, "auc_logistic": 0.75, "auc_lightgbm_default": 0.74}
    if best == "lightgbm_default":
        scores["auc_lightgbm_default"] = 0.76
    out = verdict({"auc": auc} | scores)
    assert out["best_baseline"] == best
    assert out["margin"] == pytest.approx(auc - scores[f"auc_{best}"])
    assert out["beats_baselines"] is not beaten
    assert out["verdict"].startswith("WARNING: baseline") is beaten
    assert best in out["verdict"]
