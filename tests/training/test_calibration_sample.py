"""The challenger's calibration sample and the choice of the outcomes model.

Hand-made rows pin the sample's weights (test loans to declines standing for every decline of
the validation period, else reject-inferred declines); a real small platform store checks that
the calibrator is fitted on those rows only, never on the test split, deterministically, and
that the chosen candidate is recorded on the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catalog.errors import InvalidInput
from models import calibration
from models.pd_model import WEIGHT_COLUMN
from models.preapproval import MIN_LEVEL_BADS, PreapprovalModel, newest_period
from training import calibration_sample as cs
from training import candidates
from training.dataset import time_split
from training.retrain import CORRECTION_PARAMS
from training.train import CALIBRATION, TrainConfig, TrainResult, train

DAY = pd.Timestamp("2024-06-30")
SMALL = TrainConfig(params={"num_leaves": 7, "min_child_samples": 40})  # no shape search: fast


def valid_loans() -> pd.DataFrame:
    """6 approved loans (1 default) and 4 test loans to declined applicants (2 defaults)."""
    return pd.DataFrame(
        {
            "as_of": DAY,
            "label": [1, 0, 0, 0, 0, 0, 1, 1, 0, 0],
            "explore": [False] * 6 + [True] * 4,
            "x": np.arange(10.0),
        }
    )


def test_test_loans_to_declines_stand_for_every_decline_of_the_period() -> None:
    # 40 test loans out of 200 lawful declines in the bank's history: each stands for 5
    weight = cs.inverse_probability(200, 40)
    assert weight == 5.0
    inp = cs.CalibrationInput(valid_loans(), None, None, weight, 1.0, min_explore_defaults=2)
    sample = cs.choose(inp)
    assert sample.name == "explore"
    assert sample.rows[WEIGHT_COLUMN].tolist() == [1.0] * 6 + [5.0] * 4
    # by hand: the weighted bad rate is (1 + 2 x 5) / (6 + 4 x 5) = 11 / 26
    y, w = sample.rows["label"].to_numpy(), sample.rows[WEIGHT_COLUMN].to_numpy()
    assert np.average(y, weights=w) == pytest.approx(11 / 26)
    assert "each weighted 5.00" in sample.detail
    # a test loan stands at least for itself; none drawn: no weight to give
    assert cs.inverse_probability(3, 4) == 1.0
    assert cs.inverse_probability(3, 0) == 1.0


def test_a_test_loan_stands_for_the_declines_of_the_snapshots_whose_loans_matured() -> None:
    jan, apr, jul = (
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-04-01"),
        pd.Timestamp("2024-07-01"),
    )
    declines = pd.Series([jan] * 10 + [apr] * 20 + [jul] * 5)
    # 2 test loans read January's snapshot, 3 April's; July's loans have not all matured (1)
    tests = pd.Series([pd.Timestamp("2024-01-15")] * 2 + [pd.Timestamp("2024-05-01")] * 3 + [jul])
    assert cs.explore_weight(declines, tests) == (10 + 20) / (2 + 3)
    assert cs.explore_weight(declines, tests.iloc[5:]) == 5.0  # one snapshot only: itself
    assert cs.explore_weight(declines, tests.iloc[:0]) == 1.0


def test_too_few_test_loan_defaults_fall_back_to_inferred_declines_then_to_the_loans() -> None:
    rejects = pd.DataFrame({"as_of": DAY, "x": [20.0, 21.0, 22.0], "proxy": [1, 0, 0]})
    p = np.array([0.5, 0.1, 0.1])
    # 3 defaults among the test loans are needed: 2 are too few; 12 declines without a loan
    # stood for by the 3 sampled ones: weight 4 each
    weight = cs.inverse_probability(12, 3)
    inp = cs.CalibrationInput(valid_loans(), rejects, p, 5.0, weight, min_explore_defaults=3)
    sample = cs.choose(inp)
    assert sample.name == "reject_inferred"
    inferred = sample.rows.iloc[10:]
    assert inferred[WEIGHT_COLUMN].tolist() == pytest.approx([2.0, 0.4, 0.4, 2.0, 3.6, 3.6])
    assert inferred["label"].tolist() == [1, 1, 1, 0, 0, 0]
    assert sample.rows.iloc[:10][WEIGHT_COLUMN].tolist() == [1.0] * 10
    alone = cs.choose(cs.CalibrationInput(valid_loans(), None, None, 5.0, 4.0, 3))
    assert alone.name == "own_loans"
    assert alone.rows[WEIGHT_COLUMN].tolist() == [1.0] * 10


def test_a_weighted_calibrator_equals_one_fitted_on_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-raw))).astype(int)
    w = rng.integers(1, 4, size=300).astype(float)
    repeated = np.repeat(np.arange(300), w.astype(int))
    for method in ("isotonic", "platt"):
        weighted = calibration.fit(method, raw, y, w)
        whole = calibration.fit(method, raw[repeated], y[repeated])
        probe = np.linspace(-3, 3, 25)
        assert weighted(probe) == pytest.approx(whole(probe), abs=1e-5)
    level = calibration.level(calibration.fit("platt", raw, y), raw, y, w)
    assert np.average(level(raw), weights=w) == pytest.approx(np.average(y, weights=w))


def _sample_for(splits: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """The validation split with a random third flagged as test loans to declines, weight 3."""
    valid = splits["valid"]
    flags = np.random.default_rng(seed).random(len(valid)) < 1 / 3
    inp = cs.CalibrationInput(valid.assign(explore=flags), None, None, 3.0, 1.0, 1)
    sample = cs.choose(inp)
    assert sample.name == "explore"
    return sample.rows


def test_the_calibrator_is_fitted_on_the_sample_and_never_on_test_rows(
    platform_frame: pd.DataFrame,
) -> None:
    splits = time_split(platform_frame)
    rows = _sample_for(splits)
    result = train(platform_frame, config=SMALL, splits=splits | {CALIBRATION: rows})
    model = result.model
    raw, y, w = model.raw_score(rows), rows["label"].to_numpy(), rows[WEIGHT_COLUMN].to_numpy()
    expected, _ = calibration.choose(raw, y, SMALL.seed, w)
    newest = newest_period(rows)
    assert newest is not None
    if y[newest].sum() >= MIN_LEVEL_BADS:
        expected = calibration.level(expected, raw[newest], y[newest], w[newest])
    assert model.calibrator_ == expected
    # other test labels: the same calibrator (the test split is only evaluated)
    test = splits["test"].assign(label=1 - splits["test"]["label"])
    flipped = train(platform_frame, config=SMALL, splits=splits | {"test": test, CALIBRATION: rows})
    assert flipped.model.calibrator_ == model.calibrator_
    # calibration rows reaching into the test period are refused
    leaking = pd.concat([rows, splits["test"].assign(**{WEIGHT_COLUMN: 1.0})], ignore_index=True)
    with pytest.raises(InvalidInput, match="older than the out-of-time test split"):
        train(platform_frame, config=SMALL, splits=splits | {CALIBRATION: leaking})


def test_same_sample_and_seed_same_model(platform_frame: pd.DataFrame) -> None:
    splits = time_split(platform_frame)
    fingerprints = {
        train(
            platform_frame, config=SMALL, splits=splits | {CALIBRATION: _sample_for(splits)}
        ).model.fingerprint()
        for _ in range(2)
    }
    assert len(fingerprints) == 1


def test_the_chosen_candidate_is_the_best_servable_one_and_is_recorded(
    platform_frame: pd.DataFrame, trained_platform: TrainResult
) -> None:
    base = trained_platform.model
    splits = time_split(platform_frame)
    rows = _sample_for(splits, seed=1)
    config = TrainConfig(params=CORRECTION_PARAMS)
    result = train(platform_frame, config=config, base=base, splits=splits | {CALIBRATION: rows})
    boosted = result.model
    sample = cs.CalibrationSample(rows, "explore", "hand-made")
    choice = candidates.choose(result, base, sample, None, config.seed)
    assert set(choice.auc) == {"boosted", "platform_base", "woe_scorecard", "blend"}
    y, w = rows["label"].to_numpy(), rows[WEIGHT_COLUMN].to_numpy()
    assert choice.auc["boosted"] == pytest.approx(
        candidates.weighted_auc(y, boosted.raw_score(rows), w)
    )
    assert choice.auc["platform_base"] == pytest.approx(
        candidates.weighted_auc(y, base.raw_score(rows), w)
    )
    servable = {k: v for k, v in choice.auc.items() if k in candidates.SERVABLE}
    assert choice.chosen == max(servable, key=lambda k: servable[k])
    assert result.model.meta_["candidate"] == choice.chosen
    assert "woe_scorecard=" in choice.describe()
    assert "(not servable)" in choice.describe()
    if choice.chosen == "platform_base":  # the platform's trees alone, recalibrated
        assert result.model.base is None
        assert result.model.raw_score(rows) == pytest.approx(base.raw_score(rows))
    else:
        assert result.model is boosted
    # the served model is a PreapprovalModel either way: its files load back to the same PDs
    loaded = PreapprovalModel.from_files(result.model.artifacts())
    assert loaded.predict_proba(rows) == pytest.approx(result.model.predict_proba(rows))
    # without an all-applicant sample nothing is compared and the trained model stays
    assert candidates.choose(result, base, None, None, 42).chosen == "boosted"
