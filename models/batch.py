"""Explained pre-approvals for many rows: the one decision path of the pre-approval model.

`explain_rows` scores rows in full (TreeSHAP, PD, grade, limit, ranked reasons): it is what
`PreapprovalModel.preapprovals` answers for one row or many. `preapprove_batch` decides a large
batch with TreeSHAP only where needed, with the same functions, so each row's answer equals the
single answer bit for bit. Most of a city's entities are declines, so rows are decided in steps:

1. a row failing a hard gate (no tax paid, deregistered...) is a decline whatever its score;
2. a row whose PD is above the policy's refer limit even with its raw score moved by
   `RAW_MARGIN` either way (the calibrator is monotone; plain prediction and the sum of SHAP
   contributions differ by ~1e-13) is a PD decline;
3. a row whose limit is below the product's minimum even at the lowest PD within that margin
   (the largest limit it can have) is a `min_limit` decline (`certain_declines`);
4. every other row is explained in full (`explain_rows`).

Rows of steps 1-3 are explained in full only when asked (`PreapprovalBatch.explain`), e.g. to
tell a bank why its offer was revoked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from models import wording
from models.decision import Preapproval, Reason, Wording, input_hash, input_hashes
from models.explain import rank_reasons, reason_records, reasons
from models.limit import GATES, LimitResult, decide, gate_applies, required_inputs
from models.pd_model import FeatureSpec
from models.policy import ProductPolicy

if TYPE_CHECKING:  # the model calls this module: no import back at run time
    from models.preapproval import PreapprovalModel

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]
MIN_LIMIT = "min_limit"  # the binding of a limit below the product's minimum
OFFERABLE = ("approve", "refer")  # a decline has limit 0: nothing to offer
RAW_MARGIN = 1e-6  # log-odds; far above the ~1e-13 between predict and summed contributions


@dataclass(frozen=True)
class Explained:
    """Rows scored in full: inputs, TreeSHAP, PD, grade, limit and ranked reasons."""

    spec: FeatureSpec
    matrix: FloatArray  # rows x features, model order
    contributions: FloatArray  # rows x (features + 1); the last column is the base value
    raw: FloatArray
    pd: FloatArray
    grade: NDArray[np.int64]
    grade_label: NDArray[np.str_]
    limits: LimitResult
    top: NDArray[np.int64]  # rows x top_n feature indices, largest |contribution| first
    top_contribution: FloatArray

    def reasons(self, i: int) -> list[Reason]:
        """Row i's top reasons."""
        return reasons(self.spec, self.top[i], self.top_contribution[i], self.matrix[i])

    def preapprovals(self, policy: ProductPolicy) -> list[Preapproval]:
        """Every row's typed pre-approval (`policy`: the one that set the limits)."""
        return [
            self._preapproval(i, limit, policy) for i, limit in enumerate(self.limits.to_records())
        ]

    def _preapproval(self, i: int, limit: dict[str, Any], policy: ProductPolicy) -> Preapproval:
        pd, grade = float(self.pd[i]), str(self.grade_label[i])
        declined = wording.decline_texts(limit["failed_gates"], limit["binding"], pd, policy)
        zh, en = wording.limit_texts(limit, grade, pd, policy)
        return Preapproval(
            **limit,
            pd=pd,
            grade=int(self.grade[i]),
            grade_label=grade,
            raw_score=float(self.raw[i]),
            base_value=float(self.contributions[i, -1]),
            decline_reasons=[Wording(text_zh=z, text_en=e) for z, e in declined],
            reasons=self.reasons(i),
            limit_explained=Wording(text_zh=zh, text_en=en),
        )


def explain_rows(model: PreapprovalModel, features: pd.DataFrame | FloatArray) -> Explained:
    """Score rows in full; `features` is a frame or a rows x features array in spec order."""
    scored = model.score(features)
    matrix, contributions = scored["matrix"], scored["contributions"]
    columns = features if isinstance(features, pd.DataFrame) else MatrixColumns(matrix, model.spec)
    top, top_contribution = rank_reasons(model.spec, contributions, model.top_n)
    grade = model.scale.grade(scored["pd"])
    return Explained(
        spec=model.spec,
        matrix=matrix,
        contributions=contributions,
        raw=scored["raw"],
        pd=scored["pd"],
        grade=grade,
        grade_label=model.scale.label_of(grade),
        limits=decide(model.policy_, columns, scored["pd"], model.spec.names),
        top=top,
        top_contribution=top_contribution,
    )


