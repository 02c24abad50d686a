"""Calibration: the PD means what it says out of time, and the right calibrator is chosen.

`choose` is checked on seeded data whose truth is known: a logistic truth (Platt is the right
shape) and a step truth (only isotonic can follow it).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from models import calibration
from models.calibration import PD_CEIL, PD_FLOOR, Calibrator
from training import metrics
from training.train import TrainResult

N = 20_000


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logistic_truth(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores and outcomes drawn from PD = sigmoid(0.8 raw + 0.4)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.5, 1.2, N)
    return raw, (rng.random(N) < sigmoid(0.8 * raw + 0.4)).astype(int)


def step_truth(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores and outcomes drawn from a PD that jumps 1% -> 15% -> 50% at -2 and 0."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(-4.0, 2.0, N)
    truth = np.select([raw < -2.0, raw < 0.0], [0.01, 0.15], 0.5)
    return raw, (rng.random(N) < truth).astype(int)


def test_choose_picks_platt_when_the_truth_is_logistic() -> None:
    raw, y = logistic_truth(seed=11)
    chosen, losses = calibration.choose(raw, y, seed=0)
    assert chosen.method == "platt"
    assert losses["platt"] < losses["isotonic"]
    assert chosen.a == pytest.approx(0.8, abs=0.08)
    assert chosen.b == pytest.approx(0.4, abs=0.15)


def test_choose_picks_isotonic_when_the_truth_is_a_step() -> None:
    raw, y = step_truth(seed=12)
    chosen, losses = calibration.choose(raw, y, seed=0)
    assert chosen.method == "isotonic"
    assert losses["isotonic"] < losses["platt"]
    np.testing.assert_allclose(chosen(np.array([-3.0, -1.0, 1.0])), [0.01, 0.15, 0.5], atol=0.03)


@pytest.mark.parametrize("truth", [logistic_truth, step_truth])
def test_a_fitted_calibrator_is_monotone_clipped_and_survives_json(
    truth: Callable[[int], tuple[np.ndarray, np.ndarray]],
) -> None:
    raw, y = truth(13)
    for method in ("platt", "isotonic"):  # both are monotone, whichever fits the truth
        fitted = calibration.fit(method, raw, y)
        grid = np.linspace(-30.0, 30.0, 2001)
        pd_ = fitted(grid)
        assert (np.diff(pd_) >= 0).all()
        assert pd_.min() >= PD_FLOOR
        assert pd_.max() <= PD_CEIL
        again = Calibrator.from_dict(json.loads(json.dumps(fitted.to_dict())))
        assert again == fitted
        np.testing.assert_array_equal(again(raw), fitted(raw))


def test_out_of_time_pd_is_calibrated_and_rises_with_the_raw_score(
    trained_platform: TrainResult,
) -> None:
    model, test = trained_platform.model, trained_platform.splits["test"]
    y, pd_ = test["label"].to_numpy(), model.predict_proba(test)
    ece = metrics.ece(y, pd_)
    assert ece <= 0.03
    assert trained_platform.metrics["ece"] == pytest.approx(ece, abs=1e-12)
    assert abs(pd_.mean() - y.mean()) < 0.02  # calibration-in-the-large on the newest rows
    raw = model.raw_score(test)
    grid = np.linspace(raw.min() - 5.0, raw.max() + 5.0, 2001)
    assert (np.diff(model.calibrator_(grid)) >= 0).all()
    assert model.calibrator_(np.array([raw.max()]))[0] > model.calibrator_(np.array([raw.min()]))[0]
    if model.calibrator_.method == "isotonic":
        assert list(model.calibrator_.y) == sorted(model.calibrator_.y)
    else:
        assert model.calibrator_.a > 0


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_the_level_matches_the_newest_period_and_keeps_the_order(method: str) -> None:
    """Fitted where the base rate was higher, levelled on a newer period: its mean PD is that period's."""
    raw, y = logistic_truth(3)
    fitted = calibration.fit(method, raw, y)
    rng = np.random.default_rng(4)
    newer = rng.random(N) < sigmoid(0.8 * raw - 0.2)  # the same ranking, a lower base rate
    levelled = calibration.level(fitted, raw, newer.astype(int))
    assert levelled.shift < 0
    assert abs(float(levelled(raw).mean()) - float(newer.mean())) < 1e-6
    assert metrics.ece(newer, levelled(raw)) < metrics.ece(newer, fitted(raw))
    grid = np.linspace(-6, 2, 50)
    assert np.all(np.diff(levelled(grid)) >= 0)
    restored = Calibrator.from_dict(json.loads(json.dumps(levelled.to_dict())))
    assert np.array_equal(restored(raw), levelled(raw))
    old = {k: v for k, v in fitted.to_dict().items() if k != "shift"}  # saved before the level
    assert Calibrator.from_dict(old).shift == 0.0


def test_a_model_levels_its_calibrator_on_the_newest_validation_date(
    trained_platform: TrainResult,
) -> None:
    """The served PD's mean on the newest validation date equals that date's default rate."""
    valid = trained_platform.splits["valid"]
    newest = valid[valid["as_of"] == valid["as_of"].max()]
    assert int(newest["label"].sum()) >= 100
    model = trained_platform.model
    assert model.calibrator_.shift != 0.0
    mean_pd = float(model.predict_proba(newest).mean())
    assert abs(mean_pd - float(newest["label"].mean())) < 1e-6
