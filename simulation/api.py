"""The simulation's side of a real precredit API: a local server, the banks and their clients.

`local_api` serves `create_app(settings)` in a `serving.http.ServerThread` (the same uvicorn
configuration `precredit serve` uses); `BankClient` is one bank talking to it over HTTP with its
own API key, exactly as a bank's systems would.

A bank's client idles for minutes while the other bank retrains, and the server closes an idle
keep-alive connection after `Settings.keep_alive_seconds`: if it does so just as the client
reuses the connection, the request fails with a transport error (`httpx.RemoteProtocolError`).
The client therefore lets idle connections expire before the server's limit, and repeats a
call whose repetition cannot change the outcome (polling a job, storing outcomes, which are
stored once per loan, scoring, refreshing) on a fresh connection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from catalog.errors import PrecreditError
from serving.app import create_app
from serving.config import Settings
from serving.db import make_engine, policies, repo, session_factory, upgrade
from serving.http import ServerThread
from serving.responses import Job, OutcomesStored, Promoted, Refreshed
from simulation.lending import BankPolicy

JOB_TIMEOUT_SECONDS = 1_800
OUTCOMES_PER_CALL = 2_000
# Idle connections are dropped on the client's side well before the server's keep-alive limit.
KEEPALIVE_EXPIRY_SECONDS = 1.0
TRANSPORT_ATTEMPTS = 3  # an idempotent call is sent at most this often
RETRY_PAUSE_SECONDS = 0.2


class SimulationError(PrecreditError):
    """The simulated bank got an answer no bank should get from the API."""

    http_status = 500
    code = "simulation_failed"


def local_api(settings: Settings) -> ServerThread:
    """The API on a free 127.0.0.1 port in a thread (start it with `with`)."""
    return ServerThread(create_app(settings), name="sim-api", start_seconds=120)


@dataclass(frozen=True)
class BankKeys:
    """A bank's two admin keys: one asks for retrainings, the other approves (maker-checker)."""

    maker: str
    checker: str


def provision(
    settings: Settings, banks: Sequence[BankPolicy], pooling: bool
) -> dict[str, BankKeys]:
    """Create the platform and the banks (promotion policy, pooling) and two admin keys each."""
    upgrade(settings.service_db)
    engine = make_engine(settings.service_db)
    try:
        with session_factory(engine)() as session:
            repo.create_tenant(session, "platform", "Platform", repo.TenantOptions(platform=True))
            keys = {}
            for bank in banks:
                repo.create_tenant(
                    session,
                    bank.bank_id,
                    f"Simulated {bank.bank_id}",
                    repo.TenantOptions(pooling, bank.promotion),
                )
                keys[bank.bank_id] = BankKeys(
                    repo.issue_key(session, bank.bank_id, ["score", "outcomes", "admin"]),
                    repo.issue_key(session, bank.bank_id, ["admin"]),
                )
                if bank.product_policy is not None:  # scoring and retraining then use it
                    policy = bank.product_policy
                    policies.set_policy(session, bank.bank_id, policy.product, policy, "simulation")
            session.commit()
    finally:
        engine.dispose()
    return keys


class BankClient:
    """One bank's HTTP client on the API: the maker's key for everything, the checker's to approve."""

    def __init__(self, base_url: str, keys: BankKeys, batch: int) -> None:
        self.batch = batch
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS)
        self._http, self._checker = (
            httpx.Client(
                base_url=base_url,
                timeout=600,
                limits=limits,
                headers={"Authorization": f"Bearer {k}"},
            )
            for k in (keys.maker, keys.checker)
        )

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        self._checker.close()

    def _ok(self, response: httpx.Response, *expected: int) -> Any:
        if response.status_code not in (expected or (200,)):
            raise SimulationError(
                f"{response.request.method} {response.request.url.path} "
                f"answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def _idempotent(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Send a call that may safely be repeated; a dropped connection is retried on a new one."""
        for attempt in range(1, TRANSPORT_ATTEMPTS + 1):
            try:
                return self._http.request(method, path, json=body)
            except httpx.TransportError as error:
                if attempt == TRANSPORT_ATTEMPTS:
                    raise SimulationError(
                        f"{method} {path} failed {attempt} times: {type(error).__name__}"
                    ) from error
                time.sleep(RETRY_PAUSE_SECONDS * attempt)
        raise AssertionError("unreachable")

    def preapprove(self, pool: pd.DataFrame) -> list[dict[str, Any] | None]:
        """Batch pre-approvals for the pool (uscc, requested_amount_cny); None for a refused item."""
        answers: list[dict[str, Any] | None] = []
        items = [
            {"uscc": c, "requested_amount_cny": float(a)}
            for c, a in zip(pool["uscc"], pool["requested_amount_cny"], strict=True)
        ]
        for start in range(0, len(items), self.batch):
            body = {"items": items[start : start + self.batch]}
            results = self._ok(self._idempotent("POST", "/v1/preapprovals/batch", body))["results"]
            answers += [r.get("result") if r["status"] == 200 else None for r in results]
        return answers

    def post_outcomes(self, records: list[dict[str, Any]]) -> int:
        """Report loan outcomes in batches; returns how many the API stored."""
        stored = 0
        for start in range(0, len(records), OUTCOMES_PER_CALL):
            body = {"outcomes": records[start : start + OUTCOMES_PER_CALL]}
            answer = self._ok(self._idempotent("POST", "/v1/outcomes", body))
            stored += OutcomesStored.model_validate(answer).stored
        return stored

    def retrain(self, as_of: str) -> Job:
        """Ask for a retraining on outcomes matured by `as_of` and wait for the job's end."""
        answer = self._ok(self._http.post("/v1/models/retrain", json={"as_of": as_of}), 202)
        job = Job.model_validate(answer)
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            state = Job.model_validate(self._ok(self._idempotent("GET", f"/v1/jobs/{job.job_id}")))
            if state.status in ("succeeded", "failed"):
                return state
            time.sleep(0.5)
        raise SimulationError(f"retraining job {job.job_id} did not finish in time")

    def promote(self, version: str, reason: str) -> Promoted:
        """The checker approves a challenger that passed the gate (manual promotion)."""
        body = {"version": version, "reason": reason}
        answer = self._checker.post("/v1/models/promote", json=body)
        return Promoted.model_validate(self._ok(answer))

    def refresh(self) -> Refreshed:
        """Make the API pick up moved aliases and the rebuilt snapshot now."""
        return Refreshed.model_validate(self._ok(self._idempotent("POST", "/v1/models/refresh")))
