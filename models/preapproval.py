"""The pre-approval model: PD classifier + calibrator + master scale + product policy + reasons.

One object a bank buys: `fit` / `predict_proba` like a scikit-learn classifier, and
`preapprove(features)` giving decision, limit, PD, grade and reasons, identical for a row
alone and inside a batch. Artifacts are safe formats (LightGBM text, JSON) listed with their
SHA-256 in `manifest.json` and verified on load.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from catalog.errors import ModelUnavailable
from models import calibration
from models.batch import explain_rows
from models.boosting import Boosting
from models.decision import Preapproval
from models.grades import DEFAULT_SCALE, MasterScale
from models.pd_model import WEIGHT_COLUMN, FeatureSpec, PDClassifier
from models.policy import ProductPolicy, default_policy


@dataclass(frozen=True)
class ModelConfig:
    """How a pre-approval model is built and explained, besides its features and policy."""

    params: dict[str, Any] | None = None  # LightGBM parameters over `pd_model.DEFAULT_PARAMS`
    scale: MasterScale = DEFAULT_SCALE
    top_n: int = 5  # reasons per answer
    boosting: Boosting | None = None  # rounds, early stopping and engine (None: the defaults)


MIN_LEVEL_BADS = 100  # fewer defaults in the newest calibration period: its level is noise


def newest_period(X_valid: pd.DataFrame) -> np.ndarray | None:
    """Rows of the newest third of the calibration rows by `as_of` (whole dates; None: no dates).

    With quarterly observation dates this is the newest date; with loans, the newest third.
    """
    if "as_of" not in X_valid or len(X_valid) == 0:
        return None
    dates = pd.to_datetime(X_valid["as_of"]).to_numpy()
    cut = np.sort(dates)[(2 * len(dates)) // 3]
    return np.asarray(dates >= cut)


def _effective_bads(y: np.ndarray, weight: np.ndarray | None, rows: np.ndarray) -> float:
    """Defaults among the rows; weighted, Kish's effective count (sum w)^2 / sum w^2."""
    if weight is None:
        return float(np.sum(y))
    w = np.asarray(weight, dtype=np.float64)[rows] * (np.asarray(y) == 1)
    squares = float(np.sum(w**2))
    return float(np.sum(w)) ** 2 / squares if squares > 0 else 0.0


