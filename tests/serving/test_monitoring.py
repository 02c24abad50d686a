"""Model and data monitoring end to end: injected drift is detected, an unchanged period is quiet.

Two homes share one trained platform model: `quiet` serves the platform as generated, `drifted`
a copy in which half the entities' last 12 months of tax were cut to 30% and every third entity
got a new court-debtor listing; both snapshots are then rebuilt on the same quarter end. A bank
asks the live API about every open entity, reports realised loan outcomes, and `precredit
monitor` runs against each home; `/metrics` and the retraining trigger read the result.

The platform is the seeded generator with eight years of history instead of `tiny_store`'s
five: there, the training split's first observation dates see truncated 24- and 36-month
windows, a standing shift the monitor rightly reports (docs/monitoring.md), so no period could
be quiet. Snapshots sit on quarter ends, like the training observations (same reason).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from api_fixtures import LiveApi
from trained_home import build_home
from typer.testing import CliRunner

from catalog import store, uscc
from features import snapshot
from precredit.cli import app
from precredit.settings import get_settings
from serving import retraining
from serving.config import Settings
from serving.db import sqlite_url
from serving.monitor import run as monitoring
from serving.monitor.result import LinkedRow, MonitoringResult
from synthetic import outcomes
from synthetic.config import SynthConfig
from synthetic.generate import generate

QUARTER_END = dt.date(2025, 9, 30)
TAX_CUT = f"""UPDATE tax_payments SET tax_paid_cny = tax_paid_cny * 0.3, revenue_cny = revenue_cny * 0.3
    WHERE period_end > DATE '{QUARTER_END}' - INTERVAL 12 MONTH AND hash(uscc) % 2 = 0"""
COURT_LISTINGS = """INSERT INTO court_debtors (record_id, version, retracted, uscc, court, case_no,
    filing_date, publish_date, obligation_cny, performance, removed_date, ingest_date)
    SELECT 'drift-' || uscc, 1, false, uscc, 'Shanwei Intermediate Court', 'drift-' || uscc,
      DATE '2025-06-02', DATE '2025-07-15', 250000.0, 'none', NULL, DATE '2025-07-20'
    FROM (SELECT DISTINCT uscc FROM entities) WHERE hash(uscc) % 3 = 0"""


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The quiet and the drifted home, one trained model, snapshots on the same quarter end."""
    generated = tmp_path_factory.mktemp("long") / "platform.duckdb"
    generate(generated, SynthConfig(entities=1_000, seed=7, years=8))
    quiet = build_home(generated, tmp_path_factory.mktemp("monitor") / "quiet")
    drifted = quiet.parent / "drifted"
    shutil.copytree(quiet, drifted)
    with store.connect(drifted / "platform.duckdb") as con:
        con.execute(TAX_CUT)
        con.execute(COURT_LISTINGS)
    for home in (quiet, drifted):
        with store.connect(home / "platform.duckdb") as con:
            snapshot.build(con, QUARTER_END)
    return {"quiet": quiet, "drifted": drifted}


LINKED = 300  # of the quiet home's 1,200 reported loans, those linked to a decision


def open_codes(home: Path) -> list[str]:
    """Valid credit codes of the snapshot's open entities (those a bank would ask about)."""
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        rows = con.execute(
            f"SELECT uscc FROM {snapshot.TABLE} WHERE reg_deregistered = 0 ORDER BY uscc"
        ).fetchall()
    return [r[0] for r in rows if uscc.is_valid(r[0])]


def bank_outcomes(home: Path, n: int = 1_200) -> list[dict[str, Any]]:
    """`n` realised loans to random entities, applied for from 2022-01 to 2024-06, as JSON."""
    rng = np.random.default_rng(3)
    codes = open_codes(home)
    days = pd.date_range("2022-01-01", "2024-06-30", freq="D")
    loans = pd.DataFrame(
        {
            "loan_id": [f"m-{i:05d}" for i in range(n)],
            "uscc": rng.choice(codes, n),
            "application_date": days[rng.integers(0, len(days), n)].date,
            "amount_cny": 300_000.0,
        }
    )
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        frame = outcomes.realise(con, loans, seed=3).drop(columns=["true_pd"])
    return [
        {
            k: v.isoformat() if isinstance(v, dt.date) else v.item() if hasattr(v, "item") else v
            for k, v in row.items()
            if v is not None
        }
        for row in frame.to_dict("records")
    ]


