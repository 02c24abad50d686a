"""The reasons' TreeSHAP values are the ones `shap.TreeExplainer` computes for the same model.

Serving reads LightGBM's own `pred_contrib` (no shap import on the hot path); this pins that
those are exactly the contributions the reference implementation gives, on out-of-time rows.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import shap

from training.train import TrainResult


def test_lightgbm_contributions_equal_shap_tree_explainer(trained_platform: TrainResult) -> None:
    classifier = trained_platform.model.classifier_
    rows = trained_platform.splits["test"].head(300)
    matrix = classifier.matrix(rows)
    ours = classifier.contributions(matrix)
    # The served trees only (up to the early-stopping iteration), as one standalone booster.
    booster = lgb.Booster(model_str=classifier.model_text())
    explainer = shap.TreeExplainer(booster)
    theirs = np.asarray(explainer.shap_values(matrix))
    assert theirs.shape == ours[:, :-1].shape
    np.testing.assert_allclose(ours[:, :-1], theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours[:, -1], explainer.expected_value, rtol=0, atol=1e-9)
