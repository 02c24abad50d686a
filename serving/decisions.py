"""Score a request end to end and store it: snapshot row -> model -> answer -> audit row."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from features import uscc
from features.errors import InvalidInput, NotFound
from serving import scoring
from serving.db import repo
from serving.model_store import ServedModel
from serving.state import Services


def _snapshot_date(row: dict[str, Any]) -> str:
    value = row["as_of"]
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _check_product(served: ServedModel, product: str) -> None:
    if product != served.model.policy_.product:
        raise InvalidInput(f"unknown product for this bank (known: {served.model.policy_.product})")


def score(services: Services, session: Session, tenant: str, code: str, product: str,
          requested: float | None) -> dict[str, Any]:  # fmt: skip
    """Answer one request and record it; the answer carries its decision id."""
    canonical = uscc.canonical(code)
    served = services.models.get(tenant)  # one reference: score and reasons from one version
    _check_product(served, product)
    row = services.snapshot.row(canonical)
    request = scoring.Request(canonical, product, requested)
    features = scoring.feature_values_dict(row, served.model.spec.names)
    as_of = _snapshot_date(row)
    answer = scoring.decide(served, request, features, as_of)
    decision_id = repo.record_decision(
        session, tenant_id=tenant, uscc=canonical, product=product, requested_amount_cny=requested,
        decision=answer["decision"], limit_cny=answer["limit_cny"], pd=answer["pd"],
        grade=answer["grade_label"], binding=answer["binding"], model_name=served.name,
        model_version=served.version, model_sha256=served.fingerprint,
        policy_version=served.model.policy_.version, policy_fingerprint=served.model.policy_.fingerprint(),
        registry_fingerprint=str(row.get("registry_fingerprint", "")),
        snapshot_as_of=dt.date.fromisoformat(as_of), input_hash=scoring.input_hash(request, features, as_of),
        features_json=scoring.canonical_json(features), reasons_json=scoring.canonical_json(answer["reasons"]),
        response_json=scoring.canonical_json(answer),
    )  # fmt: skip
    return {"decision_id": decision_id, **answer}


def stored(session: Session, tenant: str, decision_id: str) -> dict[str, Any]:
    """A stored answer exactly as it was given (404 for another tenant's id)."""
    row = repo.get_decision(session, tenant, decision_id)
    if row is None:
        raise NotFound("no such decision")
    return {
        "decision_id": row.id,
        "created_at": row.created_at.isoformat(),
        **json.loads(row.response_json),
    }


def replay(services: Services, session: Session, tenant: str, decision_id: str) -> dict[str, Any]:
    """Recompute a stored decision with the same model version, features and request."""
    row = repo.get_decision(session, tenant, decision_id)
    if row is None:
        raise NotFound("no such decision")
    served = services.models.version(row.model_name, row.model_version)
    features = json.loads(row.features_json)
    request = scoring.Request(row.uscc, row.product, row.requested_amount_cny)
    answer = scoring.decide(served, request, features, row.snapshot_as_of.isoformat())
    again = scoring.canonical_json(answer)
    return {"decision_id": row.id, "identical": again == row.response_json,
            "original": json.loads(row.response_json), "replayed": answer}  # fmt: skip
