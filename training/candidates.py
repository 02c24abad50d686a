"""Which outcomes model a retraining offers the gate: chosen on the all-applicant validation sample.

Candidates, each scored by its AUC on the calibration sample (`training.calibration_sample`:
the validation period's applicants, weighted to stand for all of them; never the test split):

- `boosted`: the LightGBM correction boosted from the platform model (`lightgbm` when the bank
  trains on its loans alone);
- `platform_base`: the platform model it boosts from, without the bank's corrections, its
  calibrator refitted on the same sample;
- `woe_scorecard`: the WoE scorecard fitted on the bank's training loans;
- `blend`: the log-odds blend w * boosted + (1 - w) * scorecard, the best w in 0.1 ... 0.9.

Only `boosted` and `platform_base` can be served: the served model is a `PreapprovalModel`
whose reasons are TreeSHAP contributions of its trees (and its base's), summed per feature; the
scorecard and the blend have no such path, so their figures are recorded as evidence and never
chosen. The winner is the servable candidate with the highest AUC (ties go to `boosted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from models.pd_model import WEIGHT_COLUMN
from models.policy import ProductPolicy
from models.preapproval import ModelConfig, PreapprovalModel
from training.calibration_sample import CalibrationSample
from training.selection import WEIGHTS
from training.train import TrainResult, evaluate

SERVABLE = ("boosted", "lightgbm", "platform_base")


@dataclass(frozen=True)
class Choice:
    """The chosen candidate and every candidate's AUC on the sample it was judged on."""

    chosen: str
    auc: dict[str, float] = field(default_factory=dict)
    sample: str = "none"
    blend_weight: float | None = None

    def describe(self) -> str:
        """One line for MLflow: the sample, each candidate's AUC, the servable ones marked."""
        if not self.auc:
            return f"{self.chosen} (no all-applicant validation sample: nothing to compare)"
        parts = []
        for name, value in self.auc.items():
            label = name if name != "blend" else f"blend(w={self.blend_weight})"
            served = "" if name in SERVABLE else " (not servable)"
            parts.append(f"{label}={value:.4f}{served}")
        return f"on {self.sample}: " + ", ".join(parts)


def weighted_auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """AUC with row weights (a weighted row counts as that many rows)."""
    return float(roc_auc_score(y, score, sample_weight=weight))


def _log_odds(pd_: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def choose(
    result: TrainResult,
    base: PreapprovalModel | None,
    sample: CalibrationSample | None,
    policy: ProductPolicy | None,
    seed: int,
) -> Choice:
    """Score the candidates on `sample`; when `platform_base` wins, `result` serves it instead.

    Without a sample (no declines or no serving model) the trained model stays, unjudged.
    """
    own = "boosted" if base is not None else "lightgbm"
    if sample is None:
        return Choice(own)
    rows = sample.rows
    y = rows["label"].to_numpy(dtype=np.int64)
    w = rows[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
    if not 0 < y.sum() < len(y):
        return Choice(own)
    model_raw = result.model.raw_score(rows)
    auc = {own: weighted_auc(y, model_raw, w)}
    if base is not None:
        auc["platform_base"] = weighted_auc(y, base.raw_score(rows), w)
    blend_weight = None
    if result.scorecard is not None:
        names = list(result.model.spec.names)
        card = _log_odds(result.scorecard.predict_proba(rows[names]))
        auc["woe_scorecard"] = weighted_auc(y, card, w)
        blends = {v: weighted_auc(y, v * model_raw + (1 - v) * card, w) for v in WEIGHTS[1:-1]}
        blend_weight = max(blends, key=lambda v: (blends[v], -abs(v - 0.5)))
        auc["blend"] = blends[blend_weight]
    servable = [name for name in auc if name in SERVABLE]
    chosen = max(servable, key=lambda name: auc[name])  # ties: the first listed (own)
    if chosen == "platform_base" and base is not None:
        result.model = _recalibrated(base, policy, sample, result.model)
        evaluate(result, seed)
    result.model.meta_["candidate"] = chosen
    return Choice(chosen, auc, sample.name, blend_weight)


def _recalibrated(
    base: PreapprovalModel,
    policy: ProductPolicy | None,
    sample: CalibrationSample,
    trained: PreapprovalModel,
) -> PreapprovalModel:
    """The platform model's trees under the bank's policy, calibrated on the sample."""
    config = ModelConfig(scale=trained.scale, top_n=trained.top_n)
    model = PreapprovalModel(base.spec, policy, seed=trained.seed, config=config)
    model.classifier_ = base.classifier_
    rows = sample.rows
    weight = rows[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
    return model.calibrate(rows, rows["label"].to_numpy(dtype=np.int64), weight)
