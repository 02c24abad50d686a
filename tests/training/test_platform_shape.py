"""The platform model's LightGBM shape is chosen by the selection's tuning on training rows only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from models.pd_model import DEFAULT_PARAMS
from training import shape
from training.train import TrainConfig, TrainResult, spec_from_registry, train
from training.tuning import Budget


def _tree_extent(model_text: str) -> tuple[int, int]:
    """The most leaves and the deepest leaf over the trees of a LightGBM text model."""
    leaves = [
        int(line.split("=")[1])
        for line in model_text.splitlines()
        if line.startswith("num_leaves=")
    ]
    depths = [
        max(int(d) for d in line.split("=")[1].split())
        for line in model_text.splitlines()
        if line.startswith("leaf_depth=")
    ]
    return max(leaves), max(depths, default=0)


def _poisoned(part: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Labels flipped and a strong feature scrambled: rows no honest model could learn from."""
    rng = np.random.default_rng(seed)
    column = "tax_grade_latest"
    return part.assign(
        label=1 - part["label"], **{column: rng.permutation(part[column].to_numpy())}
    )


def test_the_shape_is_tuned_and_recorded(trained_platform: TrainResult) -> None:
    """The model records the tuned shape, and its trees stay within it."""
    meta = trained_platform.model.meta_["shape"]
    assert set(meta["params"]) == set(shape.SHAPE_KEYS)
    assert meta["trials"] >= 1
    assert 0.5 < meta["holdout_auc"] <= 1.0
    assert trained_platform.metrics["shape_trials"] == meta["trials"]
    leaves, depth = _tree_extent(trained_platform.model.classifier_.model_text())
    assert leaves <= meta["params"]["num_leaves"]
    assert depth <= meta["params"]["max_depth"]
    saved = json.loads(trained_platform.model.artifacts()["meta.json"])
    assert saved["shape"] == meta


def test_a_poisoned_test_split_leaves_the_model_unchanged(
    trained_platform: TrainResult, platform_frame: pd.DataFrame
) -> None:
    """Same training and validation rows and seed: the same fingerprint, whatever the test rows hold.

    This is also the determinism check: the model is retrained from scratch on the same rows.
    """
    splits = dict(trained_platform.splits)
    splits["test"] = _poisoned(splits["test"], seed=3)
    again = train(platform_frame, splits=splits)
    assert again.model.fingerprint() == trained_platform.model.fingerprint()
    assert again.metrics["auc"] < 0.5  # the poison reached the test rows, and only them


def test_the_shape_never_sees_the_validation_split(
    trained_platform: TrainResult, platform_frame: pd.DataFrame
) -> None:
    """Poisoned validation rows move early stopping and calibration, never the tuned shape."""
    splits = dict(trained_platform.splits)
    splits["valid"] = _poisoned(splits["valid"], seed=5)
    again = train(platform_frame, splits=splits)
    assert again.model.meta_["shape"] == trained_platform.model.meta_["shape"]
    assert again.model.fingerprint() != trained_platform.model.fingerprint()


def test_the_search_is_seeded(trained_platform: TrainResult) -> None:
    """Same rows and seed, the same shape; another seed searches other points."""
    train_, spec, budget = trained_platform.splits["train"], spec_from_registry(), Budget(trials=3)
    chosen = shape.choose(train_, spec, 42, budget)
    again = shape.choose(train_, spec, 42, budget)
    reseeded = shape.choose(train_, spec, 7, budget)
    assert chosen is not None
    assert again is not None
    assert reseeded is not None
    assert again.to_meta() == chosen.to_meta()
    assert reseeded.params != chosen.params


def test_explicit_params_keep_the_given_shape(platform_frame: pd.DataFrame) -> None:
    """A caller's LightGBM parameters are honoured: no tuning, nothing recorded."""
    given = {"num_leaves": 4, "max_depth": 2}
    result = train(platform_frame, config=TrainConfig(params=given))
    assert "shape" not in result.model.meta_
    leaves, depth = _tree_extent(result.model.classifier_.model_text())
    assert leaves <= 4
    assert depth <= 2
    assert DEFAULT_PARAMS["num_leaves"] > 4
