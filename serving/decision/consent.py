"""Which model may score an entity for a bank: the rule of consent and data minimisation.

A bank that requires consent (`tenants.require_consent`) scores an entity only under a valid
pre-approval consent (started, not expired, not revoked; `serving.db.consents`):

- a consent covering every scope its model reads (tax, social insurance, utilities and public
  records for the full model) is scored by that model;
- otherwise, a consent covering public credit records is scored by the public-records-only
  platform model (`precredit-platform_public`), trained without tax, social-insurance or
  utilities features — never the full model with inputs blanked;
- otherwise 403 `consent_required`.

A bank that does not require consent is scored as before (no consent recorded on its answers).
The flag is cached for `TTL_SECONDS`; consents are read on every request, so a revocation
counts from the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from catalog.errors import ConsentRequired
from catalog.schema import PUBLIC_RECORDS
from serving.db import consents
from serving.db.consents import Grant
from serving.db.prepared import Prepared, in_event_loop
from serving.decision.model_store import ModelHolder, ServedModel

PURPOSE = "preapproval"
TTL_SECONDS = 2.0


@dataclass(frozen=True)
class Use:
    """The model an entity is scored by, and the consent that allows it (None: not required)."""

    served: ServedModel
    grant: consents.Grant | None


class ConsentBook:
    """Applies the consent rule; caches each bank's `require_consent` flag briefly."""

    def __init__(
        self, reads: Engine, ttl: float = TTL_SECONDS, loop_reads: Engine | None = None
    ) -> None:
        self._reads = reads
        self._loop_reads = loop_reads or reads
        self._in_force = Prepared(reads, consents.IN_FORCE, loop_reads)  # per request
        self._in_force_of: dict[int, Prepared] = {}  # per group of requests, by size
        self._ttl = ttl
        self._flags: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def required(self, tenant: str) -> bool:
        """Whether the bank scores only under consent (cached for `ttl` seconds)."""
        cached = self._flags.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        engine = self._loop_reads if in_event_loop() else self._reads
        with engine.connect() as connection:
            flag = consents.requires_consent(connection, tenant)
        with self._lock:
            self._flags[tenant] = (time.monotonic(), flag)
        return flag

    def use(self, models: ModelHolder, tenant: str, code: str) -> Use:
        """The model for this bank and entity under its consents (403 `consent_required`)."""
        served = models.get(tenant)
        if not self.required(tenant):
            return Use(served, None)
        return choose(models, served, _in_force(self._grants(tenant, code)))

    def uses(
        self, models: ModelHolder, tenant: str, codes: Sequence[str]
    ) -> dict[str, Use | ConsentRequired]:
        """`use` for each of `codes` (each its own answer or its own 403), read in one query.

        Groups of requests (`serving.coalesce`): the consents are read once for the group,
        after its requests arrived, so a revocation counts from the next request as before.
        """
        served = models.get(tenant)
        if not self.required(tenant):
            return dict.fromkeys(codes, Use(served, None))
        found = self._grants_of_codes(tenant, codes)
        out: dict[str, Use | ConsentRequired] = {}
        for code in codes:
            try:
                out[code] = choose(models, served, _in_force(found.get(code, [])))
            except ConsentRequired as error:
                out[code] = error
        return out

    def grant(self, tenant: str, code: str, scopes: tuple[str, ...]) -> consents.Grant | None:
        """The consent that lets this bank read `scopes` of the entity (None: none required);
        403 `consent_required` when none covers them (no fallback model: the caller's reads
        those scopes or nothing)."""
        if not self.required(tenant):
            return None
        for grant in _in_force(self._grants(tenant, code)):
            if grant.covers(scopes):
                return grant
        raise ConsentRequired(
            "the enterprise's consent does not cover the data this model reads "
            f"({', '.join(scopes)})"
        )

    def _grants(self, tenant: str, code: str) -> list[consents.Grant]:
        params = consents.in_force_params(tenant, code, PURPOSE, consents.today())
        return consents.grants_of(self._in_force.rows(**params))

    def _grants_of_codes(self, tenant: str, codes: Sequence[str]) -> dict[str, list[Grant]]:
        """Each code's grants in force (widest first), `IN_FORCE` for every code in one read.

        The statement takes a power of two of codes (the last repeated): a handful of
        statements, each prepared once, serve every group size.
        """
        if not codes:
            return {}
        size = 1 << max(len(codes) - 1, 0).bit_length()
        prepared = self._in_force_of.get(size)
        if prepared is None:
            statement = consents.in_force_of(size)
            prepared = Prepared(self._reads, statement, self._loop_reads)
            self._in_force_of[size] = prepared
        padded = [*codes, *[codes[-1]] * (size - len(codes))]
        params = consents.in_force_params(tenant, "", PURPOSE, consents.today())
        del params["code"]
        rows = prepared.rows(**params, **{f"code{i}": c for i, c in enumerate(padded)})
        by_code: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_code.setdefault(str(row[0]), []).append(row[1:])
        return {code: consents.grants_of(found) for code, found in by_code.items()}


def _in_force(grants: list[Grant]) -> list[Grant]:
    """`grants`, or 403 when there are none."""
    if not grants:
        raise ConsentRequired(
            "no valid pre-approval consent from this enterprise for this bank: "
            "record one (POST /v1/consents) first"
        )
    return grants


def choose(models: ModelHolder, served: ServedModel, grants: list[consents.Grant]) -> Use:
    """The bank's model under a consent covering its scopes, else the public model."""
    for grant in grants:
        if grant.covers(served.data_scope):
            return Use(served, grant)
    public = [g for g in grants if g.covers((PUBLIC_RECORDS,))]
    if not public:
        raise ConsentRequired(
            "the enterprise's consent does not cover public credit records (public_records)"
        )
    return Use(models.public(), public[0])
