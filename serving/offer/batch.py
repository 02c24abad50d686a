"""Explained pre-approvals for a batch of snapshot rows: numpy throughout, TreeSHAP only if needed.

The answers equal `PreapprovalModel.preapprove` row by row (tests/serving/test_offers.py pins
decision, limit, PD, grade and reasons), without its per-row Python. TreeSHAP is the cost of a
batch, and most of a city's entities are declines, so rows are decided in three steps:

1. a row failing a hard gate (no tax paid, deregistered...) is a decline whatever its score;
2. a row whose PD is above the policy's refer limit even with its raw score moved by
   `RAW_MARGIN` either way (the calibrator is monotone; plain prediction and the sum of SHAP
   contributions differ by ~1e-13) is a PD decline;
3. every other row is scored in full: SHAP, PD from the contributions as the API computes it,
   limit, grade, ranked reasons.

Rows of steps 1-2 are explained in full only when asked (`explain`), e.g. to tell a bank why
its offer was revoked. Reasons become dicts only for the rows that need them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from models.explain import _texts, display_value  # _texts: the one reason-text template
from models.limit import GATES, decide, required_inputs
from models.pd_model import FeatureSpec
from models.policy import ProductPolicy
from models.preapproval import PreapprovalModel
from serving.decision.model_store import ServedModel

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]
OFFERABLE = ("approve", "refer")  # a decline has limit 0: nothing to offer
RAW_MARGIN = 1e-6  # log-odds; far above the ~1e-13 between predict and summed contributions


@dataclass
class ScoredBatch:
    """Per-row decisions of one model on one batch; gate-declined rows are explained on demand."""

    model: PreapprovalModel
    frame: pd.DataFrame
    uscc: list[str]
    as_of: list[dt.date]
    matrix: FloatArray  # rows x features, model order; NaN for missing
    decision: ObjectArray
    limit_cny: FloatArray
    binding: ObjectArray
    pd: FloatArray  # NaN until the row is explained
    grade: ObjectArray
    top: NDArray[np.int64]  # rows x top_n feature indices, largest |contribution| first
    top_contribution: FloatArray
    explained: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.uscc)

    @property
    def spec(self) -> FeatureSpec:
        """The model's features."""
        return self.model.spec

    @property
    def product(self) -> str:
        """The product the model's policy decides."""
        return self.model.policy_.product

    def offerable(self) -> NDArray[np.bool_]:
        """Rows whose decision makes an offer (approve or refer)."""
        return np.isin(self.decision, OFFERABLE)

    def explain(self, rows: Sequence[int] | NDArray[np.int64]) -> None:
        """Score `rows` in full (PD, grade, limit, reasons), as the API answers them."""
        todo = np.asarray([i for i in rows if not self.explained[i]], dtype=np.int64)
        if not len(todo):
            return
        part = self.frame.iloc[todo]
        scored = self.model.score(part)
        limits = decide(self.model.policy_, part, scored["pd"])
        self.decision[todo], self.limit_cny[todo] = limits.decision, limits.limit_cny
        self.binding[todo], self.pd[todo] = limits.binding, scored["pd"]
        self.grade[todo] = self.model.scale.label(scored["pd"])
        self.top[todo], self.top_contribution[todo] = rank_reasons(
            self.spec, scored["contributions"], self.model.top_n
        )
        self.explained[todo] = True

    def answer(self, i: int) -> dict[str, Any]:
        """Row i's decision, limit, PD, grade, binding rule and reasons (explained first)."""
        reasons = self.reasons(i)
        return {
            "decision": str(self.decision[i]),
            "limit_cny": float(self.limit_cny[i]),
            "pd": float(self.pd[i]),
            "grade": str(self.grade[i]),
            "binding": str(self.binding[i]),
            "reasons": reasons,
        }

    def reasons(self, i: int) -> list[dict[str, Any]]:
        """Row i's top reasons, as `models.explain.top_reasons` gives them."""
        if not self.explained[i]:
            self.explain([i])
        out: list[dict[str, Any]] = []
        for j, part in zip(self.top[i].tolist(), self.top_contribution[i].tolist(), strict=True):
            if part == 0.0:
                break
            name = self.spec.names[j]
            shown = display_value(self.spec, name, float(self.matrix[i, j]))
            zh, en = _texts(self.spec, name, shown, part)
            out.append(
                {
                    "code": name.upper(),
                    "feature": name,
                    "text_zh": zh,
                    "text_en": en,
                    "value": shown,
                    "contribution": part,
                    "direction": "raises_risk" if part > 0 else "lowers_risk",
                }
            )
        return out

    def input_hash(self, i: int) -> str:
        """SHA-256 of code, product, snapshot date and the model's inputs (see docs/offers.md)."""
        head = f"{self.uscc[i]}\x1f{self.product}\x1f{self.as_of[i].isoformat()}\x1f".encode()
        return hashlib.sha256(head + self._canonical[i].tobytes()).hexdigest()

    @cached_property
    def _canonical(self) -> FloatArray:
        """The matrix as hashed: little-endian float64, one NaN, no negative zero."""
        return np.where(np.isnan(self.matrix), np.nan, self.matrix + 0.0).astype("<f8")


