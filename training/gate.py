"""The promotion gate: a challenger replaces the champion only when proven better.

Checks, all on the same out-of-time rows: discrimination proven against the champion's (the
challenger's AUC above the champion's on the point, and not significantly below it: the upper
end of the seeded paired-bootstrap 95% interval of the difference at least 0,
`training.paired_auc`), discrimination not below the WoE scorecard fitted on the same training
rows (plus a margin, 0 by default; a scorecard AUC the caller did not compute fails the check),
calibration error within a limit that allows for the rows' sampling noise (`ece_limit`) on the
rows with real outcomes, and on declines labelled from the platform proxy calibration in the
large per proxy value (`training.gate_calibration`), monotonicity on a probe grid, score
stability (PSI between training and out-of-time rows), and a minimum number of defaults in
the training set. The verdict lists every check with its value and threshold. A failed gate can still be
promoted only by an explicit, recorded override (`training.promotion.Override`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from features.definitions import REGISTRY
from models.pd_model import FeatureSpec
from training import gate_calibration, metrics, paired_auc


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the promotion gate (per tenant in configuration)."""

    scorecard_margin: float = 0.0  # AUC the challenger needs above the WoE scorecard's
    max_ece: float = 0.02  # the limit where test rows are many; fewer rows widen it (ece_limit)
    ece_allows_noise: bool = True  # False: `max_ece` whatever the rows (a fixed, strict limit)
    max_psi: float = 0.25
    min_defaults: int = 30
    probe_rows: int = 40
    probe_points: int = 9


@dataclass(frozen=True)
class Check:
    """One gate check."""

    name: str
    passed: bool
    value: float
    threshold: float
    detail: str = ""


@dataclass(frozen=True)
class GateVerdict:
    """All checks and the overall verdict."""

    passed: bool
    checks: list[Check] = field(default_factory=list)
    sample: str = "own_loans"  # which rows it judged on (`training.gate_sample`)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready verdict."""
        return {
            "passed": self.passed,
            "sample": self.sample,
            "checks": [asdict(c) for c in self.checks],
        }

    def reasons(self) -> list[str]:
        """One line per failed check."""
        return [
            f"{c.name}: {c.value:.4g} vs {c.threshold:.4g} {c.detail}".strip()
            for c in self.checks
            if not c.passed
        ]


def ece_limit(
    config: GateConfig, pd_test: np.ndarray, seed: int = 0, groups: np.ndarray | None = None
) -> tuple[float, str]:
    """The calibration limit on these test rows, and how it was set.

    `max_ece`, or the ECE a perfectly calibrated model would exceed with 5% probability on
    rows of this size and PD mix (`metrics.ece_noise`), whichever is larger: a small bank's
    600 test loans at a 4-5% bad rate carry about 0.03 of sampling noise, and a fixed 0.02
    refuses a third of perfectly calibrated models there; a large bank's rows carry little,
    so its limit stays `max_ece`. Rows repeating one observation (`groups`) share its draw.
    """
    if not config.ece_allows_noise:
        return config.max_ece, "(fixed limit)"
    noise = metrics.ece_noise(pd_test, seed=seed, groups=groups)
    n = len(pd_test) if groups is None else len(np.unique(groups))
    if noise > config.max_ece:
        return noise, f"(sampling noise on {n:,} observations; fixed limit {config.max_ece})"
    return config.max_ece, f"(sampling noise {noise:.4f} on {n:,} observations)"


class Gated(Protocol):
    """What the gate needs of a model: its features, seed and PD per row."""

    @property
    def spec(self) -> FeatureSpec: ...

    @property
    def seed(self) -> int: ...

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


def declared_directions(model: Gated) -> dict[str, int]:
    """Monotone directions as the registry declares them (a model cannot relax its own),
    falling back to the model's spec for features outside the registry (own tables)."""
    declared = {f.name: f.monotone for f in REGISTRY.features}
    return {
        n: declared.get(n, d) for n, d in zip(model.spec.names, model.spec.monotone, strict=True)
    }


def monotonicity_violations(
    model: Gated, X: pd.DataFrame, rows: int, points: int, seed: int
) -> list[str]:
    """Constrained features along which PD moves against the declared direction on a probe grid."""
    sample = X.sample(n=min(rows, len(X)), random_state=seed).reset_index(drop=True)
    bad = []
    for name, direction in declared_directions(model).items():
        if direction == 0:
            continue
        grid = np.unique(np.nanquantile(X[name].to_numpy(dtype=float), np.linspace(0, 1, points)))
        if len(grid) < 2:
            continue
        probe = sample.iloc[np.repeat(np.arange(len(sample)), len(grid))].copy()
        probe[name] = np.tile(grid, len(sample))
        pd_ = model.predict_proba(probe).reshape(len(sample), len(grid))
        steps = np.diff(pd_, axis=1) * direction
        if (steps < -1e-12).any():
            bad.append(name)
    return bad


