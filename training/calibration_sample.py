"""The rows a retrained challenger's calibrator is fitted on: the validation period's applicants.

A bank's validation split holds the applicants it approved; a calibrator fitted there maps a
score to the default rate of *approved* applicants with that score, and understates the risk of
the declined applicants the gate and the next round also score. So the calibrator is fitted on
a sample that stands for every applicant of the validation period, never on the test split.
In order of preference (MLflow param `calibration_sample` names the one used):

1. `explore`: the validation period's loans, its randomised test loans to declined applicants
   (`explore`) each weighted to stand for the declines it was drawn from (inverse probability:
   the bank's lawful declines / its test loans), when those test loans hold
   `MIN_EXPLORE_DEFAULTS` defaults;
2. `reject_inferred`: the validation period's loans plus that period's sampled declines without
   a loan, each as a default weighted w p and a good weighted w (1 - p), where p is the
   declines' proxy default rate (`reject_inference.proxy_rates`, the labels the gate's
   `reject_inferred` sample draws from) and w makes the sampled declines stand for all
   declines that got no loan (declines without a loan / sampled ones);
3. `own_loans`: the validation split as it is (the approved applicants only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.pd_model import WEIGHT_COLUMN
from training import reject_inference as ri
from training.gate_sample import GateSample

MIN_EXPLORE_DEFAULTS = 20  # fewer defaults among the test loans: each weighs ~10, too noisy


# The rows (features, `as_of`, `label`, `sample_weight`), the sample's name and detail: the
# same shape as the gate's sample.
CalibrationSample = GateSample


@dataclass(frozen=True)
class CalibrationInput:
    """What the choice reads, all from the validation period (never the test split)."""

    valid: pd.DataFrame  # own validation loans (label, explore)
    rejects: pd.DataFrame | None  # that period's sampled declines without a loan (features, proxy)
    p: np.ndarray | None  # each reject's default probability (its proxy rate)
    explore_weight: float  # declines one test loan stands for (`inverse_probability`)
    reject_weight: float  # declines without a loan one sampled decline stands for
    min_explore_defaults: int = MIN_EXPLORE_DEFAULTS


def inverse_probability(population: int, sampled: int) -> float:
    """How many of `population` one of `sampled` random members stands for (at least itself).

    The bank's test loans are a random share of its lawful declines, so a test loan stands for
    lawful declines / test loans of them (`explore_weight` counts both over the bank's matured
    history: a period's declines are dated by the snapshot their decision read, its loans by
    application, so a window of dates would count them unevenly).
    """
    return max(1.0, population / sampled) if sampled else 1.0


def explore_weight(declines: pd.Series, test_loans: pd.Series) -> float:
    """Lawful declines one test loan stands for, from the bank's matured history.

    `declines` are dated by the snapshot their decision read, `test_loans` by application; each
    test loan belongs to the newest snapshot on or before it. The newest snapshot is left out
    when an older one has test loans: its declines have all matured, its loans (applied over
    the following months) not yet.
    """
    snapshots = np.sort(pd.to_datetime(declines).unique())
    if not len(snapshots) or not len(test_loans):
        return 1.0
    read = np.searchsorted(snapshots, pd.to_datetime(test_loans).to_numpy(), side="right") - 1
    read = read[read >= 0]
    if not len(read):
        return 1.0
    kept = read[read < read.max()] if (read < read.max()).any() else read
    population = int(pd.to_datetime(declines).isin(snapshots[np.unique(kept)]).sum())
    return inverse_probability(population, len(kept))


def explore_weights(explore: np.ndarray, weight: float) -> np.ndarray:
    """1 for an approved loan; `weight` for a test loan to a declined applicant."""
    explore = np.asarray(explore, dtype=bool)
    return np.where(explore, max(1.0, weight), 1.0).astype(np.float64)


def _flags(valid: pd.DataFrame) -> np.ndarray:
    if "explore" not in valid:
        return np.zeros(len(valid), dtype=bool)
    return valid["explore"].fillna(False).to_numpy(dtype=bool)


def choose(inp: CalibrationInput) -> CalibrationSample:
    """The first sample of the module docstring's list the data allows."""
    valid = inp.valid.drop(columns=[WEIGHT_COLUMN], errors="ignore")
    flagged = _flags(valid)
    tests = int(flagged.sum())
    test_defaults = int(valid.loc[flagged, "label"].sum())
    if test_defaults >= inp.min_explore_defaults:
        weight = explore_weights(flagged, inp.explore_weight)
        rows = valid.assign(**{WEIGHT_COLUMN: weight})
        detail = (
            f"{len(valid) - tests:,} loans and {tests:,} test loans to declined applicants "
            f"({test_defaults} defaults), each weighted {weight[flagged][0]:.2f}"
        )
        return CalibrationSample(rows, "explore", detail)
    if inp.rejects is not None and len(inp.rejects) and inp.p is not None:
        w = max(1.0, inp.reject_weight)
        inferred = ri.augment(inp.rejects, inp.p, w)
        rows = pd.concat(
            [valid.assign(**{WEIGHT_COLUMN: 1.0}), inferred], ignore_index=True, sort=False
        )
        detail = (
            f"{len(valid):,} loans ({tests:,} test loans, {test_defaults} defaults: too few) and "
            f"{len(inp.rejects):,} declined applicants at their proxy rate, each weighted {w:.2f}"
        )
        return CalibrationSample(rows, "reject_inferred", detail)
    rows = valid.assign(**{WEIGHT_COLUMN: 1.0})
    return CalibrationSample(rows, "own_loans", "the validation split's loans only")
