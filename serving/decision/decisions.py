"""Score a request end to end and store it: snapshot row -> model -> answer -> audit row."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from catalog import uscc
from catalog.errors import InvalidUSCC, NotFound, PrecreditError
from models.decision import Decision, RecordedDecision
from serving.db import policies, repo
from serving.decision import consent, scoring
from serving.decision.model_store import ServedModel
from serving.decision.snapshot import SnapshotRow
from serving.state import Services

PILOT_REASONS = (uscc.REASON_CHECK_CHAR, uscc.REASON_ORG_CHECK)


def _code(services: Services, code: str) -> tuple[str, str | None]:
    """The canonical code, or a registered pilot-era code that fails a check, with its flag.

    DOMAIN: early pilot regions issued codes that fail the check characters; such a code is
    flagged in the answer, never refused, when the platform has the entity registered.
    """
    try:
        return uscc.canonical(code), None
    except InvalidUSCC as error:
        normalized = uscc.normalize(code)
        if error.reason in PILOT_REASONS and services.snapshot.has(normalized):
            services.metrics.flagged_code(error.reason)
            return normalized, error.reason
        raise


def code_flag(code: str) -> str | None:
    """The pilot-era flag of a stored code (None for a valid one): replays recompute it."""
    try:
        uscc.canonical(code)
    except InvalidUSCC as error:
        return error.reason
    return None


@dataclass(frozen=True)
class Scored:
    """An answer and the audit row that records it (written by `record`)."""

    answer: Decision
    audit: repo.DecisionFields


@dataclass(frozen=True)
class _Prepared:
    """A request checked and resolved: the model that answers it and its inputs."""

    served: ServedModel
    request: scoring.Request
    features: dict[str, float | None]
    row: SnapshotRow
    consent_purpose: str | None


def evaluate(
    services: Services, tenant: str, code: str, product: str | None, requested: float | None
) -> Scored:
    """Score one request without touching the service database (None: the bank's default
    product)."""
    prepared = _prepare(services, tenant, code, product, requested)
    answer = scoring.decide(
        prepared.served, prepared.request, prepared.features, prepared.row.as_of
    )
    return _scored(tenant, prepared, answer)


def evaluate_many(
    services: Services, tenant: str, items: Sequence[tuple[str, str | None, float | None]]
) -> list[Scored | PrecreditError]:
    """`evaluate` for each (code, product, requested) item, models run once per served model.

    An item refused on its own gets its error in its place; a 503 (no model) is raised. The
    consents of all the items are read in one query (`ConsentBook.uses`).
    """
    out: list[Scored | PrecreditError | None] = []
    checked: dict[int, _Checked] = {}
    for index, (code, product, requested) in enumerate(items):
        try:
            checked[index] = _check(services, tenant, code, product, requested)
        except PrecreditError as error:
            if error.http_status == 503:
                raise
            out.append(error)
            continue
        out.append(None)
    codes = list(dict.fromkeys(c.code for c in checked.values()))
    uses = services.consents.uses(services.models, tenant, codes)
    prepared: dict[int, _Prepared] = {}
    groups: dict[int, list[int]] = {}
    for index, check in checked.items():
        use = uses[check.code]
        if isinstance(use, PrecreditError):
            out[index] = use
            continue
        prepared[index] = _with_consent(services, tenant, check, use)
        groups.setdefault(id(prepared[index].served), []).append(index)
    for indices in groups.values():
        batch = [prepared[i] for i in indices]
        answers = scoring.decide_many(
            batch[0].served,
            [p.request for p in batch],
            [p.features for p in batch],
            [p.row.as_of for p in batch],
        )
        for i, answer in zip(indices, answers, strict=True):
            out[i] = _scored(tenant, prepared[i], answer)
    return [item for item in out if item is not None]


@dataclass(frozen=True)
class _Checked:
    """A request's code, served model (with the bank's product policy) and snapshot row."""

    code: str
    flag: str | None
    product: str | None  # as asked (None: the bank's default product)
    served: ServedModel
    row: SnapshotRow
    requested: float | None


def _check(
    services: Services, tenant: str, code: str, product: str | None, requested: float | None
) -> _Checked:
    """Check the code, choose the served model and policy, read the row (422, then 404)."""
    canonical, flag = _code(services, code)
    # one reference: score and reasons from one model version, limits from one policy version
    served = services.policies.served(services.models.get(tenant), tenant, product)  # 422 first
    row = services.snapshot.row(canonical)  # then 404, then the consent's 403
    return _Checked(canonical, flag, product, served, row, requested)


def _prepare(
    services: Services, tenant: str, code: str, product: str | None, requested: float | None
) -> _Prepared:
    """Check the code, choose the served model and policy, read the row and the consent."""
    check = _check(services, tenant, code, product, requested)
    return _with_consent(
        services, tenant, check, services.consents.use(services.models, tenant, check.code)
    )


def _with_consent(services: Services, tenant: str, check: _Checked, use: consent.Use) -> _Prepared:
    """The request as scored under the consent that allows it (a model it reads, its id)."""
    served = check.served
    if use.served.name != served.name:  # the public-records-only model, under the same policy
        served = services.policies.served(use.served, tenant, check.product)
    grant = use.grant
    request = scoring.Request(
        check.code,
        served.model.policy_.product,
        check.requested,
        check.flag,
        None if grant is None else grant.id,
    )
    features = scoring.feature_values_dict(check.row, served.model.spec.names)
    purpose = None if grant is None else grant.purpose
    return _Prepared(served, request, features, check.row, purpose)


def _scored(tenant: str, prepared: _Prepared, answer: Decision) -> Scored:
    """The answer with the audit row that records it."""
    served, row, request = prepared.served, prepared.row, prepared.request
    body = answer.model_dump(mode="json")
    audit = repo.DecisionFields(
        tenant_id=tenant,
        uscc=request.uscc,
        product=request.product,
        requested_amount_cny=request.requested_amount_cny,
        decision=answer.decision,
        limit_cny=answer.limit_cny,
        pd=answer.pd,
        grade=answer.grade_label,
        binding=answer.binding,
        model_name=served.name,
        model_version=served.version,
        model_sha256=served.fingerprint,
        policy_version=answer.policy_version,
        policy_fingerprint=answer.policy_fingerprint,
        registry_fingerprint=row.registry_fingerprint,
        snapshot_as_of=dt.date.fromisoformat(row.as_of),
        input_hash=answer.input_hash,
        features_json=scoring.canonical_json(prepared.features),
        reasons_json=scoring.canonical_json(body["reasons"]),
        response_json=scoring.canonical_json(body),
        consent_id=request.consent_id,
        consent_purpose=prepared.consent_purpose,
    )
    return Scored(answer, audit)


def record(session: Session, scored: Sequence[Scored]) -> list[RecordedDecision]:
    """Store the audit rows in the caller's transaction (one executemany); answers with ids."""
    ids = repo.record_decisions(session, [s.audit for s in scored])
    return [RecordedDecision.of(s.answer, i) for i, s in zip(ids, scored, strict=True)]


