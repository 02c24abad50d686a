"""Consents over the API and the CLI: who may record, list and revoke them, and their JSON.

A bank's key (score scope) records, lists and revokes its own consents. The SME financing
platform's key (platform scope) records consents on an enterprise's behalf for a named bank and
may revoke the ones it recorded; it lists none (a bank's consents are the bank's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from serving.db import consents, repo
from serving.db.models import Consent
from serving.errors import ApiError
from serving.schemas import ConsentIn

PLATFORM_SCOPE = "platform"


def bank_of(principal: repo.Principal, body: ConsentIn) -> str:
    """The bank a consent is recorded for: the key's own, or the one the platform names."""
    if PLATFORM_SCOPE in principal.scopes:
        if body.bank is None:
            raise ApiError(422, "bank_required", "the financing platform names the bank: bank")
        return body.bank
    if "score" not in principal.scopes:
        raise ApiError(403, "forbidden", "this API key lacks the 'score' scope")
    if body.bank is not None and body.bank != principal.tenant_id:
        raise ApiError(403, "forbidden", "a bank records consents only for itself")
    return principal.tenant_id


def record(session: Session, principal: repo.Principal, body: ConsentIn) -> dict[str, Any]:
    """Store the consent for its bank; its JSON."""
    fields = consents.ConsentFields(
        body.uscc,
        tuple(body.scope),
        body.purpose,
        body.starts_on,
        body.expires_on,
        body.evidence_sha256,
    )
    consent = consents.record(session, bank_of(principal, body), fields, repo.identity(principal))
    return to_dict(session, consent)


def revoke(session: Session, principal: repo.Principal, consent_id: str) -> dict[str, Any]:
    """Revoke a consent from now (the bank's own; the platform's key: the ones it recorded)."""
    identity = repo.identity(principal)
    if PLATFORM_SCOPE in principal.scopes:
        found = session.get(Consent, consent_id)
        if found is None or found.recorded_by != identity:
            raise ApiError(404, "not_found", "no such consent")
        tenant = found.tenant_id
    elif "score" in principal.scopes:
        tenant = principal.tenant_id
    else:
        raise ApiError(403, "forbidden", "this API key lacks the 'score' scope")
    consent = consents.revoke(session, tenant, consent_id, identity)
    return to_dict(session, consent)


def status(consent: Consent, revoked: bool, day: dt.date) -> str:
    """Whether the consent is in force on `day`."""
    if revoked:
        return "revoked"
    if day < consent.starts_on:
        return "not_started"
    return "expired" if day > consent.expires_on else "valid"


def to_dict(session: Session, consent: Consent) -> dict[str, Any]:
    """The consent as the API answers it (with its revocation and status today)."""
    revocation = consents.revocation(session, consent.id)
    return {
        "id": consent.id,
        "bank": consent.tenant_id,
        "uscc": consent.uscc,
        "scope": consent.scope.split(","),
        "purpose": consent.purpose,
        "starts_on": consent.starts_on.isoformat(),
        "expires_on": consent.expires_on.isoformat(),
        "evidence_sha256": consent.evidence_sha256,
        "recorded_by": consent.recorded_by,
        "recorded_at": _moment(consent.recorded_at),
        "revoked_at": None if revocation is None else _moment(revocation.revoked_at),
        "revoked_by": None if revocation is None else revocation.revoked_by,
        "status": status(consent, revocation is not None, consents.today()),
    }


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
