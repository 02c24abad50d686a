"""A model trained on a bank's own table, as plain files, scored from the table's raw rows.

PD = calibrator(w * LightGBM log-odds + (1 - w) * WoE scorecard log-odds), exactly the model
`training.selection` chose (w = 1 LightGBM, w = 0 scorecard, else their blend). The files hold
no pickle: the trees as LightGBM text, the scorecard as its WoE tables (bin edges or category
codes -> weight of evidence, missing -> its training WoE) with the logistic coefficients, the
calibrator's knots or coefficients, and the table's encoding (column order, category lists).
`manifest.json` keeps a SHA-256 per file, checked on load. This module imports neither
optbinning nor Optuna, so the registered pyfunc loads with the runtime packages only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from catalog.errors import InvalidInput, ModelUnavailable
from models import calibration
from models.pd_model import FeatureSpec

if TYPE_CHECKING:
    from training.baselines import Scorecard

TIE_BREAK = 1e-7  # as training.selection: keeps the model's order inside a flat isotonic step
FILES = ("spec.json", "meta.json", "calibrator.json", "booster.txt", "scorecard.json")


@dataclass(frozen=True)
class WoeFeature:
    """One scorecard feature: WoE per bin (numbers: `edges`, bins as np.digitize) or per code."""

    edges: tuple[float, ...]  # numeric bin edges; empty with `codes` for a categorical feature
    woe: tuple[float, ...]  # per bin (len(edges) + 1) or per code (codes 0..len(woe) - 1)
    missing: float  # WoE of a missing value (and of a code never seen)
    categorical: bool

    def transform(self, values: np.ndarray) -> np.ndarray:
        """WoE per value."""
        out = np.full(values.size, self.missing, dtype=np.float64)
        present = ~np.isnan(values)
        woe = np.asarray(self.woe, dtype=np.float64)
        if self.categorical:
            codes = values[present].astype(np.int64)
            known = (codes >= 0) & (codes < woe.size)
            out[np.flatnonzero(present)[known]] = woe[codes[known]]
        else:
            out[present] = woe[np.digitize(values[present], np.asarray(self.edges), right=False)]
        return out


@dataclass(frozen=True)
class WoeScorecard:
    """The WoE logistic scorecard as tables: log-odds = intercept + sum coef * WoE."""

    features: dict[str, WoeFeature]
    coef: tuple[float, ...]
    intercept: float

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """ln(PD / (1 - PD)) per row of encoded features."""
        woe = np.column_stack(
            [f.transform(X[name].to_numpy(dtype=np.float64)) for name, f in self.features.items()]
        )
        coef = np.asarray(self.coef, dtype=np.float64).reshape(1, -1)
        # As scikit-learn's decision_function computes it (same products, same sum order).
        woe = np.asfortranarray(woe)  # the memory order of optbinning's transform output
        return np.asarray(woe @ coef.T + self.intercept, dtype=np.float64).ravel()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        features = {
            name: {
                "edges": list(f.edges),
                "woe": list(f.woe),
                "missing": f.missing,
                "categorical": f.categorical,
            }
            for name, f in self.features.items()
        }
        return {"features": features, "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def of(cls, card: Scorecard, n_codes: dict[str, int]) -> WoeScorecard:
        """A fitted scorecard as WoE tables, read back through its own transform on probes.

        `n_codes` names the categorical features and their number of codes (0..n - 1).
        """
        features = {}
        for position, name in enumerate(card.features):
            if name in n_codes:
                edges: tuple[float, ...] = ()
                probes = np.arange(n_codes[name], dtype=np.float64)
            else:
                edges = tuple(float(v) for v in card.binning.get_binned_variable(name).splits)
                probes = _bin_probes(edges)
            woe = _probe_woe(card, name, position, np.append(probes, np.nan))
            features[name] = WoeFeature(edges, tuple(woe[:-1]), float(woe[-1]), name in n_codes)
        coef = tuple(float(c) for c in card.model.coef_[0])
        return cls(features, coef, float(card.model.intercept_[0]))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WoeScorecard:
        """Inverse of `to_dict`."""
        features = {
            name: WoeFeature(tuple(f["edges"]), tuple(f["woe"]), f["missing"], f["categorical"])
            for name, f in data["features"].items()
        }
        return cls(features, tuple(data["coef"]), float(data["intercept"]))


def _bin_probes(edges: tuple[float, ...]) -> np.ndarray:
    """One value inside each bin that np.digitize(edges, right=False) defines."""
    if not edges:
        return np.zeros(1)
    cuts = np.asarray(edges)
    inner = (cuts[:-1] + cuts[1:]) / 2.0
    return np.concatenate([[cuts[0] - 1.0], inner, [cuts[-1] + 1.0]])


def _probe_woe(card: Scorecard, name: str, position: int, probes: np.ndarray) -> list[float]:
    """The scorecard's WoE of `probes` in feature `name` (other features missing)."""
    frame = pd.DataFrame(np.nan, index=range(probes.size), columns=list(card.features))
    frame[name] = probes
    return [float(v) for v in card.woe(frame)[:, position]]


