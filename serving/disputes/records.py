"""The store records a dispute or a repair application may name, read from the platform store.

Only catalog tables keyed by `record_id` (every catalog table but `entities`) can be disputed;
a record belongs to an entity when its latest version carries that entity's code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalog import schema, store
from catalog.errors import InvalidInput
from platform_services.repair import PenaltyFacts

DISPUTABLE = tuple(t.name for t in schema.CATALOG_TABLES if "record_id" in t.column_names)
AUTHORITY_COLUMNS = {
    "court_debtors": "court",
    "commitments": "accepting_body",
    "reorganisation_plans": "court",
}
DEPARTMENTS = {
    "tax_ratings": "税务局 tax bureau",
    "tax_payments": "税务局 tax bureau",
    "social_insurance": "人社局 social insurance",
    "utilities": "供水供电 utilities",
    "registration_changes": "市场监管局 market regulation",
}


class UnknownRecord(InvalidInput):
    """The named record is not in the platform store for this entity."""

    code = "unknown_record"


@dataclass(frozen=True)
class RecordVersion:
    """One version of a record: what a dispute and its reconciliation read."""

    version: int
    retracted: bool
    uscc: str
    ingest_date: dt.date


@dataclass(frozen=True)
class StoreRecord:
    """A record's versions (oldest first), its department and, for a penalty, its facts."""

    table: str
    record_id: str
    versions: tuple[RecordVersion, ...]
    department: str | None
    penalty: PenaltyFacts | None

    @property
    def latest(self) -> RecordVersion:
        """The newest version."""
        return self.versions[-1]

    @property
    def visible_on(self) -> dt.date:
        """The day the platform first held it (its first version's ingest date)."""
        return self.versions[0].ingest_date


def checked_table(table: str) -> str:
    """`table` when a record of it may be disputed, else 422 `invalid_input`."""
    if table not in DISPUTABLE:
        raise InvalidInput(f"record.table is one of {', '.join(DISPUTABLE)}")
    return table


def read_record(con: store.Connection, table: str, record_id: str) -> StoreRecord | None:
    """Every version of one record, or None when the store has none."""
    authority = AUTHORITY_COLUMNS.get(table, "authority")
    has_authority = authority in schema.TABLES[checked_table(table)].column_names
    department = authority if has_authority else "NULL"
    rows = con.execute(
        f"SELECT version, coalesce(retracted, false), uscc, ingest_date, {department} "
        f"FROM {table} WHERE record_id = ? ORDER BY version",
        [record_id],
    ).fetchall()
    if not rows:
        return None
    versions = tuple(RecordVersion(int(r[0]), bool(r[1]), str(r[2]), r[3]) for r in rows)
    named = rows[-1][4] if has_authority else DEPARTMENTS.get(table)
    penalty = _penalty(con, record_id, versions[-1].version) if table == "penalties" else None
    return StoreRecord(table, record_id, versions, named, penalty)


def _penalty(con: store.Connection, record_id: str, version: int) -> PenaltyFacts:
    row = con.execute(
        "SELECT severity, decision_date, publicity_end, repair_date, coalesce(retracted, false) "
        "FROM penalties WHERE record_id = ? AND version = ?",
        [record_id, version],
    ).fetchone()
    assert row is not None  # the version was just read
    return PenaltyFacts(str(row[0]), row[1], row[2], row[3], bool(row[4]))


def entity_record(con: store.Connection, table: str, record_id: str, code: str) -> StoreRecord:
    """The record when its latest version belongs to `code`; 422 `unknown_record` otherwise."""
    record = read_record(con, table, record_id)
    if record is None or record.latest.uscc != code:
        raise UnknownRecord(f"the platform store holds no such {table} record of this entity")
    return record