def monitor(home: Path, api: LiveApi) -> tuple[MonitoringResult, str]:
    """`precredit monitor --tenant bank_a` on the home: the latest result and the printed line."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        patch.setenv("PRECREDIT_DATABASE_URL", api.database_url)
        get_settings.cache_clear()
        try:
            ran = CliRunner().invoke(app, ["monitor", "--tenant", "bank_a", "--period", "week"])
        finally:
            get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    result = monitoring.latest(home, "bank_a")
    assert result is not None
    return result, ran.output


@pytest.fixture(scope="module")
def monitored(homes: dict[str, Path]) -> Iterator[dict[str, tuple[LiveApi, MonitoringResult, str]]]:
    """Per home: the live API after a bank's traffic, and the monitoring result and line."""
    out = {}
    for name, home in homes.items():
        api = LiveApi.start("sqlite", home, sqlite_url(home / "service.db"), max_batch=100)
        client = api.client(api.keys.bank_a)
        codes = open_codes(home)
        decided: list[dict[str, Any]] = []
        for start in range(0, len(codes), 100):
            items = [{"uscc": c} for c in codes[start : start + 100]]
            answer = client.post("/v1/preapprovals/batch", json={"items": items})
            assert answer.status_code == 200
            decided += [item["result"] for item in answer.json()["results"]]
        reports = bank_outcomes(home) if name == "quiet" else []  # performance: one home is enough
        for report, made in zip(reports[:LINKED], decided, strict=False):
            report["decision_id"] = made["decision_id"]  # these loans followed our answers
        for start in range(0, len(reports), 400):
            sent = client.post("/v1/outcomes", json={"outcomes": reports[start : start + 400]})
            assert sent.status_code in (200, 201), sent.text[:300]
        out[name] = (api, *monitor(home, api))
    yield out
    for api, _, _ in out.values():
        api.stop()


def psis(result: MonitoringResult, scope: str) -> dict[str, float]:
    """Feature (and score) PSIs of the serving version in one population."""
    found = result.models[0].scopes[scope]
    return {r.feature: r.psi for r in [found.score, *found.features] if r is not None}


def gauge(api: LiveApi, name: str, **labels: str) -> float:
    """One sample of /metrics (the exposition sorts labels by name)."""
    sample = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "} "
    for line in api.client().get("/metrics").text.splitlines():
        if line.startswith(sample):
            return float(line.removeprefix(sample))
    raise AssertionError(f"{sample} is not on /metrics")


def test_an_unchanged_period_raises_no_alert(monitored: dict[str, Any]) -> None:
    api, result, line = monitored["quiet"]
    model = result.models[0]
    assert model.reference.source == "frozen at training"
    assert {s: model.scopes[s].status for s in ("decisions", "market")} == {
        "decisions": "ok",
        "market": "ok",
    }
    assert result.summary.alert == 0, result.alerts
    assert max(psis(result, "decisions").values()) < 0.25
    assert "0 alert(s)" in line
    assert gauge(api, "precredit_monitor_alerts", tenant="bank_a", level="alert") == 0
    assert not result.retrain.drift
    settings = Settings(home=api.home, database_url=api.database_url)
    assert "drift" not in retraining.due(
        settings, api.sessions, "bank_a", dt.datetime.now(dt.UTC).date()
    )
    one_bin = np.full(300, 0.001)  # without a monitoring result: the served PDs' PSI
    assert (score := retraining.score_drift(settings, "bank_a", one_bin)) is not None
    assert score > 0.25


