"""The one promotion rule: only a version that passed its gate becomes champion, approved by
someone other than whoever asked for it.

Every path that moves `@champion` calls `promote`: the CLI (`precredit models promote`), the
API (`POST /v1/models/promote`), auto-promotion after (re)training and notebook 02. A version
whose gate failed is refused (`GateFailed`) unless the approver gives an `Override` with a
written reason, which is recorded. The approver is an identity (`key:<key id>`, an operator,
`policy:auto`), never a free-text name; it must differ from the run's recorded requester
(`SamePerson`). The caller stores the returned `PromotionRecord` (the service database).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from catalog.errors import InvalidInput, NotFound, PrecreditError
from training import tracking
from training.table_slug import TABLE_SLUG

REQUESTED_BY_TAG = "requested_by"  # run tag: who asked for the training that made the version
AUTO_APPROVER = "policy:auto"  # a bank's `auto` promotion policy, or `precredit train --promote`
MIN_OVERRIDE_REASON = 20


class GateFailed(PrecreditError):
    """The version failed its promotion gate and no override was given."""

    http_status = 409
    code = "gate_failed"


class SamePerson(PrecreditError):
    """The approver is whoever requested the retraining (maker-checker)."""

    http_status = 403
    code = "same_person"


@dataclass(frozen=True)
class Override:
    """An explicit decision to promote a gate-failed version, with its written reason."""

    reason: str

    def __post_init__(self) -> None:
        if len(self.reason.strip()) < MIN_OVERRIDE_REASON:
            raise InvalidInput(
                f"an override needs a written reason of at least {MIN_OVERRIDE_REASON} characters"
            )


@dataclass(frozen=True)
class Approval:
    """Who approves (an identity, never a typed-in name), why, and any gate override."""

    approver: str
    reason: str
    override: Override | None = None


@dataclass(frozen=True)
class PromotionRecord:
    """One promotion: which version, who asked, who approved, the gate, any override."""

    tenant: str
    model_name: str
    version: str
    run_id: str
    requested_by: str | None
    approved_by: str
    gate_passed: bool
    reason: str
    override_reason: str | None
    promoted_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (time in ISO 8601)."""
        return asdict(self) | {"promoted_at": self.promoted_at.isoformat()}


def promote(
    client: MlflowClient, tenant: str, version: str, approval: Approval, table: str | None = None
) -> PromotionRecord:
    """Make `version` the tenant's champion if the rule allows it; the record of the promotion.

    `table` names one of the tenant's own-table models (`precredit-<tenant>-table-<table>`),
    promoted by the same rule; without it, the tenant's platform-feature model.
    """
    approver, override = approval.approver, approval.override
    if not approver.strip():
        raise InvalidInput("a promotion needs the approver's identity")
    if table is None:
        name = tracking.model_name(tenant)
    elif re.fullmatch(TABLE_SLUG, table):
        name = tracking.table_model_name(tenant, table)
    else:
        raise InvalidInput("table must be the slug of a registered table model, e.g. loans")
    try:
        run_id = str(client.get_model_version(name, version).run_id)
        run = client.get_run(run_id)
    except MlflowException:
        raise NotFound(f"{name} has no version {version}") from None
    passed = run.data.metrics.get("gate_passed") == 1.0
    if not passed and override is None:
        raise GateFailed(
            f"{name} version {version} failed its promotion gate; it is promoted only with an "
            "explicit override and a written reason"
        )
    requested_by = run.data.tags.get(REQUESTED_BY_TAG)
    if requested_by is not None and requested_by == approver:
        raise SamePerson(
            f"{approver} requested this retraining and cannot approve it: another admin must"
        )
    record = PromotionRecord(
        tenant,
        name,
        version,
        run_id,
        requested_by,
        approver,
        passed,
        approval.reason,
        None if override is None else override.reason.strip(),
        dt.datetime.now(dt.UTC),  # to the microsecond: the history orders by it
    )
    tracking.set_champion(client, record.model_name, record.version, _tags(record))
    return record


def _tags(record: PromotionRecord) -> dict[str, str]:
    tags = {
        "promoted_by": record.approved_by,
        "promoted_reason": record.reason,
        "promoted_at": record.promoted_at.isoformat(),
        "gate_passed": str(record.gate_passed).lower(),
    }
    if record.override_reason is not None:
        tags["gate_override_reason"] = record.override_reason
    return tags
