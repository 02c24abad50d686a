"""Batch pre-approval: an offer for every approvable entity of the snapshot, kept current.

`run_offers` for one tenant, with one served model version (its champion, else the platform
model) for the whole run:

1. expires the tenant's active offers whose `valid_until` has passed;
2. scores the snapshot in batches of `batch_rows` (TreeSHAP only where needed:
   `models.batch.preapprove_batch`), carrying over the entities unchanged since the last run
   (`serving.offer.incremental`; `OfferOptions.full` scores them all);
3. compares every entity with its active offer, `write_rows` entities per transaction: a new
   approvable entity gets an offer (`offer.created`); a changed decision, limit or grade
   supersedes the old offer with a new one (`offer.changed`); a decline revokes it, the
   binding rule as reason (`offer.revoked`); anything else leaves the offer untouched;
4. revokes active offers of entities no longer in the snapshot, or of a product the model no
   longer offers;
5. stores the run's state (`serving.db.offer_state`) and exports the active offers (Parquet,
   CSV, JSON Lines; `serving.offer.export`).

`apply_steps` does 3-5 for any source of scored batches: the snapshot here, Spark's decided
rows in `serving.offer.spark`.

`rescore` does 1 and 3 (and 4 for its codes) after those codes' snapshot rows were refreshed.
Only approve and refer decisions become offers: a decline has limit 0, so there is nothing to
offer (a refer is an offer a loan officer reviews). An offer's terms and validity never change
under its id: a re-confirmed offer is left as it is and expires on its date; the next run then
offers afresh. Events go in the transaction that changes the offers (see `serving.db.webhooks`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from catalog import store, uscc
from catalog.errors import NotFound
from features import snapshot
from models.batch import PreapprovalBatch, preapprove_batch
from models.decision import inputs_digests
from models.policy import fingerprint_of
from serving.db import consents, offer_state, repo
from serving.db import offers as offer_rows
from serving.db import policies as bank_policies
from serving.db.models import new_id, utcnow
from serving.db.offer_state import Entry, Scorer
from serving.decision.consent import PURPOSE
from serving.decision.model_store import ModelHolder, ServedModel
from serving.decision.policies import default_product, with_policy
from serving.offer import events as offer_events
from serving.offer.export import export_offers
from serving.offer.incremental import LastRun, Step, in_consent, score_frame

DEFAULT_VALID_DAYS = 30
BATCH_ROWS = 50_000
WRITE_ROWS = 5_000
NOT_IN_SNAPSHOT = "not_in_snapshot"
NO_CONSENT = "consent_missing"  # no valid consent covers the model's data (revoked, expired...)
PRODUCT_WITHDRAWN = "product_withdrawn"


@dataclass
class OfferCounts:
    """What a run did, entity by entity."""

    scored: int = 0
    offerable: int = 0
    created: int = 0
    changed: int = 0
    revoked: int = 0
    unchanged: int = 0
    expired: int = 0
    events: int = 0
    flagged_codes: int = 0  # offers to codes failing GB 32100 (kept, flagged in the export)
    carried: int = 0  # entities not re-scored: inputs, model and policy as last scored

    def add(self, other: OfferCounts) -> None:
        """Add another count in place."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def rows_written(self) -> int:
        """Rows inserted or updated in the service database."""
        return self.created + 2 * self.changed + self.revoked + self.expired + self.events


@dataclass
class OfferRun:
    """The result of a run or a re-score."""

    tenant_id: str
    model_name: str
    model_version: str
    product: str
    now: dt.datetime
    valid_until: dt.datetime
    counts: OfferCounts = field(default_factory=OfferCounts)
    exports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    policy_version: str = ""
    policy_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "tenant_id": self.tenant_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "product": self.product,
            "policy_version": self.policy_version,
            "policy_fingerprint": self.policy_fingerprint,
            "now": self.now.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            **asdict(self.counts),
            "rows_written": self.counts.rows_written,
            "exports": {k: str(v) for k, v in self.exports.items()},
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class OfferSources:
    """What a run reads and writes: the service database, the models in service, the store."""

    sessions: sessionmaker[Session]
    models: ModelHolder
    con: store.Connection


