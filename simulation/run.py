"""The lending simulation: banks use the real API round after round and the loop retrains.

Time runs in rounds (a quarter by default). At each round date d, in this order:
1. every loan whose 12-month window closed by d has its outcome posted (`POST /v1/outcomes`);
2. a bank with new matured outcomes and enough defaults asks for a retraining as of d
   (`POST /v1/models/retrain`); a manual bank's risk officer approves a challenger that passed
   the gate (`POST /v1/models/promote`);
3. the feature snapshot is rebuilt as of d and the API reloads it (`POST /v1/models/refresh`);
4. each bank asks batch pre-approvals for its applicant pool and grants loans by its policy;
   each applicant would draw on day d + 0..period-1, and its outcome is realised from the
   synthetic ground truth (`synthetic.outcomes.realise`), as if it had borrowed.

The cold-start platform model serves until a bank has a champion of its own; it is trained
only on data known on the first round date. The same applicants are scored by the cold-start
model and the tax-multiplier rule, so every round compares the three on the same rows.
Everything runs in a scratch home: its own store copy, MLflow registry and service database.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from catalog import store
from catalog.errors import InvalidInput
from features import snapshot
from models.preapproval import PreapprovalModel
from serving.config import Settings
from simulation import delinquency
from simulation import report as simulation_report
from simulation.api import BankClient, local_api, provision
from simulation.ledger import Ledger, interim_body, outcome_body
from simulation.lending import BankPolicy, Economics, applicants, open_entities
from simulation.records import RetrainSummary, RoundRecord, SimulationReport
from simulation.round import RoundInput, Scored, retrain_summary, score_round
from synthetic import outcomes
from synthetic.config import SynthConfig
from synthetic.generate import generate
from training import maturing as labels
from training import promotion, tracking
from training.dataset import store_end
from training.gate import GateConfig
from training.pipeline import PipelineConfig, observation_dates, run
from training.reject_inference import Method

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; every random choice derives from `seed`."""

    banks: tuple[BankPolicy, ...]
    rounds: int
    months_per_round: int = 3
    start: dt.date | None = None  # first round date (default: the latest that fits the store)
    seed: int = 42
    pooling: bool = False  # every bank opts into pooling its outcomes
    economics: Economics = field(default_factory=Economics)
    # The promotion gate's calibration limit (cold start and retraining): production's, which
    # widens with the sampling noise of a bank's few test loans (training.gate.ece_limit).
    max_ece: float = 0.02
    min_defaults_to_retrain: int = 50  # reported defaults before retraining (the gate wants 30)
    min_own_defaults: int = 200  # fewer: the bank's model boosts from the platform model
    batch: int = 1_000  # pre-approvals per API call
    per_date: int = 6_000  # cold-start sample per observation date
    reject_inference: Method = "platform"  # declined applicants in retraining
    # "censoring": banks report loans still maturing every round, and retraining weights them
    maturing: labels.Method = "none"

    def __post_init__(self) -> None:
        if not self.banks or len({b.bank_id for b in self.banks}) != len(self.banks):
            raise InvalidInput("the simulation needs at least one bank and distinct bank ids")
        if self.rounds < 1 or not 1 <= self.months_per_round <= 12:
            raise InvalidInput("rounds must be at least 1 and months per round between 1 and 12")


def default_banks(n: int) -> tuple[BankPolicy, ...]:
    """Banks bank_1..bank_n, rates 0.3 points apart; odd ones promote automatically, even manually."""
    if not 1 <= n <= 20:
        raise InvalidInput("--banks must be between 1 and 20")
    return tuple(
        BankPolicy(
            f"bank_{i}",
            rate=round(0.042 + 0.003 * (i - 1), 4),
            promotion="auto" if i % 2 else "manual",
        )
        for i in range(1, n + 1)
    )


def prepare_home(home: Path, source: Path | None, entities: int, seed: int) -> Path:
    """A scratch home holding a copy of `source`, or a fresh synthetic platform; its store path."""
    if home.exists() and any(home.iterdir()):
        raise InvalidInput("the simulation home must be a new or empty directory")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "platform.duckdb"
    if source is not None:
        shutil.copy(source, path)
    else:
        generate(path, SynthConfig(entities=entities, seed=seed))
    return path


