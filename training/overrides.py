"""Overrides: loans whose granted amount or decision differs from the pre-approval.

A bank reports each loan's granted amount; a loan linked to a pre-approval (a decision, an
offer, or the decision behind a financing answer) is compared with that pre-approval's limit. Directions: `declined_granted` (the pre-approval declined,
the bank lent), `up` (granted above the limit), `down` (granted below it), else `none`.
Amounts within `TOLERANCE` (relative, at least 1 CNY) of the limit count as equal.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

TOLERANCE = 0.01
Direction = Literal["none", "up", "down", "declined_granted"]
DIRECTIONS: tuple[Direction, ...] = ("none", "up", "down", "declined_granted")


class DirectionRow(BaseModel):
    """Loans, share of linked loans, matured loans and their default rate in one direction."""

    model_config = ConfigDict(frozen=True)

    direction: Direction
    loans: int
    share: float
    matured: int
    defaults: int
    default_rate: float | None


class Overrides(BaseModel):
    """Override rate over the linked loans, by direction."""

    model_config = ConfigDict(frozen=True)

    linked_loans: int
    overridden: int
    override_rate: float | None
    directions: list[DirectionRow]
    by_source: dict[str, int] = {}  # linked loans by what pre-approved them
    tolerance: float = TOLERANCE


def direction(decision: pd.Series, limit: pd.Series, granted: pd.Series) -> pd.Series:
    """The override direction of each loan."""
    margin = np.maximum(1.0, TOLERANCE * limit.abs())
    out = pd.Series("none", index=decision.index, dtype="string")
    out[granted > limit + margin] = "up"
    out[granted < limit - margin] = "down"
    out[(decision == "decline") & (granted > 0)] = "declined_granted"
    return out


def overrides(loans: pd.DataFrame) -> Overrides:
    """From columns decision, limit_cny, granted_amount_cny and label (NaN while immature),
    and optionally source (decision, offer, financing_request)."""
    if loans.empty:
        return Overrides(linked_loans=0, overridden=0, override_rate=None, directions=[])
    kind = direction(loans["decision"], loans["limit_cny"], loans["granted_amount_cny"])
    rows = [_row(d, loans[kind == d], len(loans)) for d in DIRECTIONS]
    overridden = int((kind != "none").sum())
    return Overrides(
        linked_loans=len(loans),
        overridden=overridden,
        override_rate=overridden / len(loans),
        directions=rows,
        by_source=_sources(loans),
    )


def _sources(loans: pd.DataFrame) -> dict[str, int]:
    if "source" not in loans:
        return {}
    counts = loans["source"].value_counts().sort_index()
    return {str(name): int(n) for name, n in counts.items()}


def _row(name: Direction, part: pd.DataFrame, total: int) -> DirectionRow:
    matured = part["label"].dropna()
    defaults = int(matured.sum())
    return DirectionRow(
        direction=name, loans=len(part), share=len(part) / total, matured=len(matured),
        defaults=defaults, default_rate=defaults / len(matured) if len(matured) else None,
    )  # fmt: skip
