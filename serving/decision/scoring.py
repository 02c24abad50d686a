"""One explained pre-approval from a snapshot row and a served model; replayable bit for bit.

The answer is built from plain values only (no pandas in the answer), rounded nowhere: the
stored answer and a replay with the same model version and features compare byte for byte.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from models import wording
from models.decision import Decision, ModelRef, Preapproval, Wording, input_hash
from models.policy import fingerprint_of
from serving.db import json_text
from serving.decision.model_store import ServedModel
from serving.decision.snapshot import SnapshotRow


@dataclass(frozen=True)
class Request:
    """A bank's question: which entity, which product, how much."""

    uscc: str
    product: str
    requested_amount_cny: float | None = None
    code_flag: str | None = None  # a registered pilot-era code failing a check: its reason
    consent_id: str | None = None  # the consent it is scored under (None: not required)


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, NaN kept (internal storage only).

    The stdlib's text (stored answers are compared with their replays byte for byte), written
    by orjson where it writes the same bytes (`serving.db.json_text`).
    """
    return json_text.dumps(value, sort_keys=True)


def feature_values_dict(row: SnapshotRow, names: tuple[str, ...]) -> dict[str, float | None]:
    """The model's inputs as plain floats (None for missing), in model order."""
    values = row.take(names).tolist()
    return {n: v if v == v else None for n, v in zip(names, values, strict=True)}  # NaN: None


def _dated(
    failed: list[str],
    reasons: list[Wording],
    features: dict[str, float | None],
    as_of: str,
) -> list[Wording]:
    """Decline reasons naming the day a listing gate's record was listed (when known)."""
    if not failed or not any(code in wording.GATE_SINCE for code in failed):
        return reasons
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:  # no snapshot date (a benchmark's synthetic row): the plain texts
        return reasons
    texts = [(r.text_zh, r.text_en) for r in reasons]
    dated = wording.dated_gate_texts(failed, texts, features, day)
    return [Wording(text_zh=zh, text_en=en) for zh, en in dated]


def decide(
    served: ServedModel, request: Request, features: dict[str, float | None], snapshot_as_of: str
) -> Decision:
    """The answer for one request (without the decision id, which the record assigns)."""
    return decide_many(served, [request], [features], [snapshot_as_of])[0]


def decide_many(
    served: ServedModel,
    requests: list[Request],
    features: list[dict[str, float | None]],
    snapshot_as_of: list[str],
) -> list[Decision]:
    """The answers for requests to one served model, scored together; each equals `decide`'s.

    Every row is scored on its own inside the model (TreeSHAP, calibration and limits work
    row by row), so scoring rows together changes no answer; it only saves per-call overhead.
    """
    names = served.model.spec.names
    matrix = np.array(
        [[math.nan if row[n] is None else row[n] for n in names] for row in features],
        dtype=np.float64,
    ).reshape(len(features), len(names))
    results = served.model.preapprovals(matrix)
    return [
        _decision(served, request, row, as_of, (result, matrix[i]))
        for i, (request, row, as_of, result) in enumerate(
            zip(requests, features, snapshot_as_of, results, strict=True)
        )
    ]


def _decision(
    served: ServedModel,
    request: Request,
    features: dict[str, float | None],
    snapshot_as_of: str,
    scored: tuple[Preapproval, np.ndarray],
) -> Decision:
    """One request's answer from its model result and its input row."""
    result, inputs = scored
    policy = served.model.policy_
    asked = request.requested_amount_cny
    return Decision(
        uscc=request.uscc,
        uscc_flag=request.code_flag,
        product=request.product,
        decision=result.decision,
        limit_cny=result.limit_cny,
        pd=result.pd,
        grade=result.grade,
        grade_label=result.grade_label,
        binding=result.binding,
        failed_gates=result.failed_gates,
        approved_amount_cny=(
            None if asked is None or result.limit_cny == 0 else min(asked, result.limit_cny)
        ),
        decline_reasons=_dated(
            result.failed_gates, result.decline_reasons, features, snapshot_as_of
        ),
        reasons=result.reasons,
        limit_drivers=result.drivers,
        limit_explained=result.limit_explained,
        snapshot_as_of=snapshot_as_of,
        model=ModelRef(name=served.name, version=served.version, fingerprint=served.fingerprint),
        policy_version=policy.version,
        policy_fingerprint=fingerprint_of(policy),
        indicative_rate=policy.indicative_rate(result.grade_label),
        data_scope=list(served.data_scope),
        consent_id=request.consent_id,
        input_hash=input_hash(request.uscc, request.product, snapshot_as_of, inputs),
    )