def commit(services: Services, scored: Sequence[Scored]) -> list[RecordedDecision]:
    """Store the audit rows durably (group commit with other requests); answers with ids."""
    ids = services.audit.write([s.audit for s in scored])
    return [RecordedDecision.of(s.answer, i) for i, s in zip(ids, scored, strict=True)]


def score(
    services: Services, tenant: str, code: str, product: str, requested: float | None
) -> RecordedDecision:
    """Answer one request once it is recorded; the answer carries its decision id."""
    return commit(services, [evaluate(services, tenant, code, product, requested)])[0]


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
    served = _policy_of(
        services, session, row, services.models.version(row.model_name, row.model_version)
    )
    features = json.loads(row.features_json)
    request = scoring.Request(
        row.uscc, row.product, row.requested_amount_cny, code_flag(row.uscc), row.consent_id
    )
    answer = scoring.decide(served, request, features, row.snapshot_as_of.isoformat())
    replayed = answer.model_dump(mode="json")
    original = json.loads(row.response_json)
    # Fields the answer gained after this decision was made (e.g. `data_scope`) were not part
    # of it: the stored bytes are compared with the replay's same fields, and the rest listed.
    compared = {k: v for k, v in replayed.items() if k in original}
    return {
        "decision_id": row.id,
        "identical": scoring.canonical_json(compared) == row.response_json,
        "fields_added": sorted(set(replayed) - set(original)),
        "fields_changed": sorted(
            k
            for k in original
            if k not in replayed
            or scoring.canonical_json(replayed[k]) != scoring.canonical_json(original[k])
        ),
        "original": original,
        "replayed": replayed,
    }


def _policy_of(services: Services, session: Session, row: Any, served: ServedModel) -> ServedModel:
    """`served` under the policy the stored decision was made with (the model's own if none)."""
    if row.policy_fingerprint == served.model.policy_.fingerprint():
        return served
    stored = policies.by_fingerprint(session, row.tenant_id, row.policy_fingerprint)
    if stored is None:
        return served
    return services.policies.under(served, stored.policy, stored.fingerprint)