def round_dates(end: dt.date, config: SimulationConfig) -> list[dt.date]:
    """Round dates (month starts); the last round's period ends by the store's last day."""
    months = config.months_per_round
    first = (
        config.start
        or (
            pd.Timestamp(end + dt.timedelta(days=1)).to_period("M").to_timestamp()
            - pd.DateOffset(months=months * config.rounds)
        ).date()
    )
    dates = [
        (pd.Timestamp(first) + pd.DateOffset(months=months * i)).date()
        for i in range(config.rounds)
    ]
    if (pd.Timestamp(dates[-1]) + pd.DateOffset(months=months)).date() > end + dt.timedelta(days=1):
        raise InvalidInput(
            "the rounds run past the store's last day: fewer rounds or an earlier start"
        )
    return dates


def derived_seed(*parts: int | str) -> int:
    """A seed from the run's seed and names (a bank's draws never depend on another bank)."""
    words = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def settings_for(home: Path, config: SimulationConfig) -> Settings:
    """The API's settings in the scratch home (no poll: the simulation refreshes explicitly)."""
    return Settings(
        home=home,
        database_url=None,
        tracking_uri=None,
        store_path=None,
        model_poll_seconds=0,
        max_batch=config.batch,
        max_body_bytes=20_000_000,
        retrain_seed=config.seed,
        retrain_max_ece=config.max_ece,
        retrain_min_own_defaults=config.min_own_defaults,
        retrain_reject_inference=config.reject_inference,
        retrain_maturing=config.maturing,
    )


@dataclass
class ColdStart:
    """The platform model trained on what was known at the first round, as it was registered."""

    model: PreapprovalModel
    summary: dict[str, Any]


def train_cold_start(settings: Settings, config: SimulationConfig, first: dt.date) -> ColdStart:
    """Train and promote the platform model on data known on `first` (no look-ahead)."""
    pipeline = PipelineConfig(
        settings.store,
        settings.mlflow_uri,
        settings.artifact_root,
        seed=config.seed,
        per_date=config.per_date,
        end=first,
        gate=GateConfig(max_ece=config.max_ece),
        actor="precredit simulate",
    )
    result = run("platform", "platform", pipeline)
    client = tracking.connect(settings.mlflow_uri, settings.artifact_root)
    override = None
    if not result.promoted:
        override = "; ".join(result.verdict.reasons())
        reason = f"the only model before any bank has outcomes; its gate failed: {override}"
        approval = promotion.Approval("precredit simulate", reason, promotion.Override(reason))
        promotion.promote(client, "platform", result.version, approval)
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, result.run_id, Path(tmp))
    dates = observation_dates(first)  # each label window closes by `first`
    return ColdStart(
        model,
        {
            "version": result.version,
            "fingerprint": model.fingerprint(),
            "data_end": first.isoformat(),
            "observation_dates": [dates[0].isoformat(), dates[-1].isoformat()] if dates else [],
            "auc_oot_platform_label": result.metrics["auc"],
            "ece_oot_platform_label": result.metrics["ece"],
            "n_train": int(result.metrics["n_train"]),
            "gate_override": override,  # the cold-start gate's failed checks, if it was overridden
        },
    )


