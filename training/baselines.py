"""Baselines a PD model must beat on the same rows: a WoE scorecard and the banks' current rule.

The scorecard is the industry standard: optimal monotone binning (optbinning), weights of
evidence, then an L2 logistic regression. The incumbent rule is the tax-multiplier rule of
tax-data loans (银税互动, DOMAIN.md §6) computed from the registry features.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas
from optbinning import BinningProcess
from sklearn.linear_model import LogisticRegression

from catalog.errors import InvalidInput
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS
from training.metrics import FloatArray, as_labels

log = logging.getLogger(__name__)

MIN_BIN_SIZE = 0.05
MONOTONIC_TREND = "auto_asc_desc"  # categorical bins are ordered by event rate: always ascending
PDO, BASE_POINTS, BASE_ODDS = 20.0, 600.0, 50.0  # 600 points at good:bad odds 50:1, 20 to double

GRADE_LETTERS: Mapping[int, str] = MappingProxyType({5: "A", 4: "B", 3: "M", 2: "C", 1: "D"})
MULTIPLIERS: Mapping[str, float] = MappingProxyType({"A": 9, "B": 6, "M": 4})
CAPS_CNY: Mapping[str, float] = MappingProxyType(
    {"enterprise": 3e6, "individual": 8e5, "cooperative": 2e6, "rural_collective": 2e6}
)
EXCLUDED_INDUSTRIES = ("J", "K", "R")  # finance, real estate, entertainment
GRADE_RISK_TIER: Mapping[str, float] = MappingProxyType({"A": 0.0, "B": 1.0, "M": 2.0})
DECLINED_TIER = 3.0


@contextmanager
def _quiet_optbinning() -> Iterator[None]:
    """Silence optbinning's pandas deprecation warnings (its own tables, not our data)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"optbinning\.")
        yield


@dataclass(frozen=True, eq=False)
class Scorecard:
    """A fitted WoE logistic scorecard; `dropped` names unusable columns and why."""

    features: tuple[str, ...]
    dropped: Mapping[str, str]
    binning: BinningProcess
    model: LogisticRegression

    def woe(self, X: pandas.DataFrame) -> FloatArray:
        """Weights of evidence per row and feature; missing values get their training WoE."""
        return _woe(self.binning, self.features, X)

    def log_odds(self, X: pandas.DataFrame) -> FloatArray:
        """ln(PD / (1 - PD)) per row."""
        return np.asarray(self.model.decision_function(self.woe(X)), dtype=np.float64)

    def predict_proba(self, X: pandas.DataFrame) -> FloatArray:
        """PD per row, a 1-D array (the probability of class 1, not scikit-learn's two columns)."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def score_points(self, X: pandas.DataFrame) -> FloatArray:
        """Scorecard points: 600 at good:bad odds 50:1, 20 more points double the odds."""
        factor = PDO / math.log(2.0)
        return BASE_POINTS - factor * math.log(BASE_ODDS) - factor * self.log_odds(X)

    def binning_summary(self) -> pandas.DataFrame:
        """optbinning's per-feature summary (bins, IV, Gini...)."""
        with _quiet_optbinning():
            return pandas.DataFrame(self.binning.summary())


def _woe(binning: BinningProcess, features: tuple[str, ...], rows: pandas.DataFrame) -> FloatArray:
    """WoE of `features` of `rows` under a fitted binning; missing values get their training WoE."""
    absent = sorted(set(features) - set(rows.columns))
    if absent:
        raise InvalidInput(f"scorecard features missing from X: {absent}")
    with _quiet_optbinning():
        woe = binning.transform(rows[list(features)], metric="woe", metric_missing="empirical")
    return np.asarray(woe, dtype=np.float64)


def _unusable_columns(rows: pandas.DataFrame) -> dict[str, str]:
    """Columns a binning cannot use: all missing, or one value and no missing."""
    dropped = {}
    for name in rows.columns:
        if rows[name].isna().all():
            dropped[str(name)] = "all values missing"
        elif rows[name].nunique(dropna=False) <= 1:
            dropped[str(name)] = "constant"
    return dropped


def fit_scorecard(
    X_train: pandas.DataFrame,
    y_train: np.ndarray | pandas.Series,
    categorical: Sequence[str] = (),
    seed: int = 0,
) -> Scorecard:
    """Fit optimal monotone binning, then an L2 logistic regression on the WoE."""
    labels = as_labels(y_train)
    if labels.size != len(X_train) or labels.min() == labels.max():
        raise InvalidInput("y_train must align with X_train and hold both goods and bads")
    unknown = sorted(set(categorical) - set(X_train.columns))
    if unknown:
        raise InvalidInput(f"categorical columns missing from X_train: {unknown}")
    dropped = _unusable_columns(X_train)
    if dropped:
        log.info("scorecard drops unusable columns: %s", dropped)
    features = tuple(str(c) for c in X_train.columns if c not in dropped)
    if not features:
        raise InvalidInput("no usable scorecard features")
    binning = BinningProcess(
        list(features),
        min_bin_size=MIN_BIN_SIZE,
        categorical_variables=[c for c in categorical if c in features],
        binning_fit_params={name: {"monotonic_trend": MONOTONIC_TREND} for name in features},
    )
    with _quiet_optbinning():
        binning.fit(X_train[list(features)], labels)
    model = LogisticRegression(C=1.0, l1_ratio=0.0, max_iter=1000, random_state=seed)
    model.fit(_woe(binning, features, X_train), labels)
    return Scorecard(features, MappingProxyType(dropped), binning, model)


