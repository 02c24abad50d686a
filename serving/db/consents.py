"""Consents: an enterprise's authorisation (授权) for a bank to use its data, append-only.

A consent names the bank, the credit code, the data scopes (`catalog.schema.DATA_SCOPES`), the
purpose, its validity (`starts_on` to `expires_on`, both days included, China Standard Time)
and the SHA-256 of the signed authorisation document. Revoking adds a revocation row: neither
table is ever updated or deleted (triggers refuse it). `valid_grants` is the one read the
decision path makes: the consents in force for a bank and an entity on a day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Date, Select, and_, bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import uscc
from catalog.errors import Conflict, InvalidInput, NotFound
from catalog.schema import DATA_SCOPES
from serving.db.models import Consent, ConsentRevocation, Tenant, new_id, utcnow

PURPOSES = ("preapproval", "monitoring")
MAX_YEARS = 3  # a consent lasts at most three years (expires_on - starts_on <= 3 x 365 + 1 days)
MAX_DAYS = MAX_YEARS * 365 + 1
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    """The date in China (consents are dated by the enterprise's calendar)."""
    return dt.datetime.now(CHINA).date()


@dataclass(frozen=True)
class ConsentFields:
    """A consent as recorded (validated by `check`)."""

    uscc: str
    scope: tuple[str, ...]
    purpose: str
    starts_on: dt.date
    expires_on: dt.date
    evidence_sha256: str


@dataclass(frozen=True)
class Grant:
    """A consent in force: its id, scopes and purpose."""

    id: str
    scope: frozenset[str]
    purpose: str

    def covers(self, scopes: tuple[str, ...]) -> bool:
        """True when every scope in `scopes` is authorised."""
        return self.scope.issuperset(scopes)


def check(fields: ConsentFields) -> ConsentFields:
    """The fields with a canonical code and sorted scope; InvalidInput naming the problem."""
    code = uscc.canonical(fields.uscc)  # InvalidUSCC (422 invalid_uscc) with its reason
    unknown = sorted(set(fields.scope) - set(DATA_SCOPES))
    if not fields.scope or unknown:
        raise InvalidInput(f"scope must be a non-empty set of {', '.join(DATA_SCOPES)}")
    if fields.purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}")
    if fields.expires_on <= fields.starts_on:
        raise InvalidInput("expires_on must be after starts_on")
    if (fields.expires_on - fields.starts_on).days > MAX_DAYS:
        raise InvalidInput(f"a consent lasts at most {MAX_YEARS} years")
    if not SHA256_HEX.fullmatch(fields.evidence_sha256):
        raise InvalidInput("evidence_sha256 must be 64 lowercase hex characters (SHA-256)")
    scope = tuple(sorted(set(fields.scope)))
    return ConsentFields(code, scope, fields.purpose, fields.starts_on, fields.expires_on,
                         fields.evidence_sha256)  # fmt: skip


def record(session: Session, tenant_id: str, fields: ConsentFields, recorded_by: str) -> Consent:
    """Store a checked consent for `tenant_id` (a bank; NotFound for an unknown one)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.platform:
        raise NotFound("no such bank")
    valid = check(fields)
    consent = Consent(
        tenant_id=tenant_id,
        uscc=valid.uscc,
        scope=",".join(valid.scope),
        purpose=valid.purpose,
        starts_on=valid.starts_on,
        expires_on=valid.expires_on,
        evidence_sha256=valid.evidence_sha256,
        recorded_by=recorded_by,
        recorded_at=utcnow(),
    )
    session.add(consent)
    session.flush()
    return consent


def listed(session: Session, tenant_id: str, code: str | None = None) -> list[Consent]:
    """A bank's consents (for one code when given), newest first."""
    query = select(Consent).where(Consent.tenant_id == tenant_id)
    if code is not None:
        query = query.where(Consent.uscc == uscc.canonical(code))
    return list(session.scalars(query.order_by(Consent.recorded_at.desc(), Consent.id)))


def revocation(session: Session, consent_id: str) -> ConsentRevocation | None:
    """The consent's revocation, if any."""
    return session.get(ConsentRevocation, consent_id)


