"""Model selection: never sees the test fold, deterministic for a seed, monotone where constrained.

Real LightGBM, optbinning and Optuna on a seeded synthetic table with a known truth: risk rises
with `utilisation`, falls with `years_trading`, is peaked in `age` and ignores `noise`.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from models.pd_model import FeatureSpec
from training import comparison, metrics, selection, tuning
from training.tuning import Budget, Labelled

BUDGET = Budget(trials=4, seconds=120.0, inner_folds=3)
N_ROWS = 1_500


def synthetic(n: int = N_ROWS, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray, FeatureSpec]:
    """A table whose default log-odds are known; one categorical column."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "utilisation": rng.uniform(0, 1, n),
            "years_trading": rng.gamma(2.0, 3.0, n),
            "age": rng.uniform(20, 70, n),
            "noise": rng.normal(size=n),
            "region": rng.integers(0, 4, n).astype(np.float64),
        }
    )
    logit = (
        -1.5
        + 2.5 * X["utilisation"]
        - 0.15 * X["years_trading"]
        + 0.002 * (X["age"] - 45) ** 2
        + 0.3 * (X["region"] == 2)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(np.int64)
    names = tuple(X.columns)
    spec = FeatureSpec(names, (0,) * len(names), ("region",), {}, {"region": ("a", "b", "c", "d")})
    return X, y, spec


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray, FeatureSpec]:
    return synthetic()


@pytest.fixture(scope="module")
def chosen(table: tuple[pd.DataFrame, np.ndarray, FeatureSpec]) -> selection.SelectedModel:
    X, y, spec = table
    return selection.select(Labelled(X, y, spec), budget=BUDGET, seed=3)


def test_directions_are_inferred_from_the_woe_trend(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec],
) -> None:
    """Rising risk -> +1, falling -> -1; a categorical column is never constrained."""
    X, y, spec = table
    inferred = dict(zip(spec.names, tuning.infer_monotone(X, y, spec).monotone, strict=True))
    assert inferred["utilisation"] == 1
    assert inferred["years_trading"] == -1
    assert inferred["region"] == 0


def test_a_declared_direction_is_kept(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec],
) -> None:
    """The registry's direction wins over the data's."""
    X, y, spec = table
    declared = FeatureSpec(spec.names, (0, 0, 0, -1, 0), spec.categorical)
    assert tuning.infer_monotone(X, y, declared).monotone[3] == -1


@pytest.mark.parametrize(("rows", "leaves_max", "child_min"), [(600, 8, 10), (60_000, 63, 120)])
def test_search_space_scales_with_table_size(rows: int, leaves_max: int, child_min: int) -> None:
    """Small tables are searched over few leaves; big ones over more leaves and larger leaves."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    shapes = []
    for _ in range(30):
        trial = study.ask()
        shapes.append(tuning.suggest(trial, rows))
        study.tell(trial, 0.0)
    assert max(shape["num_leaves"] for shape in shapes) <= leaves_max
    assert min(shape["min_child_samples"] for shape in shapes) >= child_min
    if rows < 5_000:
        assert min(shape["reg_lambda"] for shape in shapes) >= 1.0


def test_same_seed_same_model_other_seed_other_model(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec], chosen: selection.SelectedModel
) -> None:
    """Selection is deterministic for a seed: same fingerprint, same predictions."""
    X, y, spec = table
    again = selection.select(Labelled(X, y, spec), budget=BUDGET, seed=3)
    assert again.fingerprint() == chosen.fingerprint()
    np.testing.assert_array_equal(again.predict_proba(X), chosen.predict_proba(X))
    other = selection.select(Labelled(X, y, spec), budget=BUDGET, seed=4)
    assert other.fingerprint() != chosen.fingerprint()


def test_poisoned_test_fold_does_not_change_the_choice(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec],
) -> None:
    """Scrambling the test rows' labels and features changes the test AUC, never the model."""
    X, y, spec = table
    train, test = comparison.folds(y, 5, seed=1)[0]
    clean = comparison.score_split(Labelled(X, y, spec), (train, test), budget=BUDGET, seed=3)
    poisoned_X, poisoned_y = X.copy(), y.copy()
    poisoned_y[test] = 1 - poisoned_y[test]
    poisoned_X.loc[test, "utilisation"] = poisoned_X.loc[test, "utilisation"].to_numpy()[::-1]
    poisoned = comparison.score_split(
        Labelled(poisoned_X, poisoned_y, spec), (train, test), budget=BUDGET, seed=3
    )
    assert poisoned["model"] == clean["model"]
    assert poisoned["_model"].fingerprint() == clean["_model"].fingerprint()
    assert poisoned["auc"] < 0.5 < clean["auc"]  # the test rows were really poisoned


def test_chosen_model_is_monotone_along_constrained_features(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec], chosen: selection.SelectedModel
) -> None:
    """Raising a feature constrained +1 never lowers PD; one constrained -1 never raises it."""
    X, _, _ = table
    constrained = {n: d for n, d in zip(chosen.spec.names, chosen.spec.monotone, strict=True) if d}
    assert constrained.keys() >= {"utilisation", "years_trading"}
    rows = X.sample(50, random_state=0)
    for name, direction in constrained.items():
        grid = np.quantile(X[name], np.linspace(0, 1, 25))
        curves = np.column_stack(
            [chosen.predict_proba(rows.assign(**{name: value})) for value in grid]
        )
        steps = direction * np.diff(curves, axis=1)
        assert steps.min() >= -1e-9, name


def test_evidence_names_candidates_and_a_calibrated_choice(
    table: tuple[pd.DataFrame, np.ndarray, FeatureSpec], chosen: selection.SelectedModel
) -> None:
    """Three candidates with inner AUCs; the chosen one has the best; PDs are probabilities."""
    X, y, _ = table
    described = chosen.describe()
    assert set(described["inner_auc"]) == {"scorecard", "blend", "lightgbm"}
    best = max(described["inner_auc"].values())
    assert described["inner_auc"][described["chosen"]] == best
    assert described["calibration"] in {"isotonic", "platt"}
    pd_ = chosen.predict_proba(X)
    assert pd_.min() > 0.0
    assert pd_.max() < 1.0
    assert abs(pd_.mean() - y.mean()) < 0.03
    assert metrics.auc(y, pd_) > 0.7


def test_out_of_time_inner_split_holds_out_the_newest_rows() -> None:
    """With dates, the inner split fits on the oldest 75% and holds out the newest 25%."""
    y = np.tile([0, 1, 0, 0], 50).astype(np.int64)
    time = pd.Series(pd.date_range("2020-01-01", periods=200, freq="D"))
    ((fit, held),) = selection.inner_splits(y, time, 3, seed=0)
    assert time[fit].max() < time[held].min()
    assert held.size == pytest.approx(50, abs=1)


def test_ece_interval_brackets_the_ece() -> None:
    """The bootstrap interval is seeded and contains the point estimate."""
    rng = np.random.default_rng(0)
    pd_ = rng.uniform(0.01, 0.4, 2_000)
    y = (rng.random(2_000) < pd_).astype(np.int64)
    low, high = comparison.ece_interval(y, pd_, seed=1)
    assert low <= metrics.ece(y, pd_) <= high
    assert (low, high) == comparison.ece_interval(y, pd_, seed=1)