@dataclass
class Simulation:
    """One run: config, scratch settings, the cold-start model and the banks' clients."""

    config: SimulationConfig
    settings: Settings
    cold: ColdStart
    clients: dict[str, BankClient]
    progress: Progress
    ledger: Ledger = field(default_factory=Ledger)

    def post_matured(self, bank: str, day: dt.date) -> int:
        """Report the bank's loans that matured by `day`; returns how many."""
        due = self.ledger.matured(bank, day)
        if len(due):
            self.clients[bank].post_outcomes(outcome_body(due))
            self.ledger.mark_posted(due.index, day)
        young = self.ledger.maturing(bank, day) if self.config.maturing != "none" else None
        if young is not None and len(young):
            self.clients[bank].post_outcomes(interim_body(young, day))
        return len(due)

    def retrain(self, bank: BankPolicy, day: dt.date) -> RetrainSummary:
        """A retraining as of `day` through the API, approved by the bank if its policy is manual."""
        client = self.clients[bank.bank_id]
        job = client.retrain(day.isoformat())
        summary = retrain_summary(self.settings, job)
        if summary.promotion == "pending_approval" and bank.promotion == "manual":
            promoted = client.promote(
                str(summary.version), f"gate passed on out-of-time loans as of {day.isoformat()}"
            )
            approver = None if promoted.promotion is None else promoted.promotion.approved_by
            approval = {"promotion": "promoted_by_approval", "approved_by": approver}
            return RetrainSummary.model_validate(summary.model_dump(exclude_unset=True) | approval)
        return summary

    def pools(self, day: dt.date, index: int) -> dict[str, RoundInput]:
        """Rebuild the snapshot as of `day`; each bank's applicants, features and outcomes."""
        with store.connect(self.settings.store) as con:
            if snapshot.snapshot_date(con) != day:
                snapshot.build(con, day)
            codes = open_entities(con, day)
            return {b.bank_id: self._pool(con, codes, b, day, index) for b in self.config.banks}

    def _pool(
        self, con: store.Connection, codes: list[str], bank: BankPolicy, day: dt.date, index: int
    ) -> RoundInput:
        seed = self.config.seed
        end = pd.Timestamp(day) + pd.DateOffset(months=self.config.months_per_round)
        rng = np.random.default_rng(derived_seed(seed, bank.bank_id, index, "pool"))
        pool = applicants(codes, bank.pool_share, day, (end - pd.Timestamp(day)).days, rng)
        rows = snapshot.read(con, pool["uscc"].tolist()).set_index("uscc").loc[pool["uscc"]]
        loans = pool.assign(
            amount_cny=0.0,
            loan_id=[f"{bank.bank_id}-r{index + 1:02d}-{i:05d}" for i in range(len(pool))],
        )
        realised = outcomes.realise(con, loans, derived_seed(seed, bank.bank_id, index, "outcomes"))
        return RoundInput(bank, day, index, pool, rows.reset_index(), realised)

    def lend(self, data: RoundInput) -> Scored:
        """Pre-approvals from the API for one bank's pool, the comparisons, the loans it grants."""
        answers = self.clients[data.bank.bank_id].preapprove(data.pool)
        rng = np.random.default_rng(
            derived_seed(self.config.seed, data.bank.bank_id, data.index, "grants")
        )
        scored = score_round(data, answers, self.cold.model, self.config.economics, rng)
        dpd = np.random.default_rng(
            derived_seed(self.config.seed, data.bank.bank_id, data.index, "dpd")
        )
        self.ledger.add(scored.loans.join(delinquency.episodes(scored.loans, dpd)))
        return scored


def _due(sim: Simulation, bank: str, posted: int) -> bool:
    reported = sim.ledger.reported(bank)
    defaults = int(reported["default_flag"].sum()) if len(reported) else 0
    return posted > 0 and defaults >= sim.config.min_defaults_to_retrain


def play_round(sim: Simulation, index: int, day: dt.date) -> list[RoundRecord]:
    """One round for every bank; one record per bank."""
    counts: dict[str, dict[str, int]] = {}
    for bank in sim.config.banks:
        posted = sim.post_matured(bank.bank_id, day)
        reported = sim.ledger.reported(bank.bank_id)
        counts[bank.bank_id] = {
            "outcomes_posted": posted,
            "outcomes_reported_total": len(reported),
            "defaults_reported_total": int(reported["default_flag"].sum()) if len(reported) else 0,
        }
    retrains: dict[str, RetrainSummary] = {}
    for bank in sim.config.banks:
        if _due(sim, bank.bank_id, counts[bank.bank_id]["outcomes_posted"]):
            sim.progress(f"      retraining {bank.bank_id} on outcomes matured by {day}")
            retrains[bank.bank_id] = sim.retrain(bank, day)
    inputs = sim.pools(day, index)
    refreshed = next(iter(sim.clients.values())).refresh()
    return [
        RoundRecord.model_validate(
            {
                "round": index + 1,
                "date": day.isoformat(),
                "bank": bank.bank_id,
                "snapshot_reloaded": refreshed.snapshot_reloaded,
                **dict(sim.lend(inputs[bank.bank_id]).record),
                **counts[bank.bank_id],
                "retrain": retrains.get(bank.bank_id),
            }
        )
        for bank in sim.config.banks
    ]


