"""A tenant's offers-run state (`offer_states`): what its last complete run scored, packed.

One row per tenant: the scorer (model name, version, policy fingerprint) of its last complete
run and, as one zstd Parquet blob, every entity's input digest and whether its decision made an
offer. One blob, not a row per entity: a city's 300,000 entities read and write in well under a
second, where as many rows cost SQLite several seconds and PostgreSQL tens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from serving.db.models import OfferState
from serving.db.offers import lock_tenant, reader

Entry = tuple[bytes, bool]  # input digest, whether the decision made an offer
SCHEMA = pa.schema([("uscc", pa.string()), ("digest", pa.binary(32)), ("offerable", pa.bool_())])


@dataclass(frozen=True)
class Scorer:
    """What decides: a model version under a policy (another scorer's state never matches)."""

    model_name: str
    model_version: str
    policy_fingerprint: str


def load(engine: Engine, tenant_id: str, scorer: Scorer) -> dict[str, Entry]:
    """The entities the tenant's last run scored with `scorer`, by code ({} for none)."""
    query = select(
        OfferState.model_name,
        OfferState.model_version,
        OfferState.policy_fingerprint,
        OfferState.state,
    ).where(OfferState.tenant_id == tenant_id)
    with reader(engine) as connection:
        row = connection.execute(query).first()
    if row is None or Scorer(*row[:3]) != scorer:
        return {}
    table = pq.read_table(pa.BufferReader(row[3]))
    return dict(
        zip(
            table["uscc"].to_pylist(),
            zip(table["digest"].to_pylist(), table["offerable"].to_pylist(), strict=True),
            strict=True,
        )
    )


def save(
    session: Session,
    tenant_id: str,
    scorer: Scorer,
    entries: Mapping[str, Entry],
    now: dt.datetime,
) -> None:
    """Replace the tenant's state with `entries`, scored by `scorer` (under the offer lock)."""
    codes = sorted(entries)
    table = pa.table(
        {
            "uscc": codes,
            "digest": [entries[c][0] for c in codes],
            "offerable": [entries[c][1] for c in codes],
        },
        schema=SCHEMA,
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    lock_tenant(session, tenant_id)  # concurrent runs: the last to finish writes the state
    forget(session, tenant_id)
    session.execute(
        insert(OfferState).values(
            tenant_id=tenant_id,
            model_name=scorer.model_name,
            model_version=scorer.model_version,
            policy_fingerprint=scorer.policy_fingerprint,
            entities=len(codes),
            state=sink.getvalue().to_pybytes(),
            written_at=now,
        )
    )


def forget(session: Session, tenant_id: str) -> None:
    """Drop the tenant's state: its next run scores every entity."""
    session.execute(delete(OfferState).where(OfferState.tenant_id == tenant_id))
