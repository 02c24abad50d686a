"""Retraining on a bank's outcomes through the real API: jobs, the gate, promotion, tenancy.

One server (SQLite) on a 1,000-entity platform with a promoted platform model. Outcomes are
realised from the synthetic ground truth and posted through `POST /v1/outcomes`, as a bank
would; the job runs on the API's background thread and is followed at `GET /v1/jobs/{id}`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from api_fixtures import LiveApi
from mlflow import MlflowClient
from sqlalchemy.orm import Session, sessionmaker
from trained_home import build_home

from catalog import store, uscc
from serving import retraining
from serving.config import Settings
from serving.db import jobs, repo, sqlite_url
from synthetic import outcomes
from training import tracking

AS_OF = "2025-12-31"


@pytest.fixture(scope="module")
def api(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """A dedicated server: retraining moves bank_a's champion, which other tests must not see."""
    home = build_home(tiny_store, tmp_path_factory.mktemp("retrain") / "home")
    live = LiveApi.start(
        "sqlite",
        home,
        sqlite_url(home / "service.db"),
        retrain_max_ece=0.1,
        retrain_min_own_defaults=1_000,  # ~350 own defaults: boost from platform
        max_batch=500,
        max_body_bytes=2_000_000,
    )
    yield live
    live.stop()


def bank_loans(home: Path, prefix: str, seed: int, n: int = 2_400) -> pd.DataFrame:
    """`n` loans to random entities, applied for monthly from 2022-01 to 2024-06, realised."""
    rng = np.random.default_rng(seed)
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        rows = con.execute("SELECT uscc FROM entities ORDER BY uscc").fetchall()
        codes = [r[0] for r in rows if uscc.is_valid(r[0])]  # pilot-era codes cannot be posted
        months = pd.date_range("2022-01-01", "2024-06-01", freq="MS")
        loans = pd.DataFrame(
            {
                "loan_id": [f"{prefix}-{i:05d}" for i in range(n)],
                "uscc": rng.choice(codes, n),
                "application_date": (
                    months[rng.integers(0, len(months), n)]
                    + pd.to_timedelta(rng.integers(0, 27, n), unit="D")
                ).date,
                "amount_cny": 300_000.0,
            }
        )
        return outcomes.realise(con, loans, seed)


def post_outcomes(api: LiveApi, key: str, frame: pd.DataFrame) -> None:
    """Send the outcomes through the API in batches, as a bank would."""
    client = api.client(key)
    records = frame.drop(columns=["true_pd"]).to_dict("records")
    for start in range(0, len(records), 500):
        batch = [
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in r.items()
                if not (k == "default_date" and v is None)
            }
            for r in records[start : start + 500]
        ]
        for item in batch:
            item["default_flag"], item["max_dpd"] = bool(item["default_flag"]), int(item["max_dpd"])
        response = client.post("/v1/outcomes", json={"outcomes": batch})
        assert response.status_code in (200, 201), response.text[:300]


def wait_for(api: LiveApi, key: str, job_id: str) -> dict[str, Any]:
    """Poll the job until it ends (a job has a few minutes at most on this platform)."""
    client = api.client(key)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError("the retraining job did not finish in 10 minutes")


def run_params(api: LiveApi, run_id: str) -> dict[str, str]:
    """The MLflow params of a run."""
    client = MlflowClient(f"sqlite:///{api.home / 'mlflow.db'}")
    return dict(client.get_run(run_id).data.params)


def test_the_loop_trains_gates_and_promotes_only_on_approval(api: LiveApi) -> None:
    # The loop's mechanics need a challenger that passes the gate. On these small banks the
    # boosted challenger beats the WoE scorecard fitted on the bank's own loans only on some
    # draws (seeds 1, 3, 4 of 2,400 loans: by -0.001 to -0.056 AUC; seed 5: +0.002), so the
    # draw is fixed here and the gate's verdict is asserted, not assumed.
    post_outcomes(api, api.keys.bank_a, bank_loans(api.home, "a", seed=5))
    admin = api.client(api.keys.admin_a)
    assert api.client(api.keys.bank_a).post("/v1/models/retrain", json={}).status_code == 403
    response = admin.post("/v1/models/retrain", json={"as_of": AS_OF})
    assert response.status_code == 202, response.text
    queued = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{queued['job_id']}"
    assert admin.post("/v1/models/retrain", json={"as_of": AS_OF}).status_code in (202, 409)
    job = wait_for(api, api.keys.admin_a, queued["job_id"])
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["tenant"] == "bank_a"
    assert result["gate"]["passed"], result["gate"]
    assert result["promotion"] == "pending_approval"  # bank_a's policy is manual
    params = run_params(api, result["run_id"])
    assert params["data_tenants"] == "bank_a"
    assert params["transfer"] == "boost_from_platform"
    assert int(params["own_defaults"]) < 1_000
    with tempfile.TemporaryDirectory() as tmp:
        client = tracking.connect(f"sqlite:///{api.home / 'mlflow.db'}", api.home / "mlartifacts")
        registered = tracking.load_native(client, result["run_id"], Path(tmp))
    assert registered.base is not None  # the served model carries the platform trees it boosts
    assert int(params["own_defaults"]) > result["train_defaults"] > 0
    before = admin.post("/v1/preapprovals", json={"uscc": api.codes[0]}).json()["model"]
    assert before["name"] == "precredit-platform"
    refused = admin.post("/v1/models/promote", json={"version": "99", "reason": "looks fine"})
    assert refused.status_code == 404
    body = {"version": result["version"], "reason": "gate passed; reviewed card"}
    own = admin.post("/v1/models/promote", json=body)
    assert own.status_code == 403  # maker-checker: this key asked for the retraining
    assert own.json()["error"]["code"] == "same_person"
    with api.sessions() as session:
        checker_key = repo.issue_key(session, "bank_a", ["score", "admin"])
        session.commit()
    approved = api.client(checker_key).post("/v1/models/promote", json=body)
    assert approved.status_code == 200, approved.text
    record = approved.json()["promotion"]
    assert record["requested_by"] == job["requested_by"]
    assert record["approved_by"] not in (job["requested_by"], None)
    assert record["gate_passed"]
    after = admin.post("/v1/preapprovals", json={"uscc": api.codes[0]}).json()["model"]
    assert (after["name"], after["version"]) == ("precredit-bank_a", result["version"])
    tags = (
        MlflowClient(f"sqlite:///{api.home / 'mlflow.db'}")
        .get_model_version("precredit-bank_a", result["version"])
        .tags
    )
    assert tags["promoted_by"] == record["approved_by"]
    history = admin.get("/v1/models").json()["promotions"]
    assert history[0]["version"] == result["version"]
    other = api.client(api.keys.bank_b).post("/v1/preapprovals", json={"uscc": api.codes[0]})
    assert other.json()["model"]["name"] == "precredit-platform"  # bank_b unaffected


