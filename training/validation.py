"""Validation tests a bank's validator signs: discrimination and calibration by grade.

Pure functions on arrays and frames (docs/validation.md). Conventions as `training.metrics`:
`y` is 1 for a default, a score orders risk (higher = riskier), a PD lies in [0, 1].

- Discrimination: AUC with a DeLong confidence interval (Gini's follows as 2 AUC - 1); KS with
  a stratified percentile bootstrap (fixed seed, so the interval is reproducible).
- Calibration by master-scale grade: a one-sided exact binomial test and the Jeffreys test
  (ECB TRIM instructions for validation reporting) of the grade's mean PD against its observed
  default count; traffic lights at p < 0.05 (yellow) and p < 0.01 (red); Hosmer-Lemeshow over
  the grades.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from catalog.errors import InvalidInput
from models.grades import MasterScale
from training import metrics

FloatArray = npt.NDArray[np.float64]

CONFIDENCE = 0.95
BOOTSTRAP_SEED = 17
BOOTSTRAP_ROUNDS = 200
YELLOW_P = 0.05
"""A calibration test's p-value below this: yellow (PD possibly too low)."""
RED_P = 0.01
"""A calibration test's p-value below this: red (PD too low at 99%)."""
Light = Literal["green", "yellow", "red"]


class Result(BaseModel):
    """Base of every validation result: immutable, JSON-ready."""

    model_config = ConfigDict(frozen=True)


class Interval(Result):
    """A two-sided confidence interval."""

    low: float
    high: float


class Discrimination(Result):
    """AUC, Gini and KS with confidence intervals on one population (or one segment)."""

    segment: str | None = None
    value: str | None = None
    n: int
    defaults: int
    auc: float | None
    auc_ci: Interval | None
    gini: float | None
    gini_ci: Interval | None
    ks: float | None
    ks_ci: Interval | None
    note: str = ""


class GradeCalibration(Result):
    """Observed against predicted default rate in one grade, with both tests."""

    grade: str
    loans: int
    defaults: int
    observed_rate: float
    mean_pd: float
    binomial_p: float
    binomial_light: Light
    jeffreys_p: float
    jeffreys_interval: Interval
    jeffreys_light: Light


class HosmerLemeshow(Result):
    """Hosmer-Lemeshow statistic over the grades; df = groups (out of sample)."""

    statistic: float
    df: int
    p_value: float


class Calibration(Result):
    """Calibration by grade and over all grades."""

    grades: list[GradeCalibration]
    hosmer_lemeshow: HosmerLemeshow | None
    thresholds: dict[str, float]


