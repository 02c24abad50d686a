"""The rows the promotion gate judges on: all applicants, as far as the bank's data shows them.

In order of preference (`GateVerdict.sample` names the one used):

1. `explore`: the out-of-time loans, with the randomised test loans to declined applicants
   repeated so they stand for every lawful decline of the test period (an inverse-probability
   weight in whole rows). Used when the test loans hold at least `min_defaults` defaults.
2. `reject_inferred`: the out-of-time loans plus that period's declined applicants, labelled
   by a seeded draw from their proxy default rate (`reject_inference.proxy_rates`), each
   repeated to stand for the declines without a loan it was sampled from (`reject_weight`).
3. `own_loans`: the out-of-time loans alone (the approved applicants only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EXPLORE = "explore"


@dataclass(frozen=True)
class GateSample:
    """The rows and the sample's name."""

    rows: pd.DataFrame
    name: str
    detail: str


@dataclass(frozen=True)
class SampleInput:
    """What the choice reads: the bank's out-of-time loans and that period's declines."""

    test: pd.DataFrame  # own out-of-time loans (label, explore)
    rejects: pd.DataFrame | None  # that period's declines without a loan, with a drawn label
    declines: int  # lawful declines in the test period (test loans included)
    min_defaults: int
    reject_weight: float = 1.0  # declines without a loan one reject stands for (whole rows)


def _explore(inp: SampleInput) -> GateSample | None:
    if EXPLORE not in inp.test:
        return None
    flagged = inp.test[EXPLORE].fillna(False).to_numpy(dtype=bool)
    tests = inp.test[flagged]
    if int(tests["label"].sum()) < inp.min_defaults:
        return None
    times = max(1, round(inp.declines / len(tests)))
    repeated = tests.iloc[np.repeat(np.arange(len(tests)), times)]
    rows = pd.concat([inp.test[~flagged], repeated], ignore_index=True)
    detail = f"{len(tests):,} test loans to declined applicants, each standing for {times}"
    return GateSample(rows, "explore", detail)


def choose(inp: SampleInput) -> GateSample:
    """The first sample of the docstring's list the data allows."""
    explore = _explore(inp)
    if explore is not None:
        return explore
    if inp.rejects is not None and len(inp.rejects) and int(inp.rejects["label"].sum()):
        times = max(1, round(inp.reject_weight))
        rejects = inp.rejects.iloc[np.repeat(np.arange(len(inp.rejects)), times)]
        rows = pd.concat([inp.test, rejects], ignore_index=True)
        detail = (
            f"{len(inp.rejects):,} declined applicants labelled from the platform proxy, "
            f"each standing for {times}"
        )
        return GateSample(rows, "reject_inferred", detail)
    return GateSample(inp.test, "own_loans", "the approved applicants' loans only")
