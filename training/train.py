"""Train and evaluate the pre-approval model on a labelled feature frame, out of time.

The frame holds (uscc, as_of, label, features...). Split by as_of: train (oldest 60%),
valid (next 20%: early stopping and the choice of calibrator), test (newest 20%: every
reported metric, the baselines and the gate). Baselines are scored on the same test rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from catalog.errors import InvalidInput
from features.definitions import REGISTRY
from features.registry import Registry
from models.boosting import Boosting, LocalEngine
from models.pd_model import FeatureSpec
from models.policy import ProductPolicy
from models.preapproval import ModelConfig, PreapprovalModel
from training import baselines, metrics, shape
from training.dataset import time_split
from training.reject_inference import own_rows
from training.tuning import Budget

MIN_BADS_PER_SPLIT = 5
CALIBRATION = "calibration"  # optional key of `splits`: the calibrator's rows (never test rows)


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of one training run."""

    seed: int = 42
    params: dict[str, Any] | None = None
    shares: tuple[float, float] = (0.6, 0.2)
    top_n: int = 5
    spec: FeatureSpec | None = None  # the features to use (default: the whole registry)
    boosting: Boosting | None = None  # where the trees grow (default: LightGBM in this process)
    # The LightGBM shape is tuned on the training split (`training.shape`) unless `params` are
    # given, the trees boost from a base model, or they grow on a cluster (Dask).
    tune_shape: bool = True
    budget: Budget | None = None  # the tuning budget (None: sized by rows, `shape.budget_for`)


@dataclass
class TrainResult:
    """The fitted model, its splits and everything a reviewer reads."""

    model: PreapprovalModel
    splits: dict[str, pd.DataFrame]
    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scorecard: baselines.Scorecard | None = None  # the WoE scorecard `evaluate` compared with


def spec_from_registry(registry: Registry = REGISTRY) -> FeatureSpec:
    """The model's feature spec derived from the registry declarations."""
    return FeatureSpec(
        names=tuple(registry.names),
        monotone=tuple(registry.monotone_constraints()),
        categorical=tuple(registry.categorical()),
        texts={f.name: (f.reason_zh, f.reason_en) for f in registry.features},
        categories={f.name: f.categories for f in registry.features if f.categories},
    )


def spec_for_scopes(scopes: tuple[str, ...], registry: Registry = REGISTRY) -> FeatureSpec:
    """The registry's spec restricted to features whose data scope is one of `scopes`."""
    keep = set(registry.in_scopes(scopes))
    full = spec_from_registry(registry)
    kept = [(n, m) for n, m in zip(full.names, full.monotone, strict=True) if n in keep]
    return FeatureSpec(
        names=tuple(n for n, _ in kept),
        monotone=tuple(m for _, m in kept),
        categorical=tuple(c for c in full.categorical if c in keep),
        texts={k: v for k, v in full.texts.items() if k in keep},
        categories={k: v for k, v in full.categories.items() if k in keep},
    )


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the training frame's content (row order included)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def train(
    frame: pd.DataFrame,
    policy: ProductPolicy | None = None,
    config: TrainConfig = TrainConfig(),
    base: PreapprovalModel | None = None,
    splits: dict[str, pd.DataFrame] | None = None,
) -> TrainResult:
    """Fit on the oldest rows, early-stop and calibrate on the next, evaluate on the newest.

    `splits` (train/valid/test of `frame`) overrides the out-of-time split by date shares.
    Its optional `CALIBRATION` rows (label, sample_weight) replace the validation split as the
    calibrator's rows; they must be older than the test split (InvalidInput otherwise).
    """
    spec = config.spec or spec_from_registry()
    splits = splits or time_split(frame, config.shares)
    for name, part in splits.items():
        if name == CALIBRATION:
            continue
        bads = int(part["label"].sum())
        if bads < MIN_BADS_PER_SPLIT or bads == len(part):
            raise InvalidInput(
                f"too few defaults to train out of time: {bads} in the {name} split "
                f"(need at least {MIN_BADS_PER_SPLIT} and some goods)"
            )
    calibration_rows = splits.get(CALIBRATION)
    if (
        calibration_rows is not None
        and len(calibration_rows)
        and (
            pd.Timestamp(calibration_rows["as_of"].max())
            >= pd.Timestamp(splits["test"]["as_of"].min())
        )
    ):
        raise InvalidInput("calibration rows must be older than the out-of-time test split")
    model, chosen = fit_model(splits, spec, policy, config, base)
    result = TrainResult(model, splits, {})
    evaluate(result, config.seed)
    if chosen is not None:
        result.metrics |= {
            "shape_trials": float(chosen.trials),
            "shape_holdout_auc": chosen.holdout_auc,
            "shape_seconds": round(chosen.seconds, 2),
        }
    return result


