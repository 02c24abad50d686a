"""The decisions audit as a hash chain per tenant: each row seals its contents and its predecessor.

Row `seq` n of a tenant stores `prev_hash` (row n-1's `row_hash`, or `GENESIS` for row 1) and
`row_hash` = SHA-256 over `prev_hash` and every stored field in canonical form. Rewriting a row
breaks its own hash; deleting one leaves a gap in `seq` and a dangling `prev_hash`; rewriting
the rest of the chain to hide either needs a copy of the head taken earlier (an anchor) to be
caught, see `audit_verify`.

Rows are chained in the transaction that inserts them. Writers of one tenant take turns:
SQLite's `BEGIN IMMEDIATE` already serialises every writer; on PostgreSQL a transaction-scoped
advisory lock per tenant does (no table privilege needed, released at commit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.db import json_text

GENESIS = "0" * 64
# Every stored field, in a fixed order: the hash covers all of them.
CHAINED = ("id", "tenant_id", "seq", "created_at", "uscc", "product", "requested_amount_cny",
           "decision", "limit_cny", "pd", "grade", "binding", "model_name", "model_version",
           "model_sha256", "policy_version", "policy_fingerprint", "registry_fingerprint",
           "snapshot_as_of", "input_hash", "features_json", "reasons_json",
           "response_json")  # fmt: skip
# Sealed when set (rows before migration 0010 have none, and keep their hashes); a value put
# into, changed in or removed from such a field breaks the row's hash like any other.
OPTIONAL = ("consent_id", "consent_purpose")
FLOATS = ("requested_amount_cny", "limit_cny", "pd")
_TYPED = tuple(CHAINED.index(name) for name in ("created_at", "snapshot_as_of", *FLOATS))
_LOCK_CLASS = 0x5043  # first key of the advisory lock ("PC"); the second is the tenant's hash
HEAD = text(
    "SELECT seq, row_hash FROM decisions WHERE tenant_id = :tenant ORDER BY seq DESC LIMIT 1"
)
TURN = text("SELECT pg_advisory_xact_lock(:cls, hashtext(:tenant))")  # PostgreSQL only


def row_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """The SHA-256 sealing `row` (every CHAINED field) after `prev_hash`."""
    values = [row[name] for name in CHAINED]
    for i in _TYPED:  # only dates, times and floats need a canonical form; texts are as stored
        values[i] = _canonical(values[i])
    values += [[name, row[name]] for name in OPTIONAL if row.get(name) is not None]
    payload = json_text.dumps([prev_hash, *values])  # the stdlib's bytes, written faster
    return hashlib.sha256(payload.encode()).hexdigest()


def chain(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Give each row (complete but for the chain) its tenant's next `seq`, `prev_hash`, `row_hash`.

    Call inside the transaction that inserts the rows; it takes the tenants' turns first.
    """
    tenants = sorted({str(row["tenant_id"]) for row in rows})
    take_turns(session, tenants)
    extend({tenant: head(session, tenant) for tenant in tenants}, rows)


def extend(heads: dict[str, tuple[int, str]], rows: Sequence[dict[str, Any]]) -> None:
    """Chain `rows` after their tenants' `heads` (seq, row_hash), which it moves on."""
    for row in rows:
        for name in FLOATS:
            if row.get(name) is not None:
                row[name] = float(row[name])  # hashed as stored: 5e5, never 500000
        seq, prev = heads[row["tenant_id"]]
        row["seq"], row["prev_hash"] = seq + 1, prev
        row["row_hash"] = row_hash(row, prev)
        heads[row["tenant_id"]] = (seq + 1, row["row_hash"])


def take_turns(session: Session, tenants: Iterable[str]) -> None:
    """On PostgreSQL, wait for the tenants' chain locks (sorted: no deadlock between writers)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the database's write lock
    for tenant in sorted(tenants):
        session.execute(TURN, turn_params(tenant))


def turn_params(tenant: str) -> dict[str, Any]:
    """The parameters of `TURN` for `tenant`'s chain lock."""
    return {"cls": _LOCK_CLASS, "tenant": tenant}


def head(session: Session, tenant: str) -> tuple[int, str]:
    """The tenant's last `seq` and `row_hash`; (0, GENESIS) before its first decision."""
    found = session.connection().execute(HEAD, {"tenant": tenant}).first()  # Core: no ORM
    return head_of(found)


def head_of(found: Any) -> tuple[int, str]:
    """The (seq, row_hash) of `HEAD`'s row, or the chain's start for none."""
    return (0, GENESIS) if found is None else (int(found[0]), str(found[1]))


def _canonical(value: Any) -> Any:
    """A JSON value that reads the same whichever database returned `value`."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value