@dataclass(frozen=True)
class OfferOptions:
    """How a run goes: exports, validity, its clock and its batch sizes."""

    out_dir: Path | None = None  # exports when given
    valid_days: int = DEFAULT_VALID_DAYS
    now: dt.datetime | None = None  # default: the current time
    batch_rows: int = BATCH_ROWS  # snapshot rows scored at once
    write_rows: int = WRITE_ROWS  # entities per transaction
    full: bool = False  # score every entity, even those unchanged since they were last scored


@dataclass(frozen=True)
class RunContext:
    """One run's tenant, model, summary and what it may score."""

    sessions: sessionmaker[Session]
    served: ServedModel
    run: OfferRun
    write_rows: int
    scorer: Scorer
    consented: dict[str, str] | None = None  # code -> the consent letting the model score it

    def in_consent(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows a valid consent covering the model's data scope allows scoring."""
        return in_consent(frame, self.codes())

    def codes(self) -> set[str] | None:
        """The codes a consent lets the model score (None: every code)."""
        return None if self.consented is None else set(self.consented)

    def consent_of(self, code: str) -> str | None:
        """The consent that allowed scoring `code` (None where the bank requires none)."""
        return None if self.consented is None else self.consented.get(code)

    def last_run(self, full: bool) -> LastRun | None:
        """What earlier runs of this model and policy scored (None: score everything)."""
        if full:
            return None
        engine, product = _engine(self.sessions), self.run.product
        offered = frozenset(
            code
            for code, kind in offer_rows.active_codes(engine, self.run.tenant_id)
            if kind == product
        )
        state = offer_state.load(engine, self.run.tenant_id, self.scorer)
        return LastRun(product, state, offered)


@dataclass
class _Plan:
    """One chunk's changes: new offers (with the offer they replace), revocations, the rest."""

    create: list[tuple[int, offer_rows.ActiveOffer | None]] = field(default_factory=list)
    revoke: list[tuple[int, offer_rows.ActiveOffer]] = field(default_factory=list)
    unchanged: int = 0


def run_offers(
    sources: OfferSources, tenant_id: str, options: OfferOptions = OfferOptions()
) -> OfferRun:
    """Offers for every entity of the snapshot for one tenant; exports when `out_dir` is given.

    Entities unchanged since they were last scored are carried over unless `options.full`
    (`serving.offer.incremental`).
    """
    started = time.perf_counter()
    ctx = start(sources.sessions, sources.models, tenant_id, options)
    last = ctx.last_run(options.full)
    steps = (
        score_frame(ctx.served.model, whole, ctx.codes(), last)
        for whole in snapshot_frames(sources.con, options.batch_rows)
    )
    return apply_steps(ctx, ahead(steps), options.out_dir, started, last)


def ahead(steps: Iterator[Step]) -> Iterator[Step]:
    """`steps` in order, each scored in a worker thread while the caller writes the one before.

    Reading the snapshot and TreeSHAP (which releases the GIL) overlap the Python work of
    writing offers and events. Only the worker reads the snapshot connection.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="offers-scoring") as pool:
        pending = pool.submit(next, steps, None)
        while (step := pending.result()) is not None:
            pending = pool.submit(next, steps, None)
            yield step


def apply_steps(
    ctx: RunContext,
    steps: Iterable[Step],
    out_dir: Path | None,
    started: float,
    last: LastRun | None = None,
) -> OfferRun:
    """Write the offers of every step, revoke what is gone, export; the run's summary.

    `last`: the state the run started from; a run that leaves it exactly as it was (nothing
    scored, nothing gone) does not write it again.
    """
    state: dict[str, Entry] = {}
    in_snapshot: set[str] = set()
    for step in steps:
        in_snapshot.update(step.codes)
        state.update(step.carried.entries)
        carried = len(step.carried.codes)
        ctx.run.counts.add(OfferCounts(carried=carried, unchanged=step.carried.offers))
        if step.batch is not None:
            state.update(_entries(step.batch))
            ctx.run.counts.add(_apply(ctx, step.batch))
    seen = state.keys()
    tenant_id, product = ctx.run.tenant_id, ctx.run.product
    stale = [
        code
        for code, kind in offer_rows.active_codes(_engine(ctx.sessions), tenant_id)
        if kind != product or code not in seen
    ]
    ctx.run.counts.add(
        _revoke_stale(ctx, stale, lambda o: _absent_reason(o, product, seen, in_snapshot))
    )
    if not state or last is None or state != last.scored:
        with ctx.sessions.begin() as session:  # the run is complete: the next starts from here
            offer_state.save(session, tenant_id, ctx.scorer, state, ctx.run.now)
    if out_dir is not None:
        ctx.run.exports = export_offers(_engine(ctx.sessions), tenant_id, out_dir, ctx.run.now)
    ctx.run.seconds = time.perf_counter() - started
    return ctx.run


def rescore(
    sources: OfferSources,
    tenant_id: str,
    codes: Sequence[str],
    options: OfferOptions = OfferOptions(),
) -> OfferRun:
    """Re-score `codes` (their snapshot rows refreshed) and revoke what no longer holds."""
    started = time.perf_counter()
    ctx = start(sources.sessions, sources.models, tenant_id, options)
    wanted = sorted({uscc.normalize(code) for code in codes})
    whole = snapshot.read(sources.con, wanted)
    frame = ctx.in_consent(whole)
    if len(frame):
        ctx.run.counts.add(_apply(ctx, preapprove_batch(ctx.served.model, frame)))
    present = set(whole["uscc"].astype(str))
    missing = sorted(set(wanted) - set(frame["uscc"].astype(str)))
    ctx.run.counts.add(
        _revoke_stale(ctx, missing, lambda o: NO_CONSENT if o.uscc in present else NOT_IN_SNAPSHOT)
    )
    ctx.run.seconds = time.perf_counter() - started
    return ctx.run


def snapshot_frames(con: store.Connection, batch_rows: int) -> Iterator[pd.DataFrame]:
    """The feature snapshot in batches of about `batch_rows` rows, by code."""
    reader = con.sql(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").to_arrow_reader(batch_rows)
    for record_batch in reader:
        yield record_batch.to_pandas()


def start(
    sessions: sessionmaker[Session], models: ModelHolder, tenant_id: str, options: OfferOptions
) -> RunContext:
    """Check the tenant, pick its model, expire what ran out."""
    if options.valid_days < 1:
        raise ValueError("valid_days must be at least 1")
    moment = options.now or utcnow()
    with sessions.begin() as session:
        if repo.get_tenant(session, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id!r} does not exist")
        offer_rows.lock_tenant(session, tenant_id)
        expired = offer_rows.expire(session, tenant_id, moment)
        bank = bank_policies.latest(session, tenant_id)
        tenant = repo.get_tenant(session, tenant_id)
        required = tenant is not None and tenant.require_consent
    served = models.get(tenant_id)
    product = default_product(bank, served.model.policy_.product)
    if product in bank:  # the bank's own default product policy
        served = with_policy(served, bank[product].policy)
    run = OfferRun(
        tenant_id,
        served.name,
        served.version,
        served.model.policy_.product,
        moment,
        moment + dt.timedelta(days=options.valid_days),
        OfferCounts(expired=expired),
        policy_version=served.model.policy_.version,
        policy_fingerprint=fingerprint_of(served.model.policy_),
    )
    consented = None
    if required:  # only entities whose consent covers the model's data (serving.decision.consent)
        with _engine(sessions).connect() as connection:
            consented = consents.codes_covered(
                connection, tenant_id, PURPOSE, consents.today(), served.data_scope
            )
    scorer = Scorer(served.name, served.version, run.policy_fingerprint)
    return RunContext(sessions, served, run, options.write_rows, scorer, consented)


def _apply(ctx: RunContext, batch: PreapprovalBatch) -> OfferCounts:
    """Write one scored batch, `write_rows` entities per transaction."""
    offerable = batch.offerable()
    valid = np.ones(len(batch), dtype=bool)  # codes passing GB 32100 (checked where offered)
    for i in np.flatnonzero(offerable).tolist():
        valid[i] = uscc.is_valid(batch.uscc[i])
    flagged = int((offerable & ~valid).sum())
    counts = OfferCounts(scored=len(batch), offerable=int(offerable.sum()), flagged_codes=flagged)
    for start in range(0, len(batch), ctx.write_rows):
        rows = range(start, min(start + ctx.write_rows, len(batch)))
        counts.add(_apply_chunk(ctx, batch, rows, valid))
    return counts


def _apply_chunk(
    ctx: RunContext, batch: PreapprovalBatch, rows: range, valid: NDArray[np.bool_]
) -> OfferCounts:
    """Compare with the active offers, write the changes and their events in one transaction."""
    with ctx.sessions.begin() as session:
        offer_rows.lock_tenant(session, ctx.run.tenant_id)
        codes = batch.uscc[rows.start : rows.stop]
        plan = _plan(
            batch, rows, offer_rows.active_offers(session, ctx.run.tenant_id, batch.product, codes)
        )
        events = _write(session, ctx, batch, plan, valid)
    changed = sum(old is not None for _, old in plan.create)
    return OfferCounts(
        created=len(plan.create) - changed,
        changed=changed,
        revoked=len(plan.revoke),
        unchanged=plan.unchanged,
        events=events,
    )


def _entries(batch: PreapprovalBatch) -> dict[str, Entry]:
    """The state a batch's scoring leaves: per code, the input digest and whether it offers."""
    digests = inputs_digests(batch.uscc, batch.product, batch.matrix)
    return dict(zip(batch.uscc, zip(digests, batch.offerable().tolist(), strict=True), strict=True))


def _plan(batch: PreapprovalBatch, rows: range, active: dict[str, offer_rows.ActiveOffer]) -> _Plan:
    """Which rows create, change or revoke an offer, and how many leave theirs as it is."""
    plan, chunk = _Plan(), slice(rows.start, rows.stop)
    offerable = batch.offerable()[chunk].tolist()
    terms = zip(
        batch.decision[chunk].tolist(),
        batch.limit_cny[chunk].tolist(),
        batch.grade[chunk].tolist(),
        strict=True,
    )
    for i, can_offer, new_terms in zip(rows, offerable, terms, strict=True):
        old = active.get(batch.uscc[i])
        if not can_offer:
            if old is not None:
                plan.revoke.append((i, old))
        elif old is None or old.key_terms() != new_terms:
            plan.create.append((i, old))
        else:
            plan.unchanged += 1
    return plan


def _write(
    session: Session,
    ctx: RunContext,
    batch: PreapprovalBatch,
    plan: _Plan,
    valid: NDArray[np.bool_],
) -> int:
    """End replaced and revoked offers, insert the new ones and the events; how many events."""
    now = ctx.run.now
    batch.explain([i for i, _ in plan.revoke])  # the exact binding rule and answer
    new = _offer_rows(ctx, batch, plan.create)
    endings = [offer_rows.Ending(old.id, "superseded") for _, old in plan.create if old]
    endings += [
        offer_rows.Ending(old.id, "revoked", str(batch.binding[i])) for i, old in plan.revoke
    ]
    offer_rows.end_offers(session, endings, now)
    offer_rows.insert_offers(session, [row for row, _ in new])
    events = [
        offer_events.created(row, reasons, old, bool(valid[i]))
        for (row, reasons), (i, old) in zip(new, plan.create, strict=True)
    ]
    events += [
        offer_events.revoked(old, str(batch.binding[i]), now, batch, i) for i, old in plan.revoke
    ]
    return offer_events.write(session, ctx.run.tenant_id, events, now)


def _offer_rows(
    ctx: RunContext,
    batch: PreapprovalBatch,
    create: Sequence[tuple[int, offer_rows.ActiveOffer | None]],
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Complete new offer rows, and their reasons, for the rows of `create` (column-wise)."""
    index = [i for i, _ in create]
    at = np.asarray(index, dtype=np.int64)
    reasons, hashes = batch.reason_records(index), batch.input_hashes(index)
    terms = zip(*(column[at].tolist() for column in _terms(batch)), strict=True)
    fixed = _fixed_columns(ctx, batch.product)
    rows = [
        fixed
        | {
            "id": new_id(),
            "uscc": batch.uscc[i],
            **dict(
                zip(("decision", "limit_cny", "pd", "grade", "binding"), row_terms, strict=True)
            ),
            "reasons_json": _json(row_reasons),
            "snapshot_as_of": batch.as_of[i],
            "input_hash": digest,
            "active_key": offer_rows.active_key(ctx.run.tenant_id, batch.product, batch.uscc[i]),
            "replaces_id": old.id if old else None,
            "consent_id": ctx.consent_of(batch.uscc[i]),
        }
        for (i, old), row_terms, row_reasons, digest in zip(
            create, terms, reasons, hashes, strict=True
        )
    ]
    return list(zip(rows, reasons, strict=True))


def _terms(batch: PreapprovalBatch) -> tuple[NDArray[Any], ...]:
    """The batch's decision, limit, PD, grade and binding columns (an offer's terms)."""
    return batch.decision, batch.limit_cny, batch.pd, batch.grade, batch.binding


def _fixed_columns(ctx: RunContext, product: str) -> dict[str, Any]:
    """The columns every new offer of the run shares."""
    run = ctx.run
    return {
        "tenant_id": run.tenant_id,
        "product": product,
        "model_name": ctx.served.name,
        "model_version": ctx.served.version,
        "policy_version": run.policy_version,
        "policy_fingerprint": run.policy_fingerprint,
        "status": "active",
        "created_at": run.now,
        "valid_until": run.valid_until,
        "revoked_at": None,
        "revoke_reason": None,
    }


def _revoke_stale(
    ctx: RunContext, codes: Sequence[str], reason_of: Callable[[offer_rows.ActiveOffer], str | None]
) -> OfferCounts:
    """Revoke the active offers of `codes` that `reason_of` gives a reason for."""
    counts = OfferCounts()
    tenant_id, now = ctx.run.tenant_id, ctx.run.now
    for start in range(0, len(codes), ctx.write_rows):
        with ctx.sessions.begin() as session:
            offer_rows.lock_tenant(session, tenant_id)
            active = offer_rows.active_by_codes(
                session, tenant_id, codes[start : start + ctx.write_rows]
            )
            stale = [(o, r) for o in active if (r := reason_of(o)) is not None]
            offer_rows.end_offers(
                session, [offer_rows.Ending(o.id, "revoked", r) for o, r in stale], now
            )
            events = [offer_events.revoked(o, r, now) for o, r in stale]
            counts.events += offer_events.write(session, tenant_id, events, now)
        counts.revoked += len(stale)
    return counts


def _absent_reason(
    offer: offer_rows.ActiveOffer, product: str, seen: Collection[str], in_snapshot: set[str]
) -> str | None:
    if offer.product != product:
        return PRODUCT_WITHDRAWN
    if offer.uscc in seen:
        return None
    return NO_CONSENT if offer.uscc in in_snapshot else NOT_IN_SNAPSHOT


def _json(value: object) -> str:
    """Compact JSON with sorted keys (orjson: a run encodes a few hundred thousand of these)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _engine(sessions: sessionmaker[Session]) -> Engine:
    """The engine the session factory is bound to."""
    bind = sessions.kw["bind"]
    if not isinstance(bind, Engine):
        raise TypeError("the session factory must be bound to an Engine")
    return bind