def fit_model(
    splits: dict[str, pd.DataFrame],
    spec: FeatureSpec,
    policy: ProductPolicy | None = None,
    config: TrainConfig = TrainConfig(),
    base: PreapprovalModel | None = None,
) -> tuple[PreapprovalModel, shape.Shape | None]:
    """Choose the shape on the training split, fit on it, early-stop and calibrate on valid
    (or on the `CALIBRATION` rows when `splits` holds them)."""
    train_, valid = splits["train"], splits["valid"]
    chosen = _shape(own_rows(train_), spec, config, base)
    model_config = _model_config(config, chosen)
    model = PreapprovalModel(spec, policy, seed=config.seed, config=model_config, base=base)
    y_train, y_valid = train_["label"].to_numpy(), valid["label"].to_numpy()
    model.fit(train_, y_train, valid, y_valid, splits.get(CALIBRATION))
    if chosen is not None:
        model.meta_["shape"] = chosen.to_meta()
    return model, chosen


def _shape(
    train_: pd.DataFrame, spec: FeatureSpec, config: TrainConfig, base: PreapprovalModel | None
) -> shape.Shape | None:
    """The tuned shape, or None where the default shape is kept (see `TrainConfig.tune_shape`)."""
    engine = (config.boosting or Boosting()).engine
    if not config.tune_shape or config.params is not None or base is not None:
        return None
    if not isinstance(engine, LocalEngine):
        return None
    return shape.choose(train_, spec, config.seed, config.budget)


def _model_config(config: TrainConfig, chosen: shape.Shape | None) -> ModelConfig:
    """LightGBM parameters and rounds: the tuned shape's, else the caller's (or the defaults)."""
    if chosen is None:
        return ModelConfig(params=config.params, top_n=config.top_n, boosting=config.boosting)
    boosting = config.boosting or Boosting()
    rounds = max(boosting.n_estimators, shape.MAX_ROUNDS)
    return ModelConfig(
        params=chosen.params, top_n=config.top_n, boosting=replace(boosting, n_estimators=rounds)
    )


def fit_base(
    platform_frame: pd.DataFrame, before: pd.Timestamp, config: TrainConfig = TrainConfig()
) -> PreapprovalModel:
    """A platform (cold-start label) model from observations whose 12 months end before `before`.

    Banks' models boost from it; the cutoff keeps their out-of-time test free of its labels.
    """
    horizon = platform_frame["as_of"] + pd.DateOffset(months=12)
    usable = platform_frame[horizon < before]
    dates = np.sort(usable["as_of"].unique())
    if len(dates) < 2:
        raise InvalidInput(
            "too little public-record history before this bank's test period "
            "to train the platform model it would boost from"
        )
    cut = dates[min(max(1, round(len(dates) * 0.75)), len(dates) - 1)]  # newest quarter(s): valid
    fit, valid = usable[usable["as_of"] < cut], usable[usable["as_of"] >= cut]
    model_config = ModelConfig(params=config.params, boosting=config.boosting)
    model = PreapprovalModel(spec_from_registry(), seed=config.seed, config=model_config)
    return model.fit(fit, fit["label"].to_numpy(), valid, valid["label"].to_numpy())


def out_of_time_start(frame: pd.DataFrame, config: TrainConfig = TrainConfig()) -> pd.Timestamp:
    """First as_of of the out-of-time test split `train` will use."""
    return pd.Timestamp(time_split(frame, config.shares)["test"]["as_of"].min())


def _oracle(test: pd.DataFrame, y: np.ndarray, out: dict[str, float]) -> None:
    if "truth_pd" in test and test["truth_pd"].notna().all():
        out["auc_oracle"] = metrics.auc(y, test["truth_pd"].to_numpy())


