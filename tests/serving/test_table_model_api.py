"""A bank's own-table model is served by the API once promoted, and only then (issue 13 §2).

Real parts: `precredit train --table ... --tenant bank_one` registers the challenger in MLflow
(SQLite), `precredit models promote --table` applies the one promotion rule, and uvicorn serves
`POST /v1/table-models/loans/scores` from the registry. The answers are checked against the
registered model loaded offline (the MLflow pyfunc), not against numbers written here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from table_home import BANK, NAME, SLUG, invoke, last_line, table_home, train_args

from models.grades import DEFAULT_SCALE
from precredit.settings import get_settings
from serving.app import create_app
from serving.http import ServerThread
from training.table_model import TableModel, encode_rows

ROUTE = f"/v1/table-models/{SLUG}/scores"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The trained home, two admin keys of bank_one, a key of bank_two, and a live server."""
    with table_home(tmp_path_factory.mktemp("table_api")) as home:
        out = home / "out" / "metrics.json"
        invoke(*train_args(home, out, "--tenant", BANK))
        metrics = json.loads(out.read_text(encoding="utf-8"))
        keys = {
            "maker": last_line(invoke("banks", "key", BANK, "--admin")),
            "checker": last_line(invoke("banks", "key", BANK, "--admin")),
            "other": last_line(invoke("banks", "add", "Bank Two", "--id", "bank_two", "--admin")),
        }
        settings = get_settings().model_copy(update={"model_poll_seconds": 0})
        with ServerThread(create_app(settings), name="table-api") as server:
            yield {"home": home, "metrics": metrics, "keys": keys, "base": server.base_url}