def leakage_checks(ledger: pd.DataFrame, records: list[RoundRecord]) -> dict[str, Any]:
    """Evidence of no look-ahead: when outcomes were reported, which snapshots answered."""
    posted = ledger[ledger["posted_on"].notna()] if len(ledger) else ledger
    lag = (
        [(p - o).days for p, o in zip(posted["posted_on"], posted["observation_date"], strict=True)]
        if len(posted)
        else []
    )
    return {
        "outcomes_posted": len(posted),
        "outcomes_unposted": len(ledger) - len(posted),
        "min_days_after_maturity": min(lag) if lag else None,
        "snapshot_dates": [r.snapshot_as_of for r in records],
        "snapshot_matches_round": all(r.snapshot_as_of == r.date for r in records),
    }


def gate_vs_production(config: SimulationConfig) -> list[dict[str, Any]]:
    """The simulation's promotion-gate settings that differ from production's, and by how much.

    Production: the API's retraining settings (`serving.config.Settings`) and the cold-start
    gate (`training.gate.GateConfig`); the simulation passes the rest of the gate unchanged.
    """
    api = Settings.model_fields
    pairs = {
        "max_ece (retraining)": (config.max_ece, api["retrain_max_ece"].default),
        "max_ece (cold start)": (config.max_ece, GateConfig().max_ece),
        "min_own_defaults": (config.min_own_defaults, api["retrain_min_own_defaults"].default),
    }
    return [
        {"setting": name, "simulation": ours, "production": theirs, "difference": ours - theirs}
        for name, (ours, theirs) in pairs.items()
        if ours != theirs
    ]


def describe(config: SimulationConfig, entities: int) -> dict[str, Any]:
    """The run's settings as JSON (dates as ISO strings), with how its gate differs."""
    out = asdict(config) | {"banks": [asdict(b) for b in config.banks]}
    out["start"] = None if config.start is None else config.start.isoformat()
    return {
        "config": out,
        "store": {"entities": entities},
        "gate_vs_production": gate_vs_production(config),
    }


def simulate(
    home: Path, config: SimulationConfig, progress: Progress = lambda _: None
) -> tuple[SimulationReport, pd.DataFrame]:
    """Run the simulation in `home` (see `prepare_home`): the report and the loan ledger."""
    settings = settings_for(home, config)
    with store.connect(settings.store, read_only=True) as con:
        dates = round_dates(store_end(con), config)
        entities = int(store.scalar(con, "SELECT count(DISTINCT uscc) FROM entities"))
    progress(f"cold start: the platform model on data known by {dates[0]}")
    cold = train_cold_start(settings, config, dates[0])
    with store.connect(settings.store) as con:
        snapshot.build(con, dates[0])
    keys = provision(settings, config.banks, config.pooling)
    with local_api(settings) as api:
        clients = {b: BankClient(api.base_url, k, config.batch) for b, k in keys.items()}
        sim = Simulation(config, settings, cold, clients, progress)
        records: list[RoundRecord] = []
        try:
            for index, day in enumerate(dates):
                progress(f"round {index + 1}/{len(dates)}: {day}")
                records += play_round(sim, index, day)
        finally:
            for client in clients.values():
                client.close()
    meta = describe(config, entities) | {
        "dates": [d.isoformat() for d in dates],
        "cold_start": cold.summary,
        "leakage": leakage_checks(sim.ledger.frame, records),
    }
    return simulation_report.build(records, meta), sim.ledger.frame
