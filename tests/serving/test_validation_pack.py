"""`precredit validate` end to end: a bank's decisions and loans in, a signed-off pack out.

A live API on its own service database answers a bank's batch pre-approvals; the bank reports
realised loans (the generator's outcomes), some linked to those decisions with granted amounts
above, below or equal to the limit. The pack's counts are checked against what was reported.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from api_fixtures import ApiStacks, LiveApi, snapshot_codes
from sqlalchemy import select
from typer.testing import CliRunner

from catalog import store
from features.compute import compute
from features.definitions import REGISTRY
from precredit.cli import app
from precredit.cli.errors import run_guarded
from precredit.settings import get_settings
from serving.db import repo, sqlite_url
from serving.db.models import Offer
from serving.validation.compare import SCORECARD_ROLE
from serving.validation.result import ValidationPack
from synthetic import outcomes
from training import metrics, tracking
from training.pipeline import SCORECARD
from training.retrain import loan_label
from training.table_model import WoeScorecard

AS_OF = "2025-12-31"
LOANS = 600
LINKED = 120  # loans linked to a decision; then OFFERED to an offer, FINANCED to a financing answer
OFFERED, FINANCED = 12, 9
LINKS = ("decision_id", "offer_id", "financing_request_id")


def _reports(
    home: Path, decided: list[dict[str, Any]], others: list[dict[str, Any]]
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Realised loans to the decided entities: the first LINKED follow a decision, the next ones
    an offer or a financing answer (`others`); granted equal to, above or below each limit."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2022-01-01", "2024-06-30", freq="D")
    pick = rng.integers(0, len(decided), LOANS)
    made = [
        {"link": "decision_id", "id": decided[i]["decision_id"], "source": "decision"}
        | {k: decided[i][k] for k in ("uscc", "decision", "limit_cny")}
        for i in pick[:LINKED]
    ] + others
    codes = [m["uscc"] for m in made] + [decided[i]["uscc"] for i in pick[len(made) :]]
    loans = pd.DataFrame(
        {
            "loan_id": [f"v-{i:04d}" for i in range(LOANS)],
            "uscc": codes,
            "application_date": days[rng.integers(0, len(days), LOANS)].date,
            "amount_cny": 300_000.0,
        }
    )
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        frame = outcomes.realise(con, loans, seed=5).drop(columns=["true_pd"])
    for link in LINKS:
        frame[link] = [m["id"] if m["link"] == link else None for m in made] + [None] * (
            LOANS - len(made)
        )
    limits = np.array([float(m["limit_cny"]) for m in made])
    factor = np.resize([1.0, 2.0, 0.5], len(made))  # equal, above, below the limit
    granted = np.where(limits > 0, limits * factor, 80_000.0)
    frame.loc[: len(made) - 1, "granted_amount_cny"] = granted
    frame.loc[: len(made) - 1, "drawn_amount_cny"] = granted
    for m, f in zip(made, factor, strict=True):  # the direction a validator would write down
        declined = m["decision"] == "decline"
        m["direction"] = (
            "declined_granted" if declined else {1.0: "none", 2.0: "up", 0.5: "down"}[f]
        )
    return frame, made


def _offered(api: LiveApi, n: int) -> list[dict[str, Any]]:
    """bank_a's offers run over the snapshot; `n` of its offers (approve or refer)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(api.home))
        patch.setenv("PRECREDIT_DATABASE_URL", api.database_url)
        get_settings.cache_clear()
        try:
            ran = CliRunner().invoke(app, ["offers", "run", "--tenant", "bank_a"])
        finally:
            get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    with api.sessions() as session:
        rows = session.scalars(
            select(Offer).where(Offer.tenant_id == "bank_a").order_by(Offer.uscc).limit(n)
        ).all()
    assert len(rows) == n
    return [
        {"link": "offer_id", "id": o.id, "source": "offer", "uscc": o.uscc,
         "decision": o.decision, "limit_cny": o.limit_cny}
        for o in rows
    ]  # fmt: skip


