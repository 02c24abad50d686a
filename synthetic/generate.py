"""`generate`: write a complete synthetic Shanwei platform store, chunk by chunk.

Stages per chunk of entities: health paths -> shared financing data -> public records ->
lending -> defects -> rows. Every stage draws from its own seeded stream, so the same
config and seed give identical tables (see `store.content_hash`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from catalog import schema, store
from synthetic import defects, finance, lending, records, registry_events, truth, writer
from synthetic.config import DIVISIONS, SynthConfig
from synthetic.health import HealthPaths, Shocks, draw_shocks, simulate_health
from synthetic.population import Population, build_population
from synthetic.timeline import Timeline, lagged

Frame = finance.Frame
NAT = np.datetime64("NaT")


@dataclass(frozen=True)
class GenerationSummary:
    """What a generation run wrote."""

    path: str
    seed: int
    entities: int
    rows: dict[str, int]
    content_hash: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return asdict(self)


class _Run:
    """State of one generation: config, timeline, population, connection, defect ledger."""

    def __init__(self, config: SynthConfig, con: store.Connection) -> None:
        self.config, self.con = config, con
        self.timeline = Timeline.of(config)
        self.ledger: defects.Ledger = []
        self.pop = build_population(config)
        self.shocks: Shocks = draw_shocks(config)
        self.codes: np.ndarray = self.pop.codes
        self.closed: np.ndarray = np.full(len(self.pop), config.n_months)

    def rng(self, chunk: int, stream: str) -> np.random.Generator:
        return np.random.default_rng(
            [self.config.seed, 7, chunk, sum(map(ord, stream)), len(stream)]
        )

    def write(
        self,
        table: schema.Table,
        frame: Frame,
        chunk: int,
        *,
        monthly: bool = False,
        amount: str | None = None,
    ) -> None:
        if not frame or len(frame["eidx"]) == 0:
            return
        rng, rates = self.rng(chunk, "defects:" + table.name), self.config.defect_rates
        frame = writer.complete(frame, rng, self.timeline, rates["late_record"])
        if monthly:
            frame = defects.drop_rows(rng, frame, rates["missing_month"])
        if amount:
            frame, corrected, retracted = defects.add_versions(rng, frame, rates, amount)
            frame = {k: v[frame["ingest_date"] <= self.timeline.end_date] for k, v in frame.items()}
            self._note(
                table.name, "corrected_record", writer.record_id(table.name, chunk, corrected)
            )
            self._note(
                table.name, "retracted_record", writer.record_id(table.name, chunk, retracted)
            )
        if table.name == "penalties":
            frame = defects.orphan_rows(rng, frame, rates["orphan_record"], self.orphan_eidx)
        writer.insert(self.con, table, frame, chunk)

    def _note(self, table: str, defect: str, refs: np.ndarray) -> None:
        self.ledger.extend((table, defect, str(r)) for r in refs)

    orphan_eidx = np.arange(-20, 0)


def _entities_frame(run: _Run, codes: np.ndarray, closed: np.ndarray) -> pd.DataFrame:
    pop, tl = run.pop, run.timeline
    founded = tl.month_start(pop.founded_m) + pop.founded_day
    dereg = np.where(closed < tl.n_months, tl.month_start(closed) + pop.founded_day, NAT)
    ingest = np.maximum(
        lagged(founded, run.rng(0, "entities"), 0.0), tl.month_start(np.zeros(1))[0]
    )
    return pd.DataFrame(
        {
            "uscc": codes,
            "version": 1,
            "name": pop.names,
            "entity_type": np.array(schema.ENTITY_TYPES)[pop.etype],
            "division": np.array(list(DIVISIONS))[pop.division],
            "industry": np.array(schema.INDUSTRY_SECTIONS)[pop.industry],
            "founded_date": founded,
            "registered_capital_cny": pop.capital,
            "deregistered_date": dereg,
            "ingest_date": ingest,
        }
    )


def _public_stages(run: _Run, pop: Population, paths: HealthPaths, chunk: int) -> dict[str, Frame]:
    tl = run.timeline
    stage: Callable[[str], np.random.Generator] = lambda name: run.rng(chunk, name)  # noqa: E731
    revenue = finance.monthly_revenue(stage("revenue"), pop, paths, tl)
    out = {
        "tax_payments": finance.tax_payments(stage("tax"), pop, paths, revenue, tl),
        "tax_ratings": finance.tax_ratings(stage("ratings"), pop, paths, tl),
        "social_insurance": finance.social_insurance(stage("si"), pop, paths, tl),
        "utilities": finance.utilities(stage("utilities"), pop, paths, revenue, tl),
        "penalties": records.penalties(stage("penalties"), pop, paths, tl),
        "court_debtors": records.court_debtors(stage("court"), pop, paths, tl),
        "abnormal_operations": records.abnormal_operations(stage("abnormal"), pop, paths, tl),
        "registration_changes": registry_events.registration_changes(
            stage("changes"), pop, paths, tl
        ),
        "licences": registry_events.licences(stage("licences"), pop, paths, tl),
        "commitments": registry_events.commitments(stage("commitments"), pop, paths, tl),
    }
    out["serious_dishonesty"] = records.serious_dishonesty(
        stage("dishonest"), pop, paths, tl, out["penalties"]
    )
    out["honours"] = registry_events.honours(stage("honours"), pop, paths, tl, out["tax_ratings"])
    out["reorganisation_plans"] = records.reorganisation_plans(
        stage("reorganisation"), pop, out["court_debtors"], tl
    )
    return out


def _lend(
    run: _Run, pop: Population, paths: HealthPaths, frames: dict[str, Frame], chunk: int
) -> None:
    tl = run.timeline
    seen = {
        "tax": lending.visible_tax(frames["tax_payments"], pop, tl),
        "grade": lending.latest_grade(frames["tax_ratings"], pop, tl),
        "listed": lending.in_force(frames["court_debtors"], pop, tl, "publish_date", "removed_date")
        | lending.in_force(frames["serious_dishonesty"], pop, tl, "listed_date", "removed_date"),
        "abnormal": lending.in_force(
            frames["abnormal_operations"], pop, tl, "listed_date", "removed_date"
        ),
    }
    market = lending.Market(pop, paths, tl)
    app = lending.applications(run.rng(chunk, "applications"), run.config, market, seen)
    loans = lending.outcomes(run.rng(chunk, "outcomes"), paths, tl, app)
    _write_bank_tables(run, pop, app, loans, chunk)


def _write_bank_tables(
    run: _Run, pop: Population, app: dict[str, np.ndarray], loans: dict[str, np.ndarray], chunk: int
) -> None:
    bank_ids = np.array([b.bank_id for b in run.config.banks])
    ids = np.char.add(f"{chunk:04d}-", np.char.zfill(np.arange(len(app["row"])).astype(str), 7))
    approved = app["reason"] == ""
    codes = run.codes[pop.eidx[app["row"]]]
    applications = pd.DataFrame(
        {
            "application_id": np.char.add("AP", ids),
            "bank_id": bank_ids[app["bank"]],
            "uscc": codes,
            "application_date": app["date"],
            "product": "tax_loan",
            "requested_cny": app["requested"],
            "decision": np.where(approved, "approved", "declined"),
            "decline_reason": np.where(approved, None, app["reason"]),
            "limit_cny": app["limit"],
        }
    )
    loan_ids = np.char.add("LN", ids[approved])
    common = {"loan_id": loan_ids, "bank_id": bank_ids[loans["bank"]], "uscc": codes[approved]}
    store.append(run.con, schema.APPLICATIONS, applications)
    store.append(
        run.con,
        schema.LOANS,
        pd.DataFrame(
            common
            | {
                "application_id": np.char.add("AP", ids[approved]),
                "start_date": loans["start"],
                "amount_cny": loans["amount"],
                "term_months": 12,
                "rate": np.array([b.rate for b in run.config.banks])[loans["bank"]],
            }
        ),
    )
    store.append(
        run.con,
        schema.LOAN_OUTCOMES,
        pd.DataFrame(
            common
            | {
                "observation_date": run.timeline.end_date,
                "max_dpd": loans["max_dpd"],
                "default_flag": loans["defaulted"],
                "default_date": loans["default_date"],
                "written_off": loans["written_off"],
            }
        ),
    )


def _truth(run: _Run, pop: Population, paths: HealthPaths) -> None:
    rows, m = np.nonzero(paths.alive)
    frame = pd.DataFrame(
        {
            "uscc": run.codes[pop.eidx[rows]],
            "month": run.timeline.month_start(m),
            "health": paths.health[rows, m].round(4),
            "pd_12m": paths.pd_12m[rows, m].round(6),
            "capacity_cny": paths.capacity[rows, m].round(-2),
        }
    )
    store.append(run.con, truth.TRUTH_MONTHLY, frame)


TABLE_OPTIONS: dict[str, dict[str, object]] = {
    "tax_payments": {"monthly": True, "amount": "tax_paid_cny"},
    "social_insurance": {"monthly": True},
    "utilities": {"monthly": True},
    "penalties": {"amount": "fine_cny"},
}


def _chunk(run: _Run, chunk: int, rows: slice) -> None:
    pop = run.pop.take(rows)
    paths = simulate_health(run.config, pop, run.shocks, chunk)
    run.closed[rows] = paths.closed_m
    frames = _public_stages(run, pop, paths, chunk)
    for name, frame in frames.items():
        run.write(schema.TABLES[name], frame, chunk, **TABLE_OPTIONS.get(name, {}))  # type: ignore[arg-type]
    _lend(run, pop, paths, frames, chunk)
    _truth(run, pop, paths)


def generate(path: Path, config: SynthConfig) -> GenerationSummary:
    """Write a fresh store at `path` (replacing any file there only once complete)."""
    tmp = path.with_name(path.name + ".generating")
    tmp.unlink(missing_ok=True)
    store.create(tmp)
    with duckdb.connect(str(tmp)) as con:
        for table in truth.TRUTH_TABLES:
            con.execute(schema.ddl(table))
        store.quiet(con)
        run = _Run(config, con)
        run.codes = defects.corrupt_codes(
            run.rng(0, "codes"), run.pop.codes, config.defect_rates, run.ledger
        )
        orphans = defects.orphan_codes(run.rng(0, "orphans"), len(run.orphan_eidx))
        con.execute("CREATE TEMP TABLE _codes (eidx BIGINT, uscc VARCHAR)")
        con.executemany(
            "INSERT INTO _codes VALUES (?, ?)",
            list(zip(run.orphan_eidx.tolist(), orphans, strict=True)),
        )
        con.register("_pop_codes", pd.DataFrame({"eidx": run.pop.eidx, "uscc": run.codes}))
        con.execute("INSERT INTO _codes SELECT * FROM _pop_codes")
        for chunk, start in enumerate(range(0, config.entities, config.chunk_size)):
            _chunk(run, chunk, slice(start, min(start + config.chunk_size, config.entities)))
        store.append(con, schema.ENTITIES, _entities_frame(run, run.codes, run.closed))
        store.append(con, schema.BANKS, pd.DataFrame(lending.bank_rows(config)))
        store.append(
            con,
            truth.TRUTH_DEFECTS,
            pd.DataFrame(run.ledger, columns=["table_name", "defect", "ref"]),
        )
        summary = _finish(con, config, path)
    os.replace(tmp, path)
    return summary


def _finish(con: store.Connection, config: SynthConfig, path: Path) -> GenerationSummary:
    store.ensure_indexes(con)
    digest = store.content_hash(con)
    store.set_meta(
        con,
        "generator",
        json.dumps(
            {
                "seed": config.seed,
                "entities": config.entities,
                "end_date": str(config.end_date),
                "years": config.years,
            }
        ),
    )
    store.set_meta(con, "content_hash", digest)
    con.execute("CHECKPOINT")
    return GenerationSummary(str(path), config.seed, config.entities, store.row_counts(con), digest)