@dataclass(frozen=True)
class GateRows:
    """The rows a gate judges on: training features, out-of-time test rows and their labels."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_test: np.ndarray
    train_defaults: int
    scorecard_auc: float | None = None  # the WoE scorecard's AUC on these test rows
    sample: str = "own_loans"  # which population the test rows are (`training.gate_sample`)
    # the out-of-time loans for the stability check when X_test is another population (PSI
    # compares like with like: declined applicants in the sample would shift the scores)
    X_stability: pd.DataFrame | None = None
    groups: np.ndarray | None = None  # the observation each row repeats (None: its own)
    inferred: np.ndarray | None = None  # rows whose label was drawn from the platform proxy
    # per proxy value, the (defaults, loans) the drawn labels' rate came from
    proxy_counts: dict[int, tuple[int, int]] | None = None

    @classmethod
    def from_splits(
        cls, splits: dict[str, pd.DataFrame], train_defaults: int, scorecard_auc: float | None
    ) -> GateRows:
        """The gate's rows from a time split (`train`, `test` with a `label` column)."""
        test = splits["test"]
        y = test["label"].to_numpy()
        return cls(splits["train"], test, y, train_defaults, scorecard_auc)


def scorecard_check(auc: float, scorecard_auc: float | None, margin: float) -> Check:
    """The challenger's AUC is at least the WoE scorecard's on the same rows, plus `margin`."""
    if scorecard_auc is None or math.isnan(scorecard_auc):
        return Check("beats_scorecard", False, auc, 1.0, "(no scorecard AUC on these rows)")
    floor = scorecard_auc + margin
    detail = f"(WoE scorecard {scorecard_auc:.4f} on the same rows)"
    return Check("beats_scorecard", bool(auc >= floor), auc, floor, detail)


def calibration_checks(
    rows: GateRows,
    pd_test: np.ndarray,
    pd_champion: np.ndarray | None,
    config: GateConfig,
    seed: int,
) -> list[Check]:
    """ECE on the rows with real outcomes; on proxy-labelled declines, calibration by proxy value.

    A decline's drawn label depends on its proxy value alone, flat across the model's PD
    within it: bin by bin it calls any model that ranks declines miscalibrated. What those
    labels carry is each proxy value's default rate, so the declines are judged there.
    """
    real = np.ones(len(pd_test), dtype=bool) if rows.inferred is None else ~rows.inferred
    y, p = rows.y_test[real], pd_test[real]
    groups = None if rows.groups is None else rows.groups[real]
    ece = metrics.ece(y, p)
    limit, detail = ece_limit(config, p, seed, groups)
    if pd_champion is not None:  # for the reader: what the serving model reaches on these rows
        detail += f" (champion {metrics.ece(y, pd_champion[real]):.4f})"
    if not real.all():
        detail += " on the loans with real outcomes only"
    checks = [Check("calibration_ece", bool(ece <= limit), ece, limit, detail)]
    if rows.inferred is not None and rows.inferred.any() and rows.proxy_counts:
        proxy = rows.X_test["proxy"].to_numpy()[rows.inferred]
        passed, gap, text = gate_calibration.by_proxy(
            pd_test[rows.inferred], proxy, rows.proxy_counts, paired_auc.LEVEL
        )
        checks.append(Check("calibration_by_proxy", passed, gap, 0.0, text))
    return checks


def auc_check(
    y: np.ndarray,
    pd_test: np.ndarray,
    pd_champion: np.ndarray | None,
    groups: np.ndarray | None,
    seed: int,
) -> Check:
    """Proven better than the champion: above its AUC on the point and not significantly below.

    Without a champion: better than random.
    """
    auc = metrics.auc(y, pd_test)
    if pd_champion is None:
        return Check(
            "auc_not_worse", bool(auc >= 0.5), auc, 0.5, "(no champion: better than random)"
        )
    diff = paired_auc.paired_auc(y, pd_test, pd_champion, groups, seed)
    champion_auc = auc - diff.difference
    verdict = (
        "significantly worse"
        if diff.high < 0
        else ("better on the point" if diff.difference > 0 else "not better on the point")
    )
    detail = (
        f"(champion {champion_auc:.4f}; difference {diff.describe()}, paired bootstrap "
        f"{paired_auc.LEVEL:.0%} over {diff.units:,} observations: {verdict}; rule: above the "
        "champion on the point and not significantly worse)"
    )
    passed = bool(diff.difference > 0 and diff.high >= 0)
    return Check("auc_not_worse", passed, auc, champion_auc, detail)


def evaluate_gate(
    challenger: Gated,
    champion: Gated | None,
    rows: GateRows,
    config: GateConfig = GateConfig(),
) -> GateVerdict:
    """Run every check of the gate for a challenger (and the champion, if any) on the same rows."""
    pd_test = challenger.predict_proba(rows.X_test)
    pd_champion = champion.predict_proba(rows.X_test) if champion else None
    auc = metrics.auc(rows.y_test, pd_test)
    stable = pd_test if rows.X_stability is None else challenger.predict_proba(rows.X_stability)
    psi = metrics.psi(challenger.predict_proba(rows.X_train), stable)
    broken = monotonicity_violations(
        challenger, rows.X_test, config.probe_rows, config.probe_points, challenger.seed
    )
    checks = [
        auc_check(rows.y_test, pd_test, pd_champion, rows.groups, challenger.seed),
        scorecard_check(auc, rows.scorecard_auc, config.scorecard_margin),
        *calibration_checks(rows, pd_test, pd_champion, config, challenger.seed),
        Check("monotonicity", not broken, float(len(broken)), 0.0, ", ".join(broken)),
        Check("score_psi", bool(psi <= config.max_psi), psi, config.max_psi),
        Check(
            "min_defaults",
            rows.train_defaults >= config.min_defaults,
            float(rows.train_defaults),
            float(config.min_defaults),
        ),
    ]
    return GateVerdict(all(c.passed for c in checks), checks, rows.sample)