FILES = ("model.txt", "calibrator.json", "spec.json", "scale.json", "policy.json", "meta.json")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PreapprovalModel:
    """Everything needed to turn feature rows into explained pre-approvals."""

    def __init__(
        self,
        spec: FeatureSpec,
        policy: ProductPolicy | None = None,
        *,
        seed: int = 42,
        config: ModelConfig | None = None,
        base: PreapprovalModel | None = None,
    ) -> None:
        self.spec: FeatureSpec = spec
        self.base = base
        if base is not None and base.spec.names != spec.names:
            raise ValueError("a base model must use the same features in the same order")
        self.policy = policy
        self.seed = seed
        self.config = config or ModelConfig()

    @property
    def scale(self) -> MasterScale:
        """The master scale grading the PDs."""
        return self.config.scale

    @property
    def params(self) -> dict[str, Any] | None:
        """LightGBM parameters over the defaults."""
        return self.config.params

    @property
    def top_n(self) -> int:
        """Reasons per answer."""
        return self.config.top_n

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_valid: pd.DataFrame,
        y_valid: np.ndarray,
        calibration_rows: pd.DataFrame | None = None,
    ) -> PreapprovalModel:
        """Train the classifier (early stopping on the out-of-time X_valid), then calibrate on it.

        The calibrator's map is fitted on every validation row, its level on the newest period
        of them (`newest_period`, when it holds `MIN_LEVEL_BADS` defaults): under a drifting
        base rate the newest mature period is the best forecast of the next.

        With a `base` model the trees boost from its raw score (transfer from the platform model),
        so a bank with few defaults of its own learns only its corrections.

        `calibration_rows` (features, `label` and `sample_weight`, e.g. a sample standing for all
        applicants) replace X_valid as the calibrator's rows; early stopping stays on X_valid.
        """
        init = (self.base.raw_score(X), self.base.raw_score(X_valid)) if self.base else None
        self.classifier_ = PDClassifier(
            self.spec, self.params, self.config.boosting, seed=self.seed
        ).fit(X, y, X_valid, y_valid, init=init)
        if calibration_rows is None:
            self.calibrate(X_valid, np.asarray(y_valid))
        else:
            weight = calibration_rows[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
            self.calibrate(calibration_rows, calibration_rows["label"].to_numpy(), weight)
        return self

    def calibrate(
        self, X_cal: pd.DataFrame, y_cal: np.ndarray, weight: np.ndarray | None = None
    ) -> PreapprovalModel:
        """Fit the calibrator on (X_cal, y_cal), rows weighted by `weight` (None: 1 each).

        The map is fitted on every row, its level on the newest period of them
        (`newest_period`, when it holds `MIN_LEVEL_BADS` defaults).
        """
        raw, y_cal = self.raw_score(X_cal), np.asarray(y_cal)
        self.calibrator_, self.calibration_losses_ = calibration.choose(
            raw, y_cal, self.seed, weight
        )
        newest = newest_period(X_cal)
        if newest is not None and _effective_bads(y_cal[newest], weight, newest) >= MIN_LEVEL_BADS:
            self.calibrator_ = calibration.level(
                self.calibrator_,
                raw[newest],
                y_cal[newest],
                None if weight is None else weight[newest],
            )
        self.meta_: dict[str, Any] = {
            "seed": self.seed,
            "best_iteration": self.classifier_.best_iteration_,
            "calibration_losses": self.calibration_losses_,
            "base": self.base.fingerprint() if self.base else None,
        }
        return self

    def raw_score(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Log-odds before calibration (the base model's plus this model's trees)."""
        own = self.classifier_.raw_score(X)
        return own + self.base.raw_score(X) if self.base else own

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """TreeSHAP contributions of base and own trees, summed (last column: base value)."""
        own = self.classifier_.contributions(X)
        return own + self.base.contributions(X) if self.base else own

    @property
    def policy_(self) -> ProductPolicy:
        """The product policy in force (the default platform policy unless one was given)."""
        return self.policy or default_policy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated PD per row (the probability of the positive class)."""
        return self.calibrator_(self.raw_score(X))

    def score(self, X: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        """Raw score, contributions and PD for a batch (one TreeSHAP pass)."""
        matrix = self._matrix(X)
        contributions = self.contributions(matrix)
        raw = contributions.sum(axis=1)
        return {
            "matrix": matrix,
            "contributions": contributions,
            "raw": raw,
            "pd": self.calibrator_(raw),
        }

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Rows x features in spec order, float64 (an array must already be in that order)."""
        if isinstance(X, pd.DataFrame):
            return self.classifier_.matrix(X)
        matrix = np.asarray(X, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.spec.names):
            raise ValueError(f"expected rows x {len(self.spec.names)} features, got {matrix.shape}")
        return matrix

    def preapprovals(self, features: pd.DataFrame | np.ndarray) -> list[Preapproval]:
        """Decision, limit, PD, grade, binding rule and top reasons for every row.

        `features` is a frame, or a rows x features array in spec order (the serving hot path).
        One row or many, the same code (`models.batch.explain_rows`) gives the same answer.
        """
        return explain_rows(self, features).preapprovals(self.policy_)

    def preapprove(self, features: pd.DataFrame | np.ndarray) -> list[dict[str, Any]]:
        """`preapprovals` as plain dicts (one per row, e.g. for a frame or MLflow's pyfunc)."""
        return [p.model_dump() for p in self.preapprovals(features)]

    def artifacts(self) -> dict[str, bytes]:
        """The model's files, ready to write."""
        texts = {
            "model.txt": self.classifier_.model_text(),
            "calibrator.json": json.dumps(self.calibrator_.to_dict()),
            "spec.json": json.dumps(self.spec.to_dict(), ensure_ascii=False),
            "scale.json": json.dumps(self.scale.to_dict()),
            "policy.json": self.policy_.to_json(),
            "meta.json": json.dumps(self.meta_ | {"top_n": self.top_n}, sort_keys=True),
        }
        files = {name: text.encode() for name, text in texts.items()}
        if self.base:
            files |= {f"base/{name}": data for name, data in self.base.artifacts().items()}
        return files

    def save(self, directory: Path) -> dict[str, str]:
        """Write the artifacts and `manifest.json` (SHA-256 per file); returns the manifest."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {}
        for name, data in self.artifacts().items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(data)
            manifest[name] = _sha256(data)
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return manifest

    def fingerprint(self) -> str:
        """SHA-256 over the artifacts: same data and seed, same fingerprint."""
        return _sha256(
            "".join(f"{k}:{_sha256(v)}" for k, v in sorted(self.artifacts().items())).encode()
        )

    @classmethod
    def load(cls, directory: Path) -> PreapprovalModel:
        """Load a saved model, refusing any file whose SHA-256 differs from the manifest."""
        return cls.from_files(_verified(directory))

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> PreapprovalModel:
        """Rebuild a model from its (verified) artifact bytes."""
        spec = FeatureSpec.from_dict(json.loads(files["spec.json"]))
        meta = json.loads(files["meta.json"])
        nested = {k.removeprefix("base/"): v for k, v in files.items() if k.startswith("base/")}
        base = cls.from_files(nested) if nested else None
        config = ModelConfig(
            scale=MasterScale.from_dict(json.loads(files["scale.json"])), top_n=int(meta["top_n"])
        )
        model = cls(
            spec,
            ProductPolicy.from_json(files["policy.json"].decode()),
            seed=int(meta["seed"]),
            config=config,
            base=base,
        )
        model.classifier_ = PDClassifier.from_text(spec, files["model.txt"].decode(), model.seed)
        model.calibrator_ = calibration.Calibrator.from_dict(json.loads(files["calibrator.json"]))
        model.calibration_losses_ = meta.get("calibration_losses", {})
        model.meta_ = {k: v for k, v in meta.items() if k != "top_n"}
        return model


ALLOWED = frozenset(FILES) | {f"base/{name}" for name in FILES}  # nothing else is ever read


def _verified(directory: Path) -> dict[str, bytes]:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        if not isinstance(manifest, dict) or not set(manifest) <= ALLOWED:
            raise ValueError("manifest is not a map of known artifact names")
        names = set(manifest) | set(FILES)
        files = {name: (directory / name).read_bytes() for name in sorted(names)}
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"model artifacts in {directory.name} are missing or unreadable"
        ) from error
    for name, data in files.items():
        if manifest.get(name) != _sha256(data):
            raise ModelUnavailable(
                f"model artifact {name} does not match its SHA-256 in the manifest"
            )
    return files