def _gate_failures(
    features: pandas.DataFrame,
    grade: pandas.Series,
    eligible: pandas.Series,
    min_months: pandas.Series,
    cap: pandas.Series,
) -> pandas.DataFrame:
    """One boolean column per gate, True where the row fails it, in the order reasons read."""
    excluded = [float(INDUSTRY_SECTIONS.index(section)) for section in EXCLUDED_INDUSTRIES]
    return pandas.DataFrame(
        {
            "deregistered": features["reg_deregistered"] > 0,
            "tax_grade_unrated": grade.isna(),
            "tax_grade_ineligible": grade.notna() & ~eligible,
            "too_young": ~(features["reg_age_months"] >= min_months),
            "dishonest_debtor": features["court_in_force"] > 0,
            "serious_dishonesty": features["dis_in_force"] > 0,
            "abnormal_operations": features["abn_in_force"] > 0,
            "excluded_industry": features["reg_industry"].isin(excluded),
            "no_tax_12m": ~(features["tax_paid_cny_12m"] > 0),
            "unknown_entity_type": cap.isna(),
        },
        index=features.index,
    )


def _reasons(failures: pandas.DataFrame) -> pandas.Series:
    """Failed gate codes joined by ';' per row, or 'approved'."""
    joined = pandas.Series("", index=failures.index, dtype=object)
    for code in failures.columns:
        joined = joined + np.where(failures[code].to_numpy(), code + ";", "")
    return joined.str.rstrip(";").replace("", "approved").astype(str)


def _rule_score(
    grade: pandas.Series, tax_24m: pandas.Series, approved: pandas.Series
) -> FloatArray:
    """Risk order of the rule (higher = riskier): declined, then M, B, A; less tax riskier.

    Approved rows score tier + 0.5 / (1 + ln(1 + tax paid over 24 months)) with tiers A 0,
    B 1, M 2, so the tax term never crosses a tier; every declined row scores 3, tied,
    because the rule does not rank the rows it declines.
    """
    tier = grade.map(GRADE_RISK_TIER).to_numpy(dtype=np.float64, na_value=np.nan)
    tax_term = 0.5 / (1.0 + np.log1p(np.maximum(tax_24m.to_numpy(dtype=np.float64), 0.0)))
    return np.where(approved.to_numpy(), tier + tax_term, DECLINED_TIER)


@dataclass(frozen=True)
class IncumbentRule:
    """The parameters of the banks' tax-multiplier rule (defaults: the common market terms)."""

    multipliers: Mapping[str, float] = field(default_factory=lambda: dict(MULTIPLIERS))
    caps_cny: Mapping[str, float] = field(default_factory=lambda: dict(CAPS_CNY))
    min_years: float = 2.0
    min_limit_cny: float = 20_000
    min_years_m: float = 1.0


def incumbent_rule(
    features: pandas.DataFrame, rule: IncumbentRule = IncumbentRule()
) -> pandas.DataFrame:
    """The banks' tax-multiplier rule: approved, limit_cny, reason and rule_score per row.

    Limit = tax paid over 24 months / 2 x the grade's multiplier, capped by entity type.
    Gates: a multiplier grade (unrated, C and D decline), `rule.min_years` in operation
    (`rule.min_years_m` for grade M), no dishonest-debtor, serious-dishonesty or abnormal
    listing in force, not finance, real estate or entertainment, tax paid in the last 12
    months, not deregistered, and a limit of at least `rule.min_limit_cny`. A listing flag that
    is missing counts as not listed. Declined rows get limit 0 and every failed gate.
    """
    grade = features["tax_grade_latest"].map(GRADE_LETTERS)
    multiplier = grade.map(dict(rule.multipliers)).astype(np.float64)
    min_months = pandas.Series(
        np.where(grade == "M", rule.min_years_m, rule.min_years) * 12.0, features.index
    )
    entity_type = features["reg_entity_type"].map(dict(enumerate(ENTITY_TYPES)))
    cap = entity_type.map(dict(rule.caps_cny)).astype(np.float64)
    tax_24m = features["tax_paid_cny_24m"].fillna(0.0).astype(np.float64)
    limit = (tax_24m / 2.0 * multiplier).clip(upper=cap)
    failures = _gate_failures(features, grade, multiplier.notna(), min_months, cap)
    failures["below_min_limit"] = limit < rule.min_limit_cny
    approved = ~failures.any(axis=1)
    return pandas.DataFrame(
        {
            "approved": approved,
            "limit_cny": limit.where(approved, 0.0),
            "reason": _reasons(failures),
            "rule_score": _rule_score(grade, tax_24m, approved),
        },
        index=features.index,
    )
