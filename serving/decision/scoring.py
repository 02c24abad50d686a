"""One explained pre-approval from a snapshot row and a served model; replayable bit for bit.

The answer is built from plain values only (no pandas in the answer), rounded nowhere: the
stored answer and a replay with the same model version and features compare byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.decision.model_store import ServedModel
from serving.decision.snapshot import SnapshotRow

ANSWER_FIELDS = ("decision", "limit_cny", "pd", "grade", "grade_label", "binding", "failed_gates")


@dataclass(frozen=True)
class Request:
    """A bank's question: which entity, which product, how much."""

    uscc: str
    product: str
    requested_amount_cny: float | None = None
    code_flag: str | None = None  # a registered pilot-era code failing a check: its reason


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, NaN kept (internal storage only)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def input_hash(request: Request, features: dict[str, float | None], snapshot_as_of: str) -> str:
    """SHA-256 of everything the decision depends on besides the model."""
    payload = {"request": request.__dict__, "features": features, "snapshot_as_of": snapshot_as_of}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def feature_values_dict(row: SnapshotRow, names: tuple[str, ...]) -> dict[str, float | None]:
    """The model's inputs as plain floats (None for missing), in model order."""
    values = row.take(names).tolist()
    return {n: None if math.isnan(v) else v for n, v in zip(names, values, strict=True)}


def decide(
    served: ServedModel, request: Request, features: dict[str, float | None], snapshot_as_of: str
) -> dict[str, Any]:
    """The answer body for one request (without the decision id, which the caller assigns)."""
    names = served.model.spec.names
    matrix = np.array(
        [[math.nan if features[n] is None else features[n] for n in names]], dtype=np.float64
    )
    result = served.model.preapprove(matrix)[0]
    limit = float(result["limit_cny"])
    asked = request.requested_amount_cny
    return {
        "uscc": request.uscc,
        **({"uscc_flag": request.code_flag} if request.code_flag else {}),
        "product": request.product,
        **{k: result[k] for k in ANSWER_FIELDS},
        "approved_amount_cny": None if asked is None or limit == 0 else min(asked, limit),
        "reasons": result["reasons"],
        "limit_drivers": result["drivers"],
        "snapshot_as_of": snapshot_as_of,
        "model": {
            "name": served.name,
            "version": served.version,
            "fingerprint": served.fingerprint,
        },
        "policy_version": served.model.policy_.version,
    }
