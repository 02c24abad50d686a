"""`GET /v1/entities/{code}/advice`: each advised action, applied to the data, scores as advised.

The behavioural check: for a declined entity, the advice's effect of an action must equal what
the served model answers once the action is really recorded in (a copy of) the platform store
as a new version of the record and the entity's snapshot row is refreshed.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from api_fixtures import LiveApi

from catalog import store, uscc
from features import snapshot
from serving.decision.model_store import ModelHolder


def candidates(home: Path) -> list[str]:
    """Snapshot entities with a published general/serious penalty or an abnormal listing."""
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT uscc FROM penalties WHERE severity <> 'minor' AND repair_date IS NULL "
            "UNION SELECT DISTINCT uscc FROM abnormal_operations WHERE removed_date IS NULL "
            "ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def declined(sqlite_api: LiveApi) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A declined entity an action would give a limit: its code, its answer, its advice."""
    bank = sqlite_api.client(sqlite_api.keys.bank_a)
    for code in candidates(sqlite_api.home)[:120]:
        answer = bank.post("/v1/preapprovals", json={"uscc": code}).json()
        if answer.get("decision") != "decline":
            continue
        advice = bank.get(f"/v1/entities/{code}/advice")
        assert advice.status_code == 200, advice.text
        if any(a["after"]["limit_cny"] > 0 for a in advice.json()["actions"]):
            return code, answer, advice.json()
    pytest.fail("no declined entity that a lawful action would give a limit in the test store")


def record_action(
    con: duckdb.DuckDBPyConnection, action: dict[str, Any], on: dt.date, code: str
) -> None:
    """The action as the platform records it: a new version of the record, ingested on `on`
    (filed returns: new records)."""
    table, record_id = action["record"]["table"], action["record"]["record_id"]
    if action["kind"] == "file_tax_returns":
        for n, day in enumerate(action["periods"]):
            end = dt.date.fromisoformat(day)
            con.execute(
                "INSERT INTO tax_payments VALUES (?, 1, false, ?, ?, ?, 0, 0, ?)",
                [f"FILED-{n}", code, dt.date(end.year, end.month - 2, 1), end, on],
            )  # fmt: skip
        return
    change = {
        "repair_penalty": ("repair_date = ?", [on]),
        "leave_abnormal_list": ("removed_date = ?", [on]),
        "clear_si_arrears": ("paid_cny = paid_cny + arrears_cny, arrears_cny = 0", []),
    }[action["kind"]]
    con.execute(
        f"CREATE TEMP TABLE _next AS SELECT * FROM {table} WHERE record_id = ? "
        "ORDER BY version DESC LIMIT 1",
        [record_id],
    )
    con.execute(
        f"UPDATE _next SET version = version + 1, {change[0]}, ingest_date = ?", [*change[1], on]
    )
    con.execute(f"INSERT INTO {table} SELECT * FROM _next")
    con.execute("DROP TABLE _next")


def assert_advice_rescores(api: LiveApi, code: str, advice: dict[str, Any], tmp_path: Path) -> None:
    """Each action (and all together) recorded in a copy of the store re-scores as advised."""
    as_of = dt.date.fromisoformat(advice["as_of"])
    home = api.home
    holder = ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", tmp_path / "c")
    served = holder.get("bank_a")
    scenarios = [([a], a["after"]) for a in advice["actions"]]
    if advice["combined"] is not None:
        scenarios.append((advice["actions"], advice["combined"]["after"]))
    for n, (applied, after) in enumerate(scenarios):
        path = tmp_path / f"scenario-{n}.duckdb"
        shutil.copy(home / "platform.duckdb", path)
        with store.connect(path) as con:
            for action in applied:
                assert action["legal_basis"]
                assert dt.date.fromisoformat(action["available_from"]) >= as_of
                record_action(con, action, as_of, code)
            snapshot.refresh(con, [code])
            [rescored] = served.model.preapprove(snapshot.read(con, [code]))
        assert (after["decision"], after["grade"], after["limit_cny"]) == (
            rescored["decision"],
            rescored["grade_label"],
            rescored["limit_cny"],
        ), [a["kind"] for a in applied]
        assert after["pd"] == pytest.approx(rescored["pd"], rel=1e-12)


def test_advice_for_a_declined_entity_matches_rescoring_the_changed_data(
    sqlite_api: LiveApi,
    declined: tuple[str, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
) -> None:
    code, answer, advice = declined
    current = advice["current"]
    assert (current["decision"], current["grade"], current["limit_cny"]) == (
        answer["decision"],
        answer["grade_label"],
        answer["limit_cny"],
    )
    assert current["pd"] == pytest.approx(answer["pd"], rel=1e-12)
    assert_advice_rescores(sqlite_api, code, advice, tmp_path)


CANDIDATES = {
    "clear_si_arrears": "SELECT DISTINCT uscc FROM social_insurance s WHERE arrears_cny > 0 "
    "AND month = (SELECT max(month) FROM social_insurance t WHERE t.uscc = s.uscc) ORDER BY 1",
    "file_tax_returns": "SELECT uscc FROM tax_payments WHERE period_end > DATE '2023-12-31' "
    "AND period_end <= DATE '2025-09-30' GROUP BY uscc HAVING count(DISTINCT period_end) "
    "BETWEEN 1 AND 6 ORDER BY 1",
}


@pytest.mark.parametrize("kind", sorted(CANDIDATES))
def test_arrears_and_overdue_returns_advice_matches_rescoring_the_changed_data(
    sqlite_api: LiveApi, kind: str, tmp_path: Path
) -> None:
    with store.connect(sqlite_api.home / "platform.duckdb", read_only=True) as con:
        codes = [r[0] for r in con.execute(CANDIDATES[kind]).fetchall()]
    bank = sqlite_api.client(sqlite_api.keys.bank_a)
    for code in codes[:40]:
        response = bank.get(f"/v1/entities/{code}/advice")
        assert response.status_code == 200, response.text
        advice = response.json()
        found = [a for a in advice["actions"] if a["kind"] == kind]
        if found:
            break
    else:
        pytest.fail(f"no entity with a {kind} action in the test store")
    [action] = found
    if kind == "file_tax_returns":
        assert action["record"]["record_id"] is None
        assert action["periods"]
        assert all(p <= "2025-09-30" for p in action["periods"])  # 15 days past the quarter
    else:
        assert action["record"]["record_id"]
    assert (advice["combined"] is not None) == (len(advice["actions"]) > 1)
    assert_advice_rescores(sqlite_api, code, advice, tmp_path)


def test_advice_answers_only_known_entities_and_keys(sqlite_api: LiveApi) -> None:
    bank = sqlite_api.client(sqlite_api.keys.bank_a)
    unknown = uscc.build("9", "1", "110101", "MA01YY00")
    assert bank.get(f"/v1/entities/{unknown}/advice").status_code == 404
    assert bank.get("/v1/entities/NOT-A-CODE/advice").status_code == 422
    revoked = sqlite_api.client(sqlite_api.keys.revoked_a)
    assert revoked.get(f"/v1/entities/{sqlite_api.codes[0]}/advice").status_code == 401
