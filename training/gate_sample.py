"""The rows the promotion gate judges on: all applicants, as far as the bank's data shows them.

In order of preference (`GateVerdict.sample` names the one used):

1. `explore`: the out-of-time loans, with the randomised test loans to declined applicants
   repeated so they stand for every lawful decline of the test period (an inverse-probability
   weight in whole rows). Used when the test loans hold at least `min_defaults` defaults;
   `pooled_shares` makes the out-of-time split reach back over more periods until they do.
2. `reject_inferred`: the out-of-time loans plus that period's declined applicants, labelled
   by a seeded draw from their proxy default rate (`reject_inference.proxy_rates`), each
   repeated to stand for the declines without a loan it was sampled from (`reject_weight`).
3. `own_loans`: the out-of-time loans alone (the approved applicants only).

Every row carries `UNIT`, the independent observation it repeats (a test loan's copies share
one), so the gate's intervals and noise bounds count observations, not copies; rows whose
label was drawn from the proxy carry `INFERRED`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.dataset import time_split

EXPLORE = "explore"
UNIT = "gate_unit"  # the independent observation a (repeated) row stands in for
INFERRED = "inferred"  # the row's label was drawn from the platform proxy
MAX_TEST_SHARE = 0.4  # the out-of-time split reaches back at most this share of the loans


@dataclass(frozen=True)
class GateSample:
    """The rows and the sample's name."""

    rows: pd.DataFrame
    name: str
    detail: str
    # reject_inferred: per proxy value, the (defaults, loans) its drawn labels' rate came from
    proxy_counts: dict[int, tuple[int, int]] | None = None


@dataclass(frozen=True)
class SampleInput:
    """What the choice reads: the bank's out-of-time loans and that period's declines."""

    test: pd.DataFrame  # own out-of-time loans (label, explore)
    rejects: pd.DataFrame | None  # that period's declines without a loan, with a drawn label
    declines: int  # lawful declines in the test period (test loans included)
    min_defaults: int
    reject_weight: float = 1.0  # declines without a loan one reject stands for (whole rows)
    proxy_counts: dict[int, tuple[int, int]] | None = None  # what the rejects' labels came from


def _flags(frame: pd.DataFrame) -> np.ndarray:
    if EXPLORE not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[EXPLORE].fillna(False).to_numpy(dtype=bool)


def pooled_shares(
    frame: pd.DataFrame,
    shares: tuple[float, float],
    min_defaults: int,
    max_share: float = MAX_TEST_SHARE,
) -> tuple[float, float]:
    """Train/valid shares whose out-of-time split's test loans hold `min_defaults` defaults.

    The default shares when their test split already holds them, or when even `max_share`
    of the loans would not (the gate then judges on another sample); else the smallest test
    share in steps of 0.01 that does, train and valid keeping their ratio.
    """
    flagged = _flags(frame) & (frame["label"].to_numpy() == 1)
    if int(flagged.sum()) < min_defaults:
        return shares
    marked = frame.assign(_bad_test=flagged)
    base = 1.0 - sum(shares)
    ratio = shares[0] / sum(shares)
    for step in range(round(base * 100), round(max_share * 100) + 1):
        rest = 1.0 - step / 100
        candidate = (rest * ratio, rest * (1 - ratio))
        if int(time_split(marked, candidate)["test"]["_bad_test"].sum()) >= min_defaults:
            return shares if step == round(base * 100) else candidate
    return shares


def _explore(inp: SampleInput) -> GateSample | None:
    flagged = _flags(inp.test)
    test = inp.test.assign(**{UNIT: np.arange(len(inp.test))}).assign(**{INFERRED: False})
    tests = test[flagged]
    if int(tests["label"].sum()) < inp.min_defaults:
        return None
    times = max(1, round(inp.declines / len(tests)))
    repeated = tests.iloc[np.repeat(np.arange(len(tests)), times)]
    rows = pd.concat([test[~flagged], repeated], ignore_index=True)
    detail = f"{len(tests):,} test loans to declined applicants, each standing for {times}"
    return GateSample(rows, "explore", detail)


def choose(inp: SampleInput) -> GateSample:
    """The first sample of the docstring's list the data allows."""
    explore = _explore(inp)
    if explore is not None:
        return explore
    test = inp.test.assign(**{UNIT: np.arange(len(inp.test))}).assign(**{INFERRED: False})
    if inp.rejects is not None and len(inp.rejects) and int(inp.rejects["label"].sum()):
        times = max(1, round(inp.reject_weight))
        units = inp.rejects.assign(**{UNIT: len(test) + np.arange(len(inp.rejects))})
        units = units.assign(**{INFERRED: True})
        rejects = units.iloc[np.repeat(np.arange(len(units)), times)]
        rows = pd.concat([test, rejects], ignore_index=True)
        detail = (
            f"{len(inp.rejects):,} declined applicants labelled from the platform proxy, "
            f"each standing for {times}"
        )
        return GateSample(rows, "reject_inferred", detail, inp.proxy_counts)
    return GateSample(test, "own_loans", "the approved applicants' loans only")