def _components(
    labels: npt.NDArray[np.int64], score: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """DeLong's structural components: per bad, per good (midranks for ties)."""
    s = np.asarray(score, dtype=np.float64).ravel()
    if s.size != labels.size or not np.isfinite(s).all():
        raise InvalidInput(f"score must hold {labels.size} finite numbers")
    bads, goods = s[labels == 1], s[labels == 0]
    m, n = bads.size, goods.size
    if m == 0 or n == 0:
        raise InvalidInput("ranking metrics need both goods and bads")
    ranks = stats.rankdata(np.concatenate([bads, goods]))
    v10 = (ranks[:m] - stats.rankdata(bads)) / n  # per bad: share of goods ranked below
    v01 = 1.0 - (ranks[m:] - stats.rankdata(goods)) / m  # per good: share of bads above
    return v10, v01


def _variance(v10: FloatArray, v01: FloatArray) -> float:
    s10 = float(v10.var(ddof=1)) if v10.size > 1 else 0.0
    s01 = float(v01.var(ddof=1)) if v01.size > 1 else 0.0
    return s10 / v10.size + s01 / v01.size


def delong(y: npt.ArrayLike, score: npt.ArrayLike) -> tuple[float, float]:
    """AUC and its DeLong variance (DeLong, DeLong & Clarke-Pearson 1988, midranks for ties)."""
    v10, v01 = _components(metrics.as_labels(y), score)
    return float(v10.mean()), _variance(v10, v01)


def delong_paired(
    y: npt.ArrayLike, score_a: npt.ArrayLike, score_b: npt.ArrayLike
) -> tuple[float, float, float]:
    """AUCs of two scores on the same loans and the DeLong variance of their difference."""
    labels = metrics.as_labels(y)
    a10, a01 = _components(labels, score_a)
    b10, b01 = _components(labels, score_b)
    return float(a10.mean()), float(b10.mean()), _variance(a10 - b10, a01 - b01)


def auc_interval(area: float, variance: float, confidence: float = CONFIDENCE) -> Interval:
    """Normal interval around the AUC, clipped to [0, 1]."""
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * float(np.sqrt(variance))
    return Interval(low=max(0.0, area - half), high=min(1.0, area + half))


def ks_interval(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Percentile bootstrap interval of KS, resampling bads and goods separately (seeded)."""
    labels = metrics.as_labels(y)
    s = np.asarray(score, dtype=np.float64).ravel()
    bad_idx, good_idx = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    rng = np.random.default_rng(seed)
    draws = np.empty(rounds)
    for i in range(rounds):
        pick = np.concatenate(
            [rng.choice(bad_idx, bad_idx.size), rng.choice(good_idx, good_idx.size)]
        )
        draws[i] = metrics.ks(labels[pick], s[pick])
    tail = (1.0 - CONFIDENCE) / 2
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Interval(low=float(low), high=float(high))


def discrimination(
    y: npt.ArrayLike, score: npt.ArrayLike, segment: str | None = None, value: str | None = None
) -> Discrimination:
    """AUC/Gini (DeLong) and KS (bootstrap) with 95% intervals; None without goods and bads."""
    labels = metrics.as_labels(y)
    n, defaults = int(labels.size), int(labels.sum())
    if defaults in (0, n):
        return Discrimination(
            segment=segment, value=value, n=n, defaults=defaults, auc=None, auc_ci=None,
            gini=None, gini_ci=None, ks=None, ks_ci=None, note="needs both defaults and non-defaults",
        )  # fmt: skip
    area, variance = delong(labels, score)
    ci = auc_interval(area, variance)
    return Discrimination(
        segment=segment, value=value, n=n, defaults=defaults, auc=area, auc_ci=ci,
        gini=2 * area - 1, gini_ci=Interval(low=2 * ci.low - 1, high=2 * ci.high - 1),
        ks=metrics.ks(labels, score), ks_ci=ks_interval(labels, score),
    )  # fmt: skip


def by_segment(
    frame: pd.DataFrame, segment: str, label: str = "label", score: str = "pd"
) -> list[Discrimination]:
    """Discrimination per value of column `segment` (missing values form their own segment)."""
    values = frame[segment].astype("string").fillna("(missing)")
    return [
        discrimination(part[label], part[score], segment, str(key))
        for key, part in frame.groupby(values, sort=True)
    ]


def light(p_value: float) -> Light:
    """Traffic light of a one-sided calibration test (PD too low)."""
    return "red" if p_value < RED_P else "yellow" if p_value < YELLOW_P else "green"


def binomial_p(defaults: int, loans: int, pd_: float) -> float:
    """P(X >= defaults) for X ~ Binomial(loans, pd_): small when the PD is too low."""
    return float(stats.binom.sf(defaults - 1, loans, pd_)) if defaults > 0 else 1.0


def jeffreys_interval(defaults: int, loans: int, confidence: float = CONFIDENCE) -> Interval:
    """Equal-tailed Jeffreys interval: quantiles of Beta(d + 1/2, n - d + 1/2).

    As Brown, Cai & DasGupta (2001) recommend, the lower bound is 0 with no defaults and the
    upper bound 1 when every loan defaulted (the plain quantile would exclude the observed rate).
    """
    a, b = defaults + 0.5, loans - defaults + 0.5
    tail = (1.0 - confidence) / 2
    low = 0.0 if defaults == 0 else float(stats.beta.ppf(tail, a, b))
    high = 1.0 if defaults == loans else float(stats.beta.ppf(1 - tail, a, b))
    return Interval(low=low, high=high)


def jeffreys_p(defaults: int, loans: int, pd_: float) -> float:
    """Jeffreys test p-value: the posterior Beta(d + 1/2, n - d + 1/2) mass below the PD."""
    return float(stats.beta.cdf(pd_, defaults + 0.5, loans - defaults + 0.5))


def grade_calibration(
    label: str, y: npt.NDArray[np.int64], pds: npt.NDArray[np.float64]
) -> GradeCalibration:
    """Both tests for the loans of one grade."""
    loans, defaults, mean_pd = int(y.size), int(y.sum()), float(pds.mean())
    binom_p, jeff_p = binomial_p(defaults, loans, mean_pd), jeffreys_p(defaults, loans, mean_pd)
    return GradeCalibration(
        grade=label, loans=loans, defaults=defaults, observed_rate=defaults / loans,
        mean_pd=mean_pd, binomial_p=binom_p, binomial_light=light(binom_p), jeffreys_p=jeff_p,
        jeffreys_interval=jeffreys_interval(defaults, loans), jeffreys_light=light(jeff_p),
    )  # fmt: skip


def hosmer_lemeshow(grades: list[GradeCalibration]) -> HosmerLemeshow | None:
    """sum (O - E)^2 / (E (1 - E / n)) over grades, chi-square with df = grades (out of sample)."""
    terms = []
    for g in grades:
        expected = g.mean_pd * g.loans
        denominator = expected * (1.0 - g.mean_pd)
        if denominator > 0:
            terms.append((g.defaults - expected) ** 2 / denominator)
    if not terms:
        return None
    statistic = float(sum(terms))
    return HosmerLemeshow(
        statistic=statistic, df=len(terms), p_value=float(stats.chi2.sf(statistic, len(terms)))
    )


def calibration(y: npt.ArrayLike, pd_: npt.ArrayLike, scale: MasterScale) -> Calibration:
    """Per non-empty master-scale grade: both tests and their lights; Hosmer-Lemeshow over them."""
    labels = metrics.as_labels(y)
    pds = np.asarray(pd_, dtype=np.float64).ravel()
    if pds.size != labels.size:
        raise InvalidInput(f"pd must hold {labels.size} numbers")
    grades = scale.grade(pds)
    rows = [
        grade_calibration(scale.labels[g - 1], labels[grades == g], pds[grades == g])
        for g in np.unique(grades)
    ]
    return Calibration(
        grades=rows,
        hosmer_lemeshow=hosmer_lemeshow(rows),
        thresholds={"yellow_p": YELLOW_P, "red_p": RED_P, "confidence": CONFIDENCE},
    )