class MatrixColumns(Mapping[str, FloatArray]):
    """The columns of a rows x features matrix by feature name, each made when it is read.

    The limit rule reads about 16 of the 85 inputs: one row pays for those views only.
    """

    def __init__(self, matrix: FloatArray, spec: FeatureSpec) -> None:
        self._matrix, self._index = matrix, spec.index

    def __getitem__(self, name: str) -> FloatArray:
        return self._matrix[:, self._index[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass
class PreapprovalBatch:
    """Per-row decisions of one model on one batch; declined rows are explained on demand."""

    model: PreapprovalModel
    frame: pd.DataFrame
    uscc: list[str]
    as_of: list[dt.date]
    matrix: FloatArray  # rows x features, model order; NaN for missing
    decision: ObjectArray
    limit_cny: FloatArray
    binding: ObjectArray
    pd: FloatArray  # NaN until the row is explained
    grade: ObjectArray  # grade label
    top: NDArray[np.int64]
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
        """Rows whose decision makes an offer (approve or refer, with a limit)."""
        return np.isin(self.decision, OFFERABLE) & (self.limit_cny > 0.0)

    def explain(self, rows: Sequence[int] | NDArray[np.int64]) -> None:
        """Score `rows` in full (PD, grade, limit, reasons), as a single answer does."""
        todo = np.asarray([i for i in rows if not self.explained[i]], dtype=np.int64)
        if not len(todo):
            return
        done = explain_rows(self.model, self.frame.iloc[todo])
        self.decision[todo], self.limit_cny[todo] = done.limits.decision, done.limits.limit_cny
        self.binding[todo], self.pd[todo] = done.limits.binding, done.pd
        self.grade[todo] = done.grade_label
        self.top[todo], self.top_contribution[todo] = done.top, done.top_contribution
        self.explained[todo] = True

    def reasons(self, i: int) -> list[Reason]:
        """Row i's top reasons (explained first)."""
        if not self.explained[i]:
            self.explain([i])
        return reasons(self.spec, self.top[i], self.top_contribution[i], self.matrix[i])

    def reason_records(self, rows: Sequence[int]) -> list[list[dict[str, Any]]]:
        """The top reasons of `rows` (explained first) as plain dicts, as `Reason.model_dump()`."""
        self.explain(rows)
        index = np.asarray(rows, dtype=np.int64)
        return reason_records(
            self.spec, self.top[index], self.top_contribution[index], self.matrix[index]
        )

    def input_hash(self, i: int) -> str:
        """Row i's `models.decision.input_hash`."""
        return input_hash(self.uscc[i], self.product, self.as_of[i], self.matrix[i])

    def input_hashes(self, rows: Sequence[int]) -> list[str]:
        """`input_hash` of `rows`, at once."""
        index = np.asarray(rows, dtype=np.int64)
        codes, days = [self.uscc[i] for i in rows], [self.as_of[i] for i in rows]
        return input_hashes(codes, self.product, days, self.matrix[index])


SCORED_COLUMNS = ("decision", "limit_cny", "binding", "pd", "grade", "explained")


def batch_columns(top_n: int) -> list[tuple[str, str]]:
    """The columns `to_frame` adds to the snapshot's, with their kind (str, float, int, bool)."""
    kinds = {"decision": "str", "limit_cny": "float", "binding": "str", "pd": "float"}
    fixed = [(name, kinds.get(name, "str")) for name in SCORED_COLUMNS[:5]] + [
        ("explained", "bool")
    ]
    tops = [(f"top_{k}", "int") for k in range(top_n)]
    return fixed + tops + [(f"top_contribution_{k}", "float") for k in range(top_n)]


def to_frame(batch: PreapprovalBatch) -> pd.DataFrame:
    """The batch as one frame: its snapshot rows plus each row's decision (see `from_frame`)."""
    out = batch.frame.reset_index(drop=True).copy()
    values = {
        "decision": batch.decision, "limit_cny": batch.limit_cny, "binding": batch.binding,
        "pd": batch.pd, "grade": batch.grade, "explained": batch.explained,
    }  # fmt: skip
    for k in range(batch.model.top_n):
        values[f"top_{k}"] = batch.top[:, k]
        values[f"top_contribution_{k}"] = batch.top_contribution[:, k]
    return out.assign(**values)


def from_frame(model: PreapprovalModel, frame: pd.DataFrame) -> PreapprovalBatch:
    """The batch `to_frame` wrote (e.g. scored on a Spark executor), as the same model decided it."""
    n, top_n = len(frame), model.top_n
    added = [name for name, _ in batch_columns(top_n)]
    return PreapprovalBatch(
        model=model,
        frame=frame.drop(columns=added).reset_index(drop=True),
        uscc=frame["uscc"].astype(str).tolist(),
        as_of=_dates(frame["as_of"]),
        matrix=model.classifier_.matrix(frame),
        decision=frame["decision"].to_numpy(dtype=object),
        limit_cny=frame["limit_cny"].to_numpy(dtype=np.float64),
        binding=frame["binding"].to_numpy(dtype=object),
        pd=frame["pd"].to_numpy(dtype=np.float64, na_value=np.nan),
        grade=frame["grade"].to_numpy(dtype=object),
        top=frame[[f"top_{k}" for k in range(top_n)]].to_numpy(dtype=np.int64).reshape(n, top_n),
        top_contribution=frame[[f"top_contribution_{k}" for k in range(top_n)]]
        .to_numpy(dtype=np.float64)
        .reshape(n, top_n),
        explained=frame["explained"].to_numpy(dtype=bool),
    )


def preapprove_batch(model: PreapprovalModel, frame: pd.DataFrame) -> PreapprovalBatch:
    """Decide every snapshot row (`uscc`, `as_of` and features); explain those that may pass."""
    n = len(frame)
    gate = first_failed_gate(model.policy_, frame, model.spec.names)
    batch = PreapprovalBatch(
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
    binding = certain_declines(model, frame.iloc[passing], batch.matrix[passing])
    declined = binding != ""
    batch.binding[passing[declined]] = binding[declined]
    batch.explain(passing[~declined])
    return batch


def certain_declines(
    model: PreapprovalModel, frame: pd.DataFrame, matrix: FloatArray
) -> ObjectArray:
    """Per row (passing every gate), the binding rule of a decline certain without TreeSHAP, else "".

    The exact PD lies between the calibrated raw score moved by `RAW_MARGIN` either way (`low`,
    `high`; the calibrator is monotone). `pd:decline` when even `low` is above the refer limit;
    `min_limit` when even at `low` (the largest limit: multipliers never rise with PD) the limit
    is below the product's minimum and `high` cannot reach the PD rule, which would bind first.
    """
    if not len(matrix):
        return np.zeros(0, dtype=object)
    raw = model.raw_score(matrix)
    ends = model.calibrator_(raw - RAW_MARGIN), model.calibrator_(raw + RAW_MARGIN)
    low, high = np.minimum(*ends), np.maximum(*ends)
    refer_max = model.policy_.decision.refer_max_pd
    out = np.where(low > refer_max, "pd:decline", "").astype(object)
    maybe = np.flatnonzero((out == "") & (high <= refer_max))
    if len(maybe):
        at_low = decide(model.policy_, frame.iloc[maybe], low[maybe], model.spec.names)
        small = np.asarray(at_low.binding) == MIN_LIMIT
        out[maybe[small]] = MIN_LIMIT
    return out


def first_failed_gate(
    policy: ProductPolicy, frame: pd.DataFrame, available: Sequence[str] | None = None
) -> ObjectArray:
    """Per row, the first hard gate it fails in `models.limit.GATES` order, else "".

    `available`: the model's inputs (its data scope); gates on other inputs are not applied.
    """
    names = [n for n in required_inputs(policy, available) if n in frame.columns]
    cols = {n: frame[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in names}
    for name in required_inputs(policy):  # outside the scope: never read from the frame
        cols.setdefault(name, np.full(len(frame), np.nan))
    absent = [n for n in required_inputs(policy) if n not in names]
    first = np.full(len(frame), "", dtype=object)
    for gate in reversed(GATES):  # an earlier gate overwrites a later one
        if gate_applies(gate, policy.gates, absent):
            first[gate.fails(policy.gates, cols)] = gate.code
    return first


def _dates(column: pd.Series) -> list[dt.date]:
    """Snapshot dates as `datetime.date` (DuckDB hands DATE over as dates or timestamps).

    A snapshot has one date or few: each distinct day is converted once.
    """
    days = pd.to_datetime(column).to_numpy(dtype="datetime64[D]")
    distinct, index = np.unique(days, return_inverse=True)
    dates = [day.item() for day in distinct]
    return [dates[k] for k in index.tolist()]