def score_batch(served: ServedModel, frame: pd.DataFrame) -> ScoredBatch:
    """Decide every snapshot row; explain in full those that pass the hard gates."""
    model, n = served.model, len(frame)
    gate = first_failed_gate(model.policy_, frame)
    batch = ScoredBatch(
        model=model,
        frame=frame,
        uscc=frame["uscc"].astype(str).tolist(),
        as_of=_dates(frame["as_of"]),
        matrix=model.classifier_.matrix(frame),
        decision=np.full(n, "decline", dtype=object),
        limit_cny=np.zeros(n),
        binding=gate,
        pd=np.full(n, np.nan),
        grade=np.full(n, "", dtype=object),
        top=np.zeros((n, model.top_n), dtype=np.int64),
        top_contribution=np.zeros((n, model.top_n)),
        explained=np.zeros(n, dtype=bool),
    )
    passing = np.flatnonzero(gate == "")
    declined = certain_pd_declines(model, batch.matrix[passing])
    batch.binding[passing[declined]] = "pd:decline"
    batch.explain(passing[~declined])
    return batch


def certain_pd_declines(model: PreapprovalModel, matrix: FloatArray) -> NDArray[np.bool_]:
    """Rows whose PD exceeds the refer limit for any raw score within `RAW_MARGIN` of theirs."""
    if not len(matrix):
        return np.zeros(0, dtype=bool)
    raw = model.raw_score(matrix)
    low = np.minimum(model.calibrator_(raw - RAW_MARGIN), model.calibrator_(raw + RAW_MARGIN))
    return np.asarray(low > model.policy_.decision.refer_max_pd)


def first_failed_gate(policy: ProductPolicy, frame: pd.DataFrame) -> ObjectArray:
    """Per row, the first hard gate it fails in `models.limit.GATES` order, else ""."""
    cols = {
        n: frame[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in required_inputs(policy)
    }
    first = np.full(len(frame), "", dtype=object)
    for gate in reversed(GATES):  # an earlier gate overwrites a later one
        if gate.enabled(policy.gates):
            first[gate.fails(policy.gates, cols)] = gate.code
    return first


def rank_reasons(
    spec: FeatureSpec, contributions: FloatArray, top_n: int
) -> tuple[NDArray[np.int64], FloatArray]:
    """Per row, the `top_n` features by |contribution|, ties by feature name; and their parts."""
    parts = contributions[:, :-1]  # the last column is the base value
    by_name = np.argsort(np.asarray(spec.names), kind="stable")
    order = np.argsort(-np.abs(parts[:, by_name]), axis=1, kind="stable")[:, :top_n]
    top = by_name[order].astype(np.int64)
    return top, np.take_along_axis(parts, top, axis=1)


def _dates(column: pd.Series) -> list[dt.date]:
    """Snapshot dates as `datetime.date` (DuckDB hands DATE over as dates or timestamps)."""
    return [value.date() for value in pd.to_datetime(column).tolist()]