def post(served: dict[str, Any], key: str, body: Any, route: str = ROUTE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {served['keys'][key]}"}
    return httpx.post(f"{served['base']}{route}", json=body, headers=headers, timeout=60)


def rows(home: Path, start: int, stop: int) -> list[dict[str, Any]]:
    """Raw table rows as a bank would send them: JSON values, missing as null."""
    table = pd.read_csv(home / f"{SLUG}.csv").iloc[start:stop]
    table = table.astype(object).where(table.notna(), None)
    return [dict(row) for row in table.to_dict(orient="records")]


def offline(home: Path) -> Any:
    mlflow.set_tracking_uri(get_settings().mlflow_uri)
    try:
        return mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    finally:
        mlflow.set_tracking_uri(None)


def promote(served: dict[str, Any]) -> None:
    args = ["models", "promote", "--tenant", BANK, "--table", SLUG, "--version", "1"]
    args += ["--reason", "validated on the 2024 vintage", "--key", served["keys"]["checker"]]
    if not served["metrics"]["gate"]["passed"]:  # 800 loans: the gate may refuse on noise
        args += ["--override-gate", "800-loan sample: gate noise accepted by the risk committee"]
    printed = invoke(*args)
    assert f"{NAME} version 1 is now @champion" in printed


@pytest.fixture(scope="module")
def promoted(served: dict[str, Any]) -> dict[str, Any]:
    """The challenger is not served (404) until promoted by the rule; then it is."""
    before = post(served, "maker", {"rows": rows(served["home"], 0, 2)})
    assert before.status_code == 404, before.text
    assert before.json()["error"]["code"] == "not_found"
    promote(served)
    headers = {"Authorization": f"Bearer {served['keys']['checker']}"}
    refreshed = httpx.post(f"{served['base']}/v1/models/refresh", headers=headers, timeout=60)
    assert refreshed.status_code == 200, refreshed.text
    assert NAME in refreshed.json()["models_changed"]
    return served


def test_once_promoted_the_api_answers_like_the_registered_model(
    promoted: dict[str, Any],
) -> None:
    served = promoted
    home = served["home"]
    sent = rows(home, 0, 40)
    answer = post(served, "maker", {"rows": sent, "top": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["name"] == NAME
    assert body["model"]["version"] == "1"
    assert body["model"]["fingerprint"] == served["metrics"]["model_fingerprint"]

    expected = offline(home).predict(pd.DataFrame(rows(home, 0, 40)))["pd"].to_numpy()
    got = np.array([a["pd"] for a in body["answers"]])
    np.testing.assert_array_equal(got, expected)  # the registered model's PD, bit for bit

    policy = body["policy"]
    for a in body["answers"]:
        want = (
            "approve"
            if a["pd"] <= policy["approve_max_pd"]
            else "refer"
            if a["pd"] <= policy["refer_max_pd"]
            else "decline"
        )
        assert a["decision"] == want
        assert a["grade"] == DEFAULT_SCALE.label([min(a["pd"], 1.0)])[0]
        shares = [r["contribution"] for r in a["reasons"]]
        assert len(shares) <= 3
        assert all(s > 0 for s in shares)
        assert shares == sorted(shares, reverse=True)
        for r in a["reasons"]:
            assert r["value"] == sent[a["row"]][r["column"]]
            assert r["column"] in r["text_zh"]
            assert r["column"] in r["text_en"]


def test_reasons_add_up_to_the_models_log_odds(promoted: dict[str, Any]) -> None:
    served = promoted
    """base + every column's share = the blended log-odds the calibrator reads (additivity)."""
    home = served["home"]
    model = TableModel.load(get_settings().model_cache / "tables" / NAME / "1")  # as served
    sent = rows(home, 40, 70)
    body = post(served, "maker", {"rows": sent, "top": 20}).json()
    X = encode_rows(pd.DataFrame(sent), model.spec)
    contributions, base = model.contributions(X)
    np.testing.assert_allclose(base + contributions.sum(axis=1), model.log_odds(X), atol=1e-9)
    np.testing.assert_allclose([a["log_odds"] for a in body["answers"]], model.log_odds(X))
    np.testing.assert_allclose([a["base_log_odds"] for a in body["answers"]], base)
    for a, shares in zip(body["answers"], contributions, strict=True):
        positive = np.sort(shares[shares > 0])[::-1][:20]
        np.testing.assert_allclose([r["contribution"] for r in a["reasons"]], positive)


def test_one_row_equals_the_same_row_in_a_batch(promoted: dict[str, Any]) -> None:
    served = promoted
    sent = rows(served["home"], 100, 110)
    batch = post(served, "maker", {"rows": sent}).json()["answers"]
    for k in (0, 7):
        single = post(served, "maker", {"rows": [sent[k]]}).json()["answers"][0]
        assert single | {"row": k} == batch[k]


def test_every_answer_is_stored_as_given_and_only_its_bank_sees_it(
    promoted: dict[str, Any],
) -> None:
    served = promoted
    answered = post(served, "maker", {"rows": rows(served["home"], 200, 205)}).json()
    got = httpx.get(
        f"{served['base']}/v1/table-models/scores/{answered['score_id']}",
        headers={"Authorization": f"Bearer {served['keys']['checker']}"},
        timeout=30,
    )
    assert got.status_code == 200
    assert got.json() == answered
    hidden = httpx.get(
        f"{served['base']}/v1/table-models/scores/{answered['score_id']}",
        headers={"Authorization": f"Bearer {served['keys']['other']}"},
        timeout=30,
    )
    assert hidden.status_code == 404
    database = get_settings().home / "service.db"
    with sqlite3.connect(database) as con, pytest.raises(sqlite3.DatabaseError, match="append"):
        con.execute("UPDATE table_scores SET answer = '{}' WHERE id = ?", (answered["score_id"],))


def test_another_banks_key_cannot_reach_this_banks_table_model(promoted: dict[str, Any]) -> None:
    served = promoted
    answer = post(served, "other", {"rows": rows(served["home"], 0, 2)})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: {k: v for k, v in r.items() if k != "Seniority"}, "lack the model's columns"),
        (lambda r: r | {"Seniority": "nine years"}, "must be numeric"),
        (lambda r: r | {"Home": "rent\x00; DROP TABLE"}, ""),
        (lambda r: r | {"Income": float("nan")}, ""),
    ],
)
def test_bad_rows_get_a_422_that_does_not_echo_them(
    promoted: dict[str, Any], change: Any, fragment: str
) -> None:
    served = promoted
    bad = change(rows(served["home"], 0, 1)[0])
    text = json.dumps({"rows": [bad]}, allow_nan=True)
    answer = httpx.post(
        f"{served['base']}{ROUTE}",
        content=text,
        headers={
            "Authorization": f"Bearer {served['keys']['maker']}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert fragment in answer.json()["error"]["message"]
    assert "nine years" not in answer.text
    assert "DROP TABLE" not in answer.text


def test_a_malformed_table_slug_is_refused(promoted: dict[str, Any]) -> None:
    served = promoted
    answer = post(
        served, "maker", {"rows": rows(served["home"], 0, 1)}, "/v1/table-models/Loans!/scores"
    )
    assert answer.status_code == 422


def test_the_promotion_route_promotes_a_table_model_by_the_same_rule(
    promoted: dict[str, Any],
) -> None:
    served = promoted
    body = {"version": "1", "reason": "re-approved after the quarterly review", "table": SLUG}
    if not served["metrics"]["gate"]["passed"]:
        body["override_reason"] = "800-loan sample: gate noise accepted by the risk committee"
    answer = post(served, "maker", body, "/v1/models/promote")
    assert answer.status_code == 200, answer.text
    assert answer.json()["serving"] == {"name": NAME, "version": "1"}
    assert answer.json()["promotion"]["model_name"] == NAME
    missing = post(served, "maker", body | {"table": "no-such-table"}, "/v1/models/promote")
    assert missing.status_code == 404