def _financed(api: LiveApi, codes: list[str]) -> list[dict[str, Any]]:
    """Financing requests from the SME platform that bank_a (opted in) answers."""
    with api.sessions() as session:
        tenant = repo.get_tenant(session, "bank_a")
        assert tenant is not None
        tenant.financing_opt_in = True
        key = repo.issue_key(session, "platform", ["platform"])
        session.commit()
    platform, out = api.client(key), []
    for code in codes:
        body = {"uscc": code, "amount_cny": 200_000, "term_months": 12, "purpose": "stock"}
        sent = platform.post("/v1/financing-requests", json=body)
        assert sent.status_code == 201, sent.text[:300]
        [answer] = [a for a in sent.json()["answers"] if a["bank"] == "bank_a"]
        assert answer["status"] == 200, answer
        result = answer["body"]
        out.append(
            {"link": "financing_request_id", "id": sent.json()["request_id"],
             "source": "financing_request", "uscc": code, "decision": result["decision"],
             "limit_cny": result["limit_cny"]}
        )  # fmt: skip
    return out


def _json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            k: v.isoformat() if isinstance(v, dt.date) else v.item() if hasattr(v, "item") else v
            for k, v in row.items()
            if v is not None and not (isinstance(v, float) and np.isnan(v))
        }
        for row in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def bank(api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The API on a fresh service database, after bank_a's decisions and loan reports."""
    scratch = tmp_path_factory.mktemp("validation")
    home = scratch / "home"  # a copy: a test below registers a challenger in its registry
    shutil.copytree(api_stacks.home, home, ignore=shutil.ignore_patterns("service-*"))
    api = LiveApi.start("sqlite", home, sqlite_url(scratch / "service.db"), max_batch=100)
    client = api.client(api.keys.bank_a)
    decided: list[dict[str, Any]] = []
    codes = snapshot_codes(api.home, limit=200)
    for start in range(0, len(codes), 100):
        items = [{"uscc": c} for c in codes[start : start + 100]]
        answer = client.post("/v1/preapprovals/batch", json={"items": items})
        assert answer.status_code == 200, answer.text[:300]
        decided += [item["result"] for item in answer.json()["results"]]
    others = _offered(api, OFFERED) + _financed(api, codes[-FINANCED:])
    reports, made = _reports(api.home, decided, others)
    for start in range(0, LOANS, 300):
        sent = client.post("/v1/outcomes", json={"outcomes": _json(reports[start : start + 300])})
        assert sent.status_code in (200, 201), sent.text[:300]
    yield api, reports, made
    api.stop()


def validate(api: LiveApi, *args: str) -> Any:
    """Run `precredit validate` against the bank's home and database."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(api.home))
        patch.setenv("PRECREDIT_DATABASE_URL", api.database_url)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["validate", *args])
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def pack(bank: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[ValidationPack, Path, str]:
    out = tmp_path_factory.mktemp("pack")
    ran = validate(bank[0], "--tenant", "bank_a", "--as-of", AS_OF, "--out", str(out))
    assert ran.exit_code == 0, ran.output
    loaded = ValidationPack.model_validate_json((out / "validation.json").read_text())
    return loaded, out, ran.output


def test_scope_counts_are_the_reported_loans(bank: Any, pack: Any) -> None:
    _, reports, _ = bank
    result, _, line = pack
    labels = [
        loan_label(bool(r.default_flag), r.default_date, r.application_date)
        for r in reports.itertuples()
    ]
    assert (result.scope.loans, result.scope.defaults) == (LOANS, sum(labels))
    assert sum(v.loans for v in result.scope.vintages) == LOANS
    assert result.scope.observation_first >= "2022-01-01"
    assert result.scope.observation_last <= "2024-06-30"
    assert len(result.scope.data_sha256) == 64
    assert result.model.name == "precredit-platform"
    assert f"{LOANS} loans" in line


def test_calibration_and_discrimination_cover_every_loan(pack: Any) -> None:
    result = pack[0]
    assert result.calibration is not None
    assert sum(g.loans for g in result.calibration.grades) == LOANS
    assert sum(g.defaults for g in result.calibration.grades) == result.scope.defaults
    for grade in result.calibration.grades:
        assert grade.jeffreys_interval.low <= grade.observed_rate <= grade.jeffreys_interval.high
    overall = result.discrimination.overall
    assert overall.auc_ci.low < overall.auc < overall.auc_ci.high
    for name in ("entity type", "industry", "size"):
        parts = [s for s in result.discrimination.segments if s.segment == name]
        assert sum(s.n for s in parts) == LOANS, name
    kinds = {s.value for s in result.discrimination.segments if s.segment == "entity type"}
    assert "enterprise" in kinds
    declared = next(f.categories for f in REGISTRY.features if f.name == "reg_entity_type")
    assert kinds <= {*declared, "(missing)"}  # labels, not category codes


def test_stability_and_overrides(bank: Any, pack: Any) -> None:
    _, reports, made = bank
    result = pack[0]
    assert result.stability.score is not None
    assert result.stability.features
    assert sum(result.stability.concentration.shares.values()) == pytest.approx(1.0)
    migration = result.stability.migration
    assert migration is not None
    assert sum(map(sum, migration.counts)) == migration.entities == reports["uscc"].nunique()
    assert result.overrides.linked_loans == len(made) == LINKED + OFFERED + FINANCED
    assert result.overrides.by_source == {
        "decision": LINKED, "financing_request": FINANCED, "offer": OFFERED,
    }  # fmt: skip
    rows = {r.direction: r.loans for r in result.overrides.directions}
    assert rows == {d: sum(m["direction"] == d for m in made) for d in rows}
    assert rows["none"] + result.overrides.overridden == len(made)
    assert any(m["source"] == "offer" and m["direction"] != "none" for m in made)


def test_the_served_model_is_monotone_as_the_registry_declares(pack: Any) -> None:
    checks = pack[0].soundness
    assert checks
    assert all(c.agrees for c in checks)
    assert sum(c.violations for c in checks) == 0
    assert any(c.model != 0 and c.rows == LOANS for c in checks)


def test_the_version_is_back_tested_against_the_scorecard_its_gate_used(
    bank: Any, pack: Any, tmp_path: Path
) -> None:
    """The scorecard kept with the version scores the same loans: its AUC, recomputed here from
    the run's tables on features computed here, is the pack's; nothing is left uncovered."""
    api, reports, _ = bank
    result = pack[0]
    assert result.discrimination is not None
    (card,) = [c for c in result.discrimination.versus_versions if c.role == SCORECARD_ROLE]
    assert (card.version, card.loans) == (result.model.version, LOANS)
    assert card.auc == result.discrimination.overall.auc
    assert card.difference == pytest.approx(card.auc - card.other_auc)
    client = tracking.connect_client(get_settings_uri(api.home))
    path = client.download_artifacts(result.model.run_id, f"review/{SCORECARD}", str(tmp_path))
    tables = WoeScorecard.from_dict(json.loads(Path(path).read_text()))
    with store.connect(api.home / "platform.duckdb", read_only=True) as con:
        pairs = pd.DataFrame(
            {"uscc": reports["uscc"], "as_of": pd.to_datetime(reports["application_date"])}
        )
        features = compute(con, pairs).reset_index(drop=True)
    labels = [
        loan_label(bool(r.default_flag), r.default_date, r.application_date)
        for r in reports.itertuples()
    ]
    assert card.other_auc == pytest.approx(metrics.auc(np.array(labels), tables.log_odds(features)))
    assert result.not_covered == []


def test_every_cited_direction_is_checked_against_the_registry(pack: Any) -> None:
    """Each feature a top reason cites with a declared direction is reported once, with counts
    that add up; this monotone model's reasons contradict no declaration: every judged feature
    is green."""
    checks = pack[0].reason_directions
    assert checks
    declared = {f.name: int(f.monotone) for f in REGISTRY.features}
    assert len({c.feature for c in checks}) == len(checks)
    for check in checks:
        assert check.registry == declared[check.feature] != 0
        assert check.reasons == check.raising + check.lowering > 0
        assert (check.discordant_share is None) == (check.raising == 0 or check.lowering == 0)
        assert check.light in {"green", "yellow", "red", "n/a"}
    judged = [c for c in checks if c.discordant_share is not None]
    assert len(judged) >= 3
    assert all(c.light == "green" for c in judged), judged


def test_html_is_self_contained_and_both_files_are_logged(bank: Any, pack: Any) -> None:
    result, out, _ = pack
    page = (out / "validation.html").read_text()
    assert "Calibration by grade" in page
    assert result.model.model_fingerprint in page
    assert "src=" not in page
    assert "http" not in page
    client = tracking.connect_client(get_settings_uri(bank[0].home))
    logged = client.list_artifacts(result.model.run_id, f"validation/bank_a-{AS_OF}")
    assert sorted(Path(a.path).name for a in logged) == ["validation.html", "validation.json"]
    assert json.loads((out / "validation.json").read_text())["scope"]["tenant"] == "bank_a"


def get_settings_uri(home: Path) -> str:
    """The home's MLflow tracking URI (as the CLI derives it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        get_settings.cache_clear()
        try:
            return get_settings().mlflow_uri
        finally:
            get_settings.cache_clear()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--tenant", "bank_zz"], "[not_found]"),
        (["--tenant", "bank_a", "--version", "abc"], "[invalid_input]"),
        (["--tenant", "bank_a", "--version", "999"], "[not_found]"),
        (["--tenant", "bank_a", "--as-of", "31/12/2025"], "[invalid_input]"),
    ],
)
def test_bad_input_is_one_error_line(
    bank: Any, tmp_path: Path, args: list[str], code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api = bank[0]
    argv = ["precredit", "validate", *args, "--out", str(tmp_path)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(api.home))
        patch.setenv("PRECREDIT_DATABASE_URL", api.database_url)
        patch.setattr(sys, "argv", argv)
        get_settings.cache_clear()
        try:
            with pytest.raises(SystemExit) as caught:
                run_guarded(app)
        finally:
            get_settings.cache_clear()
    err = capsys.readouterr().err
    assert caught.value.code not in (0, None)
    assert err.startswith(f"precredit: error {code}: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "validation.json").exists()


def test_the_api_answers_the_newest_pack_to_the_bank_s_admin_only(bank: Any, pack: Any) -> None:
    api, result = bank[0], pack[0]
    version = result.model.version
    answer = api.client(api.keys.admin_a).get(f"/v1/models/{version}/validation")
    assert answer.status_code == 200, answer.text[:300]
    assert ValidationPack.model_validate(answer.json()) == result
    assert api.client(api.keys.bank_a).get(f"/v1/models/{version}/validation").status_code == 403
    assert api.client().get(f"/v1/models/{version}/validation").status_code == 401
    with api.sessions() as session:
        other_admin = repo.issue_key(session, "bank_b", ["score", "admin"])
        session.commit()
    missing = api.client(other_admin).get(f"/v1/models/{version}/validation")
    assert missing.status_code == 404  # another bank's pack is answered like a missing one
    assert missing.json()["error"]["code"] == "not_found"
    for wrong in ("999", "abc", "1" * 40):
        answer = api.client(api.keys.admin_a).get(f"/v1/models/{wrong}/validation")
        assert answer.status_code == 404, wrong
        assert wrong not in answer.text


def test_a_bank_without_matured_loans_gets_an_empty_pack(bank: Any, tmp_path: Path) -> None:
    ran = validate(bank[0], "--tenant", "bank_b", "--as-of", AS_OF, "--out", str(tmp_path))
    assert ran.exit_code == 0, ran.output
    empty = ValidationPack.model_validate_json((tmp_path / "validation.json").read_text())
    assert (empty.scope.loans, empty.discrimination, empty.calibration) == (0, None, None)
    assert (empty.overrides.linked_loans, empty.stability.migration) == (0, None)
    assert "AUC n/a" in ran.output


def test_a_challenger_is_back_tested_on_the_same_loans(
    bank: Any, pack: Any, tmp_path: Path
) -> None:
    api, result = bank[0], pack[0]
    client = tracking.connect_client(get_settings_uri(api.home))
    name = result.model.name
    source = client.get_model_version(name, result.model.version).source
    twin = client.create_model_version(name, source, run_id=result.model.run_id).version
    client.set_registered_model_alias(name, tracking.CHALLENGER, twin)
    ran = validate(api, "--tenant", "bank_a", "--as-of", AS_OF, "--out", str(tmp_path))
    assert ran.exit_code == 0, ran.output
    again = ValidationPack.model_validate_json((tmp_path / "validation.json").read_text())
    assert again.discrimination is not None
    (compared,) = [c for c in again.discrimination.versus_versions if c.version == str(twin)]
    assert compared.role == "platform challenger"
    assert compared.auc == compared.other_auc == result.discrimination.overall.auc
    assert (compared.difference, compared.p_value) == (0.0, 1.0)  # the same model, to the bit
    assert again.scope.data_sha256 == result.scope.data_sha256  # same loans, same hash