def test_injected_drift_is_detected_on_the_drifted_features(monitored: dict[str, Any]) -> None:
    api, result, line = monitored["drifted"]
    for scope in ("decisions", "market"):
        shifted = psis(result, scope)
        for feature in (
            "court_in_force",
            "court_new_12m",
            "court_unperformed_cny",
            "tax_revenue_growth_12m",
            "tax_paid_growth_12m",
        ):
            assert shifted[feature] >= 0.25, (scope, feature, shifted[feature])
        for feature in ("tax_paid_cny_12m", "tax_revenue_cny_12m"):  # cut on half the entities
            assert shifted[feature] >= 0.1, (scope, feature, shifted[feature])
        assert shifted["reg_industry"] < 0.1  # untouched features stay put
    assert result.summary.alert >= 10
    assert f"{result.summary.alert} alert(s)" in line
    assert (
        gauge(api, "precredit_monitor_alerts", tenant="bank_a", level="alert")
        == result.summary.alert
    )
    court = gauge(
        api,
        "precredit_psi",
        tenant="bank_a",
        model="precredit-platform",
        model_version="1",
        scope="decisions",
        feature="court_in_force",
    )
    assert court == pytest.approx(psis(result, "decisions")["court_in_force"])
    assert result.retrain.drift
    settings = Settings(home=api.home, database_url=api.database_url)
    assert "drift" in retraining.due(
        settings, api.sessions, "bank_a", dt.datetime.now(dt.UTC).date()
    )


def test_monitoring_reports_linked_loans_by_decision_model_and_product(
    monitored: dict[str, Any],
) -> None:
    api, result, _ = monitored["quiet"]
    rows = result.linked
    assert sum(r.loans for r in rows) == LINKED  # every linked loan matured (applied <= 2024-06)
    assert {r.source for r in rows} == {"decision"}
    assert {r.model_version for r in rows} == {result.models[0].version}
    assert all(r.bads == round(r.bad_rate * r.loans) for r in rows)
    # the same figures as the API's own report of them
    served = api.client(api.keys.bank_a).get(
        "/v1/outcomes/performance", params={"as_of": result.as_of}
    )
    assert served.status_code == 200
    assert [LinkedRow.model_validate(r) for r in served.json()["rows"]] == rows
    report = (monitoring.results_dir(api.home, "bank_a") / result.as_of / "report.md").read_text()
    section = report.split("## Realised performance by decision, model version and product")[1]
    assert f"| decision | {rows[0].model_version} | {rows[0].product} |" in section
    drifted_api, drifted, _ = monitored["drifted"]
    assert drifted.linked == []  # the drifted home reported no outcomes
    empty = monitoring.results_dir(drifted_api.home, "bank_a") / drifted.as_of / "report.md"
    assert "No matured loan linked" in empty.read_text()


def test_realised_performance_and_decision_mix(monitored: dict[str, Any]) -> None:
    api, result, _ = monitored["quiet"]
    perf = result.models[0].performance
    assert perf.matured_loans == 1_200
    assert sum(v.loans for v in perf.vintages) == sum(g.loans for g in perf.grades) == 1_200
    assert [v.vintage for v in perf.vintages][:2] == ["2022Q1", "2022Q2"]
    assert perf.auc is not None
    assert 0.55 < perf.auc < 1.0  # the platform label ranks bank defaults too
    rates = [g.bad_rate for g in perf.grades if g.loans >= 50]
    assert rates[-1] > rates[0]  # worse grades default more
    mix = result.decision_mix.rows
    assert sum(r.decisions for r in mix) == len(open_codes(api.home))
    assert all(abs(r.approve_share + r.refer_share + r.decline_share - 1) < 1e-9 for r in mix)
    files = {p.name for p in (monitoring.results_dir(api.home, "bank_a") / result.as_of).iterdir()}
    assert {
        "report.md",
        "monitor.json",
        "decision_mix.png",
        "psi_precredit-platform-v1.png",
        "score_precredit-platform-v1.png",
        "vintages_precredit-platform-v1.png",
    } <= files