def test_another_banks_job_is_a_404_and_bank_b_data_never_trains_bank_a(api: LiveApi) -> None:
    sessions: sessionmaker[Session] = api.sessions
    with sessions() as session:
        mine = retraining.loans_of(session, "bank_a", pd.Timestamp(AS_OF).date())
    post_outcomes(api, api.keys.bank_b, bank_loans(api.home, "b", seed=2, n=600))
    with sessions() as session:
        again = retraining.loans_of(session, "bank_a", pd.Timestamp(AS_OF).date())
        tenant = repo.get_tenant(session, "bank_a")
        assert tenant is not None
        assert retraining.pooled_loans(session, tenant, pd.Timestamp(AS_OF).date()) is None
        latest = jobs.latest(session, "bank_a", retraining.KIND)
        assert latest is not None
    pd.testing.assert_frame_equal(mine, again)
    assert set(again["tenant_id"]) == {"bank_a"}
    assert api.client(api.keys.bank_b).get(f"/v1/jobs/{latest.id}").status_code == 403
    assert api.client(api.keys.admin_a).get("/v1/jobs/not-a-job").status_code == 404


def test_pooling_needs_both_banks_opt_in(api: LiveApi) -> None:
    day = pd.Timestamp(AS_OF).date()
    with api.sessions() as session:
        a, b = repo.get_tenant(session, "bank_a"), repo.get_tenant(session, "bank_b")
        assert a is not None
        assert b is not None
        a.pooling_opt_in = True
        session.commit()
        assert retraining.pooled_loans(session, a, day) is None  # bank_b has not opted in
        b.pooling_opt_in = True
        session.commit()
        pooled = retraining.pooled_loans(session, a, day)
        assert pooled is not None
        assert set(pooled["tenant_id"]) == {"bank_b"}
        a.pooling_opt_in = b.pooling_opt_in = False
        session.commit()


def test_triggers_fire_on_new_outcomes_and_schedule_but_not_after_a_fresh_run(api: LiveApi) -> None:
    settings = Settings(home=api.home, database_url=api.database_url, retrain_min_new_outcomes=100)
    day = pd.Timestamp(AS_OF).date()
    assert "new_outcomes" in retraining.due(settings, api.sessions, "bank_b", day)
    assert retraining.due(settings, api.sessions, "bank_a", day) == []  # just retrained
    far = Settings(home=api.home, database_url=api.database_url, retrain_every_days=0)
    assert "schedule" in retraining.due(far, api.sessions, "bank_a", day)


def test_a_second_job_for_the_same_bank_is_refused_while_one_is_active(api: LiveApi) -> None:
    sessions = api.sessions
    job = retraining.submit(
        sessions,
        retraining.RetrainRequest("bank_b", "schedule", "test", pd.Timestamp(AS_OF).date()),
    )
    with pytest.raises(Exception, match="already queued or running"):
        retraining.submit(
            sessions,
            retraining.RetrainRequest("bank_b", "on_demand", "test", pd.Timestamp(AS_OF).date()),
        )
    with sessions() as session:
        jobs.finish(session, job.id, None, "cancelled by the test")
    retraining.submit(
        sessions,
        retraining.RetrainRequest("bank_b", "on_demand", "test", pd.Timestamp(AS_OF).date()),
    )
    with sessions() as session:
        for queued in [jobs.latest(session, "bank_b", retraining.KIND, "queued")]:
            assert queued is not None
            jobs.finish(session, queued.id, None, "cancelled by the test")


def test_tracking_records_the_trigger(api: LiveApi) -> None:
    client = tracking.connect(f"sqlite:///{api.home / 'mlflow.db'}", api.home / "mlartifacts")
    version = tracking.version_by_alias(client, "bank_a", tracking.CHALLENGER)
    assert version is not None
    assert run_params(api, str(version.run_id))["trigger"] == "on_demand"
