"""Verify a tenant's audit hash chain (`audit_chain`) and name the first row that breaks it.

Within the database, a rewritten row fails its own hash (or, when its hash was recomputed, its
successor's `prev_hash`) and a deleted row leaves a gap in `seq`. What a database owner can
still do, rewrite a row and every hash after it or cut the tail, is caught against an anchor:
a tenant's head (`seq`, `row_hash`) kept outside the database since the last verification.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput
from serving.db.audit_chain import CHAINED, GENESIS, OPTIONAL, row_hash
from serving.db.models import Decision, Tenant

ANCHOR_FORMAT = "precredit-audit-anchor/1"
_DECISIONS: Table = Decision.__table__  # type: ignore[assignment]
_COLUMNS = [_DECISIONS.c[name] for name in (*CHAINED, *OPTIONAL, "prev_hash", "row_hash")]


@dataclass(frozen=True)
class Head:
    """The last row of a tenant's chain: its `seq` and `row_hash` (seq 0: no decision yet)."""

    seq: int
    row_hash: str


@dataclass(frozen=True)
class Break:
    """The first row where a tenant's chain does not hold, and why."""

    tenant_id: str
    seq: int
    decision_id: str | None  # None when the row is missing
    reason: str

    def line(self) -> str:
        """One readable line naming the row."""
        row = f"decision {self.decision_id}" if self.decision_id else "no decision"
        return f"audit chain of {self.tenant_id} broken at seq {self.seq} ({row}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    """One tenant's verification: how far the chain goes, and its first break if any."""

    tenant_id: str
    head: Head
    broken: Break | None


def verify_tenant(session: Session, tenant_id: str, anchor: Head | None = None) -> ChainReport:
    """Walk the tenant's decisions in `seq` order; the first break, checked against `anchor`."""
    head, last_id = Head(0, GENESIS), None
    query = select(*_COLUMNS).where(_DECISIONS.c.tenant_id == tenant_id).order_by("seq")
    for row in session.execute(query.execution_options(yield_per=500)).mappings():
        broken = _check(tenant_id, row, head, last_id, anchor)
        if broken is not None:
            return ChainReport(tenant_id, head, broken)
        head, last_id = Head(int(row["seq"]), str(row["row_hash"])), str(row["id"])
    if anchor is not None and anchor.seq > head.seq:
        reason = f"the chain ends at seq {head.seq} but the anchor holds seq {anchor.seq}: "
        broken = Break(tenant_id, head.seq + 1, None, reason + "the tail was removed")
        return ChainReport(tenant_id, head, broken)
    return ChainReport(tenant_id, head, None)


def verify(
    session: Session,
    tenants: Iterable[str] | None = None,
    anchors: Mapping[str, Head] | None = None,
) -> list[ChainReport]:
    """Verify the given tenants (default: every tenant, and every tenant the anchors name)."""
    anchors = anchors or {}
    if tenants is None:
        known = set(session.scalars(select(Tenant.id)))
        tenants = sorted(known | set(anchors))
    return [verify_tenant(session, tenant, anchors.get(tenant)) for tenant in tenants]


def read_anchors(path: Path) -> dict[str, Head]:
    """The heads kept in the anchor file at `path`; empty when there is no file yet."""
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != ANCHOR_FORMAT:
            raise ValueError("unknown format")
        return {
            str(t): Head(int(h["seq"]), str(h["row_hash"])) for t, h in document["heads"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"the audit anchor {path} cannot be read: {exc}") from None


def write_anchors(path: Path, heads: Mapping[str, Head]) -> None:
    """Replace the anchor file at `path` with `heads`, atomically."""
    document = {"format": ANCHOR_FORMAT, "heads": {t: asdict(h) for t, h in sorted(heads.items())}}
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _check(
    tenant_id: str,
    row: Mapping[Any, Any],
    previous: Head,
    previous_id: str | None,
    anchor: Head | None,
) -> Break | None:
    """Why `row` (following `previous`) breaks the chain, or None."""
    seq, decision_id = int(row["seq"]), str(row["id"])
    if seq != previous.seq + 1:
        return Break(tenant_id, previous.seq + 1, None, f"the row is missing (next is seq {seq})")
    if row_hash(row, str(row["prev_hash"])) != row["row_hash"]:
        return Break(tenant_id, seq, decision_id, "its contents do not match its hash (rewritten)")
    if row["prev_hash"] != previous.row_hash and previous_id is None:
        return Break(tenant_id, seq, decision_id, "its prev_hash is not the chain's start")
    if row["prev_hash"] != previous.row_hash:
        # This row is self-consistent, so its predecessor changed after this row sealed it.
        reason = f"its hash no longer matches the one seq {seq} sealed (rewritten)"
        return Break(tenant_id, previous.seq, previous_id, reason)
    if anchor is not None and seq == anchor.seq and row["row_hash"] != anchor.row_hash:
        reason = "its hash differs from the anchor (the chain was rewritten up to here)"
        return Break(tenant_id, seq, decision_id, reason)
    return None