@dataclass(frozen=True, eq=False)
class TableModel:
    """The registered table model: encoding, LightGBM and/or WoE scorecard, weight, calibrator."""

    spec: FeatureSpec
    weight: float  # LightGBM's share of the log-odds
    calibrator: calibration.Calibrator
    booster: lgb.Booster | None
    scorecard: WoeScorecard | None
    meta: dict[str, Any]

    @property
    def seed(self) -> int:
        """The training seed (the gate's probe sample uses it)."""
        return int(self.meta.get("seed", 42))

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """Blended raw log-odds of encoded rows, before calibration."""
        out = np.zeros(len(X), dtype=np.float64)
        if self.booster is not None:
            matrix = np.ascontiguousarray(X.loc[:, list(self.spec.names)].to_numpy(np.float64))
            out += self.weight * np.asarray(self.booster.predict(matrix, raw_score=True))
        if self.scorecard is not None:
            out += (1.0 - self.weight) * self.scorecard.log_odds(X)
        return out

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each column's share of the blended log-odds, and the base value, per encoded row.

        LightGBM's part is its TreeSHAP (`pred_contrib`), the scorecard's part its points
        (coefficient x WoE, the intercept in the base), both times their blend weight, so
        `base + contributions.sum(axis=1)` equals `log_odds(X)` (before calibration).
        """
        names = list(self.spec.names)
        out = np.zeros((len(X), len(names)), dtype=np.float64)
        base = np.zeros(len(X), dtype=np.float64)
        if self.booster is not None:
            matrix = np.ascontiguousarray(X.loc[:, names].to_numpy(np.float64))
            shap = np.asarray(self.booster.predict(matrix, pred_contrib=True), dtype=np.float64)
            out += self.weight * shap[:, :-1]
            base += self.weight * shap[:, -1]
        if self.scorecard is not None:
            share = 1.0 - self.weight
            for name, feature in self.scorecard.features.items():
                k = list(self.scorecard.features).index(name)
                woe = feature.transform(X[name].to_numpy(dtype=np.float64))
                out[:, names.index(name)] += share * self.scorecard.coef[k] * woe
            base += share * self.scorecard.intercept
        return out, base

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated PD per encoded row (1-D)."""
        z = self.log_odds(X)
        calibrated = np.asarray(self.calibrator(z), dtype=np.float64)
        order = TIE_BREAK * (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))
        return np.asarray(calibrated + order, dtype=np.float64)

    def score_table(self, rows: pd.DataFrame) -> np.ndarray:
        """PD per raw table row (columns as in the training table; others are ignored)."""
        return self.predict_proba(encode_rows(rows, self.spec))

    def files(self) -> dict[str, bytes]:
        """The model's files, ready to write."""
        texts = {
            "spec.json": json.dumps(self.spec.to_dict(), ensure_ascii=False),
            "meta.json": json.dumps(self.meta | {"weight": self.weight}, sort_keys=True),
            "calibrator.json": json.dumps(self.calibrator.to_dict()),
        }
        if self.booster is not None:
            texts["booster.txt"] = self.booster.model_to_string()
        if self.scorecard is not None:
            texts["scorecard.json"] = json.dumps(self.scorecard.to_dict())
        return {name: text.encode() for name, text in texts.items()}

    def fingerprint(self) -> str:
        """SHA-256 of what decides a PD (encoding, trees, WoE tables, weight, calibrator), not
        of the descriptive meta: same table, seed and budget, same fingerprint."""
        files = {k: v for k, v in self.files().items() if k != "meta.json"}
        parts = "".join(f"{k}:{_sha256(v)}" for k, v in sorted(files.items()))
        return _sha256(f"{parts}weight:{self.weight!r}".encode())

    def save(self, directory: Path) -> None:
        """Write the files and `manifest.json` (SHA-256 per file)."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {}
        for name, data in self.files().items():
            (directory / name).write_bytes(data)
            manifest[name] = _sha256(data)
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> TableModel:
        """Load saved files, refusing any whose SHA-256 differs from the manifest."""
        files = _verified(directory)
        meta = json.loads(files["meta.json"])
        booster = files.get("booster.txt")
        card = files.get("scorecard.json")
        return cls(
            FeatureSpec.from_dict(json.loads(files["spec.json"])),
            float(meta.pop("weight")),
            calibration.Calibrator.from_dict(json.loads(files["calibrator.json"])),
            None if booster is None else lgb.Booster(model_str=booster.decode()),
            None if card is None else WoeScorecard.from_dict(json.loads(card)),
            meta,
        )


def codes(values: pd.Series, categories: tuple[str, ...]) -> pd.Series:
    """Integer codes (as floats) of each value's text in `categories`; NaN where missing."""
    text = values.map(str, na_action="ignore")
    known = text.where(text.isin(categories))  # a value never seen in training is missing
    found = pd.Categorical(known, categories=list(categories)).codes
    return pd.Series(np.where(found < 0, np.nan, found.astype(np.float64)), index=values.index)


def encode_rows(rows: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Raw table rows encoded as in training: category codes by the training lists, numbers."""
    absent = [name for name in spec.names if name not in rows.columns]
    if absent:
        raise InvalidInput(f"the rows lack the model's columns: {', '.join(absent[:10])}")
    columns = {}
    for name in spec.names:
        values = rows[name]
        if name in spec.categorical:
            columns[name] = codes(values, spec.categories[name])
            continue
        try:
            numbers = values.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"column {name!r} must be numeric, as in training") from None
        columns[name] = numbers.replace([np.inf, -np.inf], np.nan)
    return pd.DataFrame(columns, index=rows.index)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified(directory: Path) -> dict[str, bytes]:
    """The files listed in the manifest, each matching its SHA-256; only known names."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        if not isinstance(manifest, dict) or not set(manifest) <= set(FILES):
            raise ValueError("manifest is not a map of known file names")
        files = {name: (directory / name).read_bytes() for name in sorted(manifest)}
    except (OSError, ValueError) as error:
        raise ModelUnavailable("table model files are missing or unreadable") from error
    for name, data in files.items():
        if manifest[name] != _sha256(data):
            raise ModelUnavailable(f"table model file {name} does not match its SHA-256")
    return files
