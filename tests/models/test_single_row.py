"""LightGBM's single-row fast path gives `Booster.predict`'s raw scores and TreeSHAP bit for bit."""

from __future__ import annotations

import gc
import pickle
import threading
import weakref

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.boosting import Boosting
from models.pd_model import FeatureSpec, PDClassifier
from models.single_row import SingleRowPredictor

N_FEATURES = 12
CATEGORICAL = 3  # column index of a categorical feature (codes 0-5)


def _data(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, N_FEATURES))
    X[:, CATEGORICAL] = rng.integers(0, 6, size=rows)
    X[rng.random(size=X.shape) < 0.15] = np.nan  # missing values in every column
    X[rng.random(size=rows) < 0.05, 0] = -0.0
    return X


@pytest.fixture(scope="module")
def classifier() -> PDClassifier:
    X = _data(3_000, 1)
    rng = np.random.default_rng(2)
    signal = np.nan_to_num(X[:, 0]) + (np.nan_to_num(X[:, CATEGORICAL]) == 2) - X[:, 5] ** 2
    y = (signal + rng.normal(size=len(X)) > 0).astype(float)
    names = tuple(f"f{j}" for j in range(N_FEATURES))
    data = lgb.Dataset(X, y, feature_name=list(names), categorical_feature=[CATEGORICAL])
    params = {"objective": "binary", "num_leaves": 15, "max_depth": 4, "verbosity": -1}
    booster = lgb.train(params | {"seed": 3, "deterministic": True}, data, num_boost_round=60)
    spec = FeatureSpec(names, (0,) * N_FEATURES, (names[CATEGORICAL],))
    return PDClassifier.from_text(spec, booster.model_to_string())


def test_one_row_equals_booster_predict_bit_for_bit(classifier: PDClassifier) -> None:
    booster = classifier.booster_
    rows = _data(400, 4)
    rows[0] = np.nan  # every input missing
    rows[1, CATEGORICAL] = 9.0  # a category never seen in training
    batch_contrib = booster.predict(rows, pred_contrib=True)
    batch_raw = booster.predict(rows, raw_score=True)
    for i, row in enumerate(rows):
        one = row.reshape(1, -1)
        contrib = classifier.contributions(one)
        assert contrib.shape == (1, N_FEATURES + 1)
        assert contrib.tobytes() == booster.predict(one, pred_contrib=True, num_threads=1).tobytes()
        assert contrib[0].tobytes() == batch_contrib[i].tobytes()
        raw = classifier.raw_score(one)
        assert raw.tobytes() == booster.predict(one, raw_score=True, num_threads=1).tobytes()
        assert raw[0] == batch_raw[i]


def test_threads_each_score_on_a_booster_of_their_own(classifier: PDClassifier) -> None:
    rows = _data(200, 5)
    expected = classifier.booster_.predict(rows, pred_contrib=True)
    predictor = SingleRowPredictor(classifier.model_text(), N_FEATURES)
    results: dict[int, np.ndarray] = {}

    def score(k: int) -> None:
        order = np.random.default_rng(k).permutation(len(rows))
        out = np.empty_like(expected)
        for i in order:
            out[i] = predictor.contributions(rows[i : i + 1])[0]
        results[k] = out

    threads = [threading.Thread(target=score, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    for out in results.values():
        assert out.tobytes() == expected.tobytes()
    assert 1 <= predictor.handles() <= 6  # one per call running at once, kept for the next


def test_a_row_of_the_wrong_width_is_refused(classifier: PDClassifier) -> None:
    predictor = SingleRowPredictor(classifier.model_text(), N_FEATURES)
    with pytest.raises(ValueError, match="12 features"):
        predictor.contributions(np.zeros(N_FEATURES - 1))


def test_handles_are_freed_with_the_predictor(classifier: PDClassifier) -> None:
    predictor = SingleRowPredictor(classifier.model_text(), N_FEATURES)
    row = _data(1, 6)
    first = predictor.contributions(row)
    assert predictor.handles() == 1  # one call at a time: one booster, used again
    assert predictor.contributions(row).tobytes() == first.tobytes()
    assert predictor.handles() == 1
    handle = weakref.ref(predictor._free[0])
    booster = weakref.ref(predictor._free[0].booster)
    del predictor
    gc.collect()
    assert handle() is None
    assert booster() is None
    again = SingleRowPredictor(classifier.model_text(), N_FEATURES).contributions(row)
    assert again.tobytes() == first.tobytes()


def test_a_refitted_classifier_scores_with_its_new_trees(classifier: PDClassifier) -> None:
    spec = classifier.spec
    model = PDClassifier(
        spec, {"verbosity": -1}, Boosting(n_estimators=20, early_stopping_rounds=5)
    )
    row = _data(1, 7)
    for seed in (8, 9):
        X = pd.DataFrame(_data(1_000, seed), columns=list(spec.names))
        y = np.nan_to_num(X["f0"].to_numpy()) + np.random.default_rng(seed).normal(size=1_000) > 0
        model.fit(X[:700], y[:700].astype(float), X[700:], y[700:].astype(float))
        expected = model.booster_.predict(
            row, pred_contrib=True, num_iteration=model.best_iteration_
        )
        assert model.contributions(row).tobytes() == expected.tobytes()


def test_a_classifier_that_scored_one_row_still_pickles(classifier: PDClassifier) -> None:
    row = _data(1, 10)
    scored = classifier.contributions(row)  # holds a single-row predictor and its boosters
    copy = pickle.loads(pickle.dumps(classifier))
    assert "single_row_" not in copy.__dict__
    assert copy.contributions(row).tobytes() == scored.tobytes()