def revoke(session: Session, tenant_id: str, consent_id: str, revoked_by: str) -> Consent:
    """Revoke a bank's consent from now (404 for another bank's; 409 if already revoked)."""
    consent = session.get(Consent, consent_id)
    if consent is None or consent.tenant_id != tenant_id:
        raise NotFound("no such consent")
    if revocation(session, consent_id) is not None:
        raise Conflict("this consent is already revoked")
    try:
        with session.begin_nested():
            session.add(
                ConsentRevocation(consent_id=consent_id, revoked_at=utcnow(), revoked_by=revoked_by)
            )
    except IntegrityError as error:  # revoked concurrently since the look-up
        raise Conflict("this consent is already revoked") from error
    return consent


def _in_force_where(codes: Any) -> Any:
    """Consents of one bank for `codes` (a condition on `Consent.uscc`) in force on a day."""
    return and_(
        Consent.tenant_id == bindparam("tenant"),
        codes,
        Consent.purpose == bindparam("purpose"),
        Consent.starts_on <= bindparam("day", type_=Date),
        Consent.expires_on >= bindparam("day", type_=Date),
        ~exists().where(ConsentRevocation.consent_id == Consent.id),
    )


IN_FORCE = select(Consent.id, Consent.scope, Consent.purpose).where(
    _in_force_where(Consent.uscc == bindparam("code"))
)


def in_force_of(n: int) -> Select[str, str, str, str]:
    """`IN_FORCE` for `n` codes at once (parameters `code0` ... `code{n-1}`), each row led by
    its code: one read for a group of requests (`ConsentBook.uses`)."""
    codes = Consent.uscc.in_([bindparam(f"code{i}") for i in range(n)])
    return select(Consent.uscc, Consent.id, Consent.scope, Consent.purpose).where(
        _in_force_where(codes)
    )


def valid_grants(
    connection: Connection, tenant_id: str, code: str, purpose: str, day: dt.date
) -> list[Grant]:
    """Consents in force on `day` (started, not expired, not revoked), widest scope first.

    The API runs the same statement prepared (`ConsentBook`, `serving.db.prepared`).
    """
    rows = connection.execute(IN_FORCE, in_force_params(tenant_id, code, purpose, day)).all()
    return grants_of(rows)


def in_force_params(tenant_id: str, code: str, purpose: str, day: dt.date) -> dict[str, Any]:
    """The parameters of `IN_FORCE`."""
    return {"tenant": tenant_id, "code": code, "purpose": purpose, "day": day}


def grants_of(rows: Sequence[Sequence[Any]]) -> list[Grant]:
    """`IN_FORCE`'s rows (id, scope, purpose) as grants, widest scope first."""
    grants = [Grant(str(r[0]), frozenset(str(r[1]).split(",")), str(r[2])) for r in rows]
    return sorted(grants, key=lambda g: (-len(g.scope), g.id))


def requires_consent(connection: Connection, tenant_id: str) -> bool:
    """Whether the bank scores only entities with a valid consent."""
    found = connection.execute(
        select(Tenant.require_consent).where(Tenant.id == tenant_id)
    ).scalar_one_or_none()
    return bool(found)


def codes_covered(
    connection: Connection, tenant_id: str, purpose: str, day: dt.date, scopes: tuple[str, ...]
) -> dict[str, str]:
    """Credit codes with a consent in force on `day` covering every one of `scopes`, each with
    the id of that consent (of several, the one starting last; ties by id)."""
    revoked = exists().where(ConsentRevocation.consent_id == Consent.id)
    query = (
        select(Consent.uscc, Consent.scope, Consent.id)
        .where(
            Consent.tenant_id == tenant_id,
            Consent.purpose == purpose,
            Consent.starts_on <= day,
            Consent.expires_on >= day,
            ~revoked,
        )
        .order_by(Consent.starts_on, Consent.id)  # a later row wins
    )
    wanted = set(scopes)
    return {
        str(row.uscc): str(row.id)
        for row in connection.execute(query)
        if wanted.issubset(str(row.scope).split(","))
    }


def record_many(
    session: Session, tenant_id: str, rows: list[ConsentFields], recorded_by: str
) -> int:
    """Store many checked consents for a bank in one INSERT (the demo's synthetic ones)."""
    now = utcnow()
    values = []
    for fields in rows:
        valid = check(fields)
        values.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "uscc": valid.uscc,
                "scope": ",".join(valid.scope),
                "purpose": valid.purpose,
                "starts_on": valid.starts_on,
                "expires_on": valid.expires_on,
                "evidence_sha256": valid.evidence_sha256,
                "recorded_by": recorded_by,
                "recorded_at": now,
            }
        )
    if values:
        session.execute(insert(Consent), values)
    return len(values)