def evaluate(result: TrainResult, seed: int) -> None:
    """Out-of-time metrics of the model and of the baselines, on the same test rows."""
    train_, test = own_rows(result.splits["train"]), result.splits["test"]
    y = test["label"].to_numpy()
    pd_test = result.model.predict_proba(test)
    out = metrics.summary(y, pd_test)
    out["psi_train_test"] = metrics.psi(result.model.predict_proba(train_), pd_test)
    names = list(result.model.spec.names)
    scorecard = baselines.fit_scorecard(
        train_[names], train_["label"].to_numpy(), list(result.model.spec.categorical), seed
    )
    out["auc_scorecard"] = metrics.auc(y, scorecard.predict_proba(test[names]))
    result.scorecard = scorecard
    rule = baselines.incumbent_rule(test)
    out["auc_incumbent_rule"] = metrics.auc(y, rule["rule_score"].to_numpy())
    out |= _at_incumbent_bad_rate(y, pd_test, rule["approved"].to_numpy())
    out["best_single_feature_auc"], best = _best_single_feature(test, y, result.model.spec)
    _oracle(test, y, out)
    out |= _limits_vs_capacity(test, result.model.preapprove(test), rule)
    out |= {
        "n_train": float(len(train_)),
        "n_valid": float(len(result.splits["valid"])),
        "train_defaults": float(train_["label"].sum()),
        "best_iteration": float(result.model.classifier_.best_iteration_),
    }
    result.metrics = out
    decisions = pd.DataFrame(result.model.preapprove(test))
    result.tables = {
        "calibration": metrics.calibration_table(y, pd_test),
        "grades": metrics.grade_table(
            y,
            pd_test,
            decisions["grade"].to_numpy(),
            decisions["decision"].eq("approve").to_numpy(),
        ),
        "baselines": pd.DataFrame(
            [
                {"model": "precredit", "auc": out["auc"]},
                {"model": "woe_scorecard", "auc": out["auc_scorecard"]},
                {"model": "incumbent_tax_rule", "auc": out["auc_incumbent_rule"]},
                {"model": f"best_single_feature ({best})", "auc": out["best_single_feature_auc"]},
            ]
            + (
                [{"model": "oracle_truth_pd", "auc": out["auc_oracle"]}]
                if "auc_oracle" in out
                else []
            )
        ),
        "decisions": decisions.drop(
            columns=["reasons", "drivers", "failed_gates"], errors="ignore"
        ),
    }


def _limits_vs_capacity(
    test: pd.DataFrame, decisions: list[dict[str, Any]], rule: pd.DataFrame
) -> dict[str, float]:
    """Over-lending against the true sustainable capacity (synthetic platform only)."""
    if "truth_capacity" not in test:
        return {}
    capacity = test["truth_capacity"].to_numpy(dtype=float)
    out = {}
    for who, limit in (
        ("model", np.array([d["limit_cny"] for d in decisions], dtype=float)),
        ("incumbent", rule["limit_cny"].to_numpy(dtype=float)),
    ):
        lent = (limit > 0) & np.isfinite(capacity)
        ratio = limit[lent] / np.maximum(capacity[lent], 1.0)
        out[f"{who}_share_limits_above_capacity"] = float((ratio > 1).mean()) if lent.any() else 0.0
        out[f"{who}_median_limit_to_capacity"] = float(np.median(ratio)) if lent.any() else 0.0
        out[f"{who}_n_limits"] = float(lent.sum())
    return out


def _at_incumbent_bad_rate(
    y: np.ndarray, pd_test: np.ndarray, approved: np.ndarray
) -> dict[str, float]:
    """Approvals of the incumbent rule and of the model at the incumbent's realised bad rate."""
    if not approved.any():
        return {"incumbent_approval_rate": 0.0}
    bad_rate = float(y[approved].mean())
    ours = metrics.approvals_at_bad_rate(y, pd_test, bad_rate)
    return {
        "incumbent_approval_rate": float(approved.mean()),
        "incumbent_bad_rate": bad_rate,
        "model_approval_rate_at_incumbent_bad_rate": float(ours["approval_rate"]),
    }


def _best_single_feature(test: pd.DataFrame, y: np.ndarray, spec: FeatureSpec) -> tuple[float, str]:
    """The strongest single raw feature (either direction), so nobody mistakes easy data for a good model."""
    best, name = 0.5, ""
    for feature in spec.names:
        values = test[feature].to_numpy(dtype=float)
        if np.isnan(values).all() or np.nanstd(values) == 0:
            continue
        filled = np.where(np.isnan(values), np.nanmedian(values), values)
        auc = metrics.auc(y, filled)
        if max(auc, 1 - auc) > best:
            best, name = max(auc, 1 - auc), feature
    return best, name
