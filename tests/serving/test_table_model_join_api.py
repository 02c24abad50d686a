"""A `--join-platform` table model is served with the platform's features filled in by the API.

The bank's table is rows of the session's `small_store` cold-start frame with two columns of the
bank's own (`table_home.bank_table`). The bank requires consent (as `banks add` makes it). The
server's home holds the store with its snapshot; a request names each row's entity in `codes`
and the platform features come from that snapshot, under the consent rule. The expected PD is
the registered model's (offline pyfunc) on the rows joined with features computed by
`features.compute.compute` for the snapshot date: the point-in-time path, not the route's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from table_home import bank_table, invoke, last_line

from catalog import store
from features import snapshot
from features.compute import compute
from precredit.settings import get_settings
from serving.app import create_app
from serving.db import consents
from serving.http import ServerThread

BANK, SLUG = "bank_join", "bank"
NAME = f"precredit-{BANK}-table-{SLUG}"
AS_OF = dt.date(2025, 12, 31)
ROUTE = f"/v1/table-models/{SLUG}/scores"


@pytest.fixture(scope="module")
def served(
    small_store: Path, platform_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("join_api")
    shutil.copy(small_store, home / "platform.duckdb")
    with store.connect(home / "platform.duckdb") as con:
        snapshot.build(con, AS_OF)
    table = bank_table(platform_frame, 1_500)
    table.to_csv(home / f"{SLUG}.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        patch.delenv("PRECREDIT_TRACKING_URI", raising=False)
        patch.delenv("PRECREDIT_STORE_PATH", raising=False)
        get_settings.cache_clear()
        try:
            keys = {
                "maker": last_line(invoke("banks", "add", "Bank Join", "--id", BANK, "--admin"))
            }
            keys["checker"] = last_line(invoke("banks", "key", BANK, "--admin"))
            args = ["train", "--table", str(home / f"{SLUG}.csv"), "--target", "status"]
            args += ["--positive", "bad", "--time-col", "applied", "--join-platform"]
            args += ["--code-col", "credit_code", "--trials", "2", "--tune-seconds", "60"]
            out = home / "metrics.json"
            invoke(*args, "--metrics-json", str(out), "--tenant", BANK)
            metrics = json.loads(out.read_text(encoding="utf-8"))
            settings = get_settings().model_copy(update={"model_poll_seconds": 0})
            with ServerThread(create_app(settings), name="join-api") as server:
                found = {"home": home, "keys": keys, "base": server.base_url, "table": table}
                promote(found, metrics)
                yield found
        finally:
            get_settings.cache_clear()


def promote(served: dict[str, Any], metrics: dict[str, Any]) -> None:
    body = {"version": "1", "reason": "joined model reviewed", "table": SLUG}
    if not metrics["gate"]["passed"]:
        body["override_reason"] = "small test platform: gate noise accepted for this test"
    answer = post(served, "checker", body, "/v1/models/promote")
    assert answer.status_code == 200, answer.text


def post(served: dict[str, Any], key: str, body: Any, route: str = ROUTE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {served['keys'][key]}"}
    return httpx.post(f"{served['base']}{route}", json=body, headers=headers, timeout=60)


def request(served: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """The bank's own columns of some rows, and their entities' codes (as of the snapshot)."""
    part = served["table"].iloc[start:stop]
    rows = [
        {"bank_score": s, "noise": n}
        for s, n in zip(part["bank_score"], part["noise"], strict=True)
    ]
    return {"rows": rows, "codes": list(part["credit_code"])}


def consent(served: dict[str, Any], codes: list[str], scope: list[str]) -> None:
    today = consents.today()
    for code in codes:
        body = {
            "uscc": code,
            "scope": scope,
            "starts_on": (today - dt.timedelta(days=1)).isoformat(),
            "expires_on": (today + dt.timedelta(days=365)).isoformat(),
            "evidence_sha256": hashlib.sha256(code.encode()).hexdigest(),
        }
        answer = post(served, "maker", body, "/v1/consents")
        assert answer.status_code in (200, 201), answer.text


def test_the_platform_features_need_the_enterprises_consent(served: dict[str, Any]) -> None:
    sent = request(served, 0, 3)
    refused = post(served, "maker", sent)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_required"
    assert refused.json()["error"]["message"].startswith("row 0: ")
    consent(served, sent["codes"][:1], ["public_records"])  # not the scopes the model reads
    narrow = post(served, "maker", sent | {"rows": sent["rows"][:1], "codes": sent["codes"][:1]})
    assert narrow.status_code == 403
    assert "does not cover" in narrow.json()["error"]["message"]


def test_a_joined_model_answers_with_the_snapshots_features(served: dict[str, Any]) -> None:
    sent = request(served, 10, 40)
    consent(served, sent["codes"], ["public_records", "tax", "social_insurance", "utilities"])
    answer = post(served, "maker", sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["snapshot_as_of"] == AS_OF.isoformat()
    assert [a["uscc"] for a in body["answers"]] == sent["codes"]
    assert all(a["consent_id"] for a in body["answers"])

    pairs = pd.DataFrame({"uscc": sent["codes"], "as_of": [AS_OF] * len(sent["codes"])})
    with store.connect(served["home"] / "platform.duckdb", read_only=True) as con:
        features = compute(con, pairs).drop(columns=["uscc", "as_of"])
    joined = pd.concat([pd.DataFrame(sent["rows"]), features.reset_index(drop=True)], axis=1)
    mlflow.set_tracking_uri(get_settings().mlflow_uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    finally:
        mlflow.set_tracking_uri(None)
    expected = model.predict(joined)["pd"].to_numpy()
    np.testing.assert_array_equal([a["pd"] for a in body["answers"]], expected)


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        (lambda b: {"rows": b["rows"]}, 422, "send codes, one credit code per row"),
        (lambda b: b | {"codes": b["codes"][:-1]}, 422, "send codes, one credit code per row"),
        (lambda b: b | {"codes": [b["codes"][0], "91110108MA01A2B32X"]}, 422, "row 1: "),
        (
            lambda b: b | {"rows": [b["rows"][0] | {"reg_age_months": 3.0}, b["rows"][1]]},
            422,
            "row 0 carries reg_age_months, a platform feature",
        ),
    ],
)
def test_a_joined_request_without_its_codes_is_refused(
    served: dict[str, Any], change: Any, status: int, fragment: str
) -> None:
    answer = post(served, "maker", change(request(served, 10, 12)))
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]["message"]
