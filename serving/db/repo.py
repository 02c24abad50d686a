"""The service database's repository: the functions the API calls, each taking a `Session`.

Transactions belong to the caller: these functions flush, never commit, so one request's
writes (a decision and its idempotent answer) commit together. Keep transactions short: on
SQLite every transaction holds the database's write lock (see `engine.py`).

Expected situations raise the project's errors (`InvalidInput`, `NotFound`), never
SQLAlchemy's. Another tenant's object is answered exactly like a missing one.
"""

from __future__ import annotations

from serving.db.audit import DecisionFields, get_decision, record_decision, record_decisions
from serving.db.idempotency import (
    Claim,
    ClaimStatus,
    claim_idempotency,
    complete_idempotency,
    release_idempotency,
)
from serving.db.keys import (
    SCOPES,
    KeyInfo,
    Principal,
    authenticate,
    identity,
    issue_key,
    list_keys,
    live_principal,
    revoke_key,
)
from serving.db.models import new_id, utcnow
from serving.db.outcomes import (
    OutcomeFields,
    UpsertResult,
    matured_outcomes,
    maturing_outcomes,
    upsert_outcome,
)
from serving.db.tenants import (
    ReservedId,
    TenantOptions,
    create_tenant,
    ensure_platform,
    get_tenant,
    list_tenants,
)

__all__ = [
    "SCOPES",
    "Claim",
    "ClaimStatus",
    "DecisionFields",
    "KeyInfo",
    "OutcomeFields",
    "Principal",
    "ReservedId",
    "TenantOptions",
    "UpsertResult",
    "authenticate",
    "claim_idempotency",
    "complete_idempotency",
    "create_tenant",
    "ensure_platform",
    "get_decision",
    "get_tenant",
    "identity",
    "issue_key",
    "list_keys",
    "list_tenants",
    "live_principal",
    "matured_outcomes",
    "maturing_outcomes",
    "new_id",
    "record_decision",
    "record_decisions",
    "release_idempotency",
    "revoke_key",
    "upsert_outcome",
    "utcnow",
]
