"""`/v1/table-models`: a bank's models of its own table, once promoted (docs/table_models.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from catalog.errors import InvalidInput
from models.policy import ProductPolicy, default_policy, fingerprint_of
from serving import table_scores
from serving.db.keys import identity
from serving.deps import ReaderDep, ScorePrincipal, ServicesDep, SessionDep
from serving.errors import documented
from serving.responses import TableScores
from serving.schemas import TableScoreIn, TableSlug
from serving.state import Services

router = APIRouter(tags=["table models"])


@router.post(
    "/v1/table-models/{table}/scores",
    summary="Score rows of your own table with your promoted table model",
    response_model=TableScores,
    responses=documented(401, 403, 404, 413, 422, 503),
)
def score(
    table: TableSlug,
    body: TableScoreIn,
    principal: ScorePrincipal,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """PD, grade, decision (your product policy's PD cut-offs) and reasons per row; stored.

    Only `precredit-<your bank>-table-<table>@champion` answers: a version is served once
    promoted by the one rule (gate, another person's approval). 404 before that, and for any
    other bank's table. 422 names a column the model reads that a row lacks, or one that
    must be numeric. A model trained with `--join-platform` also reads the platform's features
    of each row's entity: send `codes` (one credit code per row); they come from the snapshot in
    service under your consent rule (403 `consent_required`, 404 `unknown_entity`, each naming
    the row). No limit: see `limit_note`.
    """
    served = services.table_models.get(principal.tenant_id, table)
    policy, fingerprint = _policy(services, principal.tenant_id, body.product)
    platform = table_scores.join_platform(
        services, principal.tenant_id, served, body.rows, body.codes
    )
    request = table_scores.ScoreRequest(served, body.rows, body.top, policy, fingerprint, platform)
    answer = table_scores.score(request)
    stored = table_scores.record(session, principal.tenant_id, identity(principal), answer)
    session.commit()  # nothing after it: an acknowledged answer is a stored one
    return stored


@router.get(
    "/v1/table-models/scores/{score_id}",
    summary="A stored table-model answer, as it was given",
    response_model=TableScores,
    responses=documented(401, 403, 404),
)
def stored_score(score_id: str, principal: ScorePrincipal, session: ReaderDep) -> dict[str, Any]:
    """Another bank's answer is answered exactly like a missing one (404)."""
    return table_scores.stored(session, principal.tenant_id, score_id[:36])


def _policy(services: Services, tenant: str, product: str | None) -> tuple[ProductPolicy, str]:
    """The bank's policy for `product` (None: its first product), else the default policy."""
    bank = services.policies.products(tenant)
    if not bank:
        policy = default_policy()
        if product is not None and product != policy.product:
            raise InvalidInput(f"unknown product for this bank (known: {policy.product})")
        return policy, fingerprint_of(policy)
    wanted = product if product is not None else min(bank)
    stored = bank.get(wanted)
    if stored is None:
        raise InvalidInput(f"unknown product for this bank (known: {', '.join(sorted(bank))})")
    return stored.policy, stored.fingerprint
