"""One decision path: the same entity gets the same answer through every way a bank asks.

A dozen entities (natural approve, refer and PD decline, a decline by each hard gate, a thin
file, extreme values) go through a single HTTP pre-approval, a batch HTTP pre-approval, a
financing request and an offers run, on a copy of the API tests' home served by real uvicorn
on SQLite and PostgreSQL. PD, grade, decision, limit, binding rule, reasons and the recorded
input hash must agree bit for bit.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fixtures import (
    PG_ADMIN_URL,
    ApiStacks,
    LiveApi,
    pg_database,
    pg_missing,
    pg_unreachable,
    snapshot_codes,
)
from sqlalchemy import select

from catalog import store
from catalog.schema import INDUSTRY_SECTIONS, TAX_GRADES
from features import snapshot
from models.batch import preapprove_batch
from models.decision import Preapproval
from models.limit import GATES
from serving.db import repo, sqlite_url
from serving.db.models import Decision, Offer
from serving.decision.model_store import ModelHolder
from serving.offer.run import OfferSources, run_offers

ASKED = 400_000.0
COMPARED = ("decision", "limit_cny", "pd", "grade", "grade_label", "binding", "failed_gates")
GATE_FAILS: dict[str, dict[str, float | None]] = {  # gate code -> inputs that fail it
    "gate:unknown_entity": {"reg_age_months": None},
    "gate:deregistered": {"reg_deregistered": 1.0},
    "gate:court_debtor": {"court_in_force": 1.0},
    "gate:serious_dishonesty": {"dis_in_force": 1.0},
    "gate:abnormal_operations": {"abn_in_force": 1.0},
    "gate:tax_grade": {"tax_grade_latest": float(len(TAX_GRADES) - TAX_GRADES.index("D"))},
    "gate:no_tax_paid": {"tax_paid_cny_12m": 0.0},
    "gate:min_age": {"reg_age_months": 3.0},
    "gate:excluded_industry": {"reg_industry": float(INDUSTRY_SECTIONS.index("K"))},
}
THIN_FILE_PREFIXES = ("pen_", "lic_", "court_", "abn_", "dis_", "hon_", "com_", "si_", "util_")
EXTREME = {
    "tax_revenue_cny_12m": 1e13,
    "tax_paid_cny_24m": 1e12,
    "tax_paid_cny_12m": 5e11,
    "si_headcount_latest": 1e6,
}


def _holder(home: Path, cache: Path) -> ModelHolder:
    return ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", cache)


def _set(con: store.Connection, code: str, values: dict[str, float | None]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in values)
    con.execute(
        f"UPDATE {snapshot.TABLE} SET {assignments} WHERE uscc = ?", [*values.values(), code]
    )


def _prepare(home: Path, holder: ModelHolder) -> dict[str, str]:
    """Pick and shape the entities in the copied store; case name -> credit code."""
    valid = set(snapshot_codes(home, limit=1_000_000))
    with store.connect(home / "platform.duckdb") as con:
        frame = con.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()
        answers = holder.get("bank_a").model.preapprovals(frame)
        by_case: dict[str, str] = {}
        for natural in ("approve", "refer", "pd:decline"):
            by_case |= _first(frame["uscc"], answers, valid - set(by_case.values()), natural)
        clean = [
            c
            for c, a in zip(frame["uscc"], answers, strict=True)
            if c in valid and not a.failed_gates and c not in by_case.values()
        ]
        enabled = [g.code for g in GATES if g.enabled(holder.get("bank_a").model.policy_.gates)]
        for code, gate in zip(clean, enabled, strict=False):
            _set(con, code, GATE_FAILS[gate])
            by_case[gate] = code
        thin = [n for n in frame.columns if n.startswith(THIN_FILE_PREFIXES)]
        _set(con, clean[len(enabled)], dict.fromkeys(thin))
        _set(con, clean[len(enabled) + 1], EXTREME)
        by_case |= {"thin_file": clean[len(enabled)], "extreme": clean[len(enabled) + 1]}
    return by_case


def _first(
    codes: Iterable[str], answers: list[Preapproval], valid: set[str], case: str
) -> dict[str, str]:
    """The first valid code whose decision (or binding rule) is `case`; {} if none."""
    for code, answer in zip(codes, answers, strict=True):
        if code in valid and case in (answer.decision, answer.binding):
            return {case: code}
    return {}


class Paths:
    """The API on a copied home with shaped entities, and a model holder on the same registry."""

    def __init__(self, api: LiveApi, holder: ModelHolder, cases: dict[str, str]) -> None:
        self.api, self.holder, self.cases = api, holder, cases
        with api.sessions() as session:
            self.platform_key = repo.issue_key(session, "platform", ["platform"])
            tenant = repo.get_tenant(session, "bank_a")
            assert tenant is not None
            tenant.financing_opt_in = True
            session.commit()

    def input_hash(self, decision_id: str) -> str:
        """The input hash the audit recorded for a decision."""
        with self.api.sessions() as session:
            row = session.scalar(select(Decision.input_hash).where(Decision.id == decision_id))
        assert row is not None
        return str(row)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def paths(
    request: pytest.FixtureRequest, api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Paths]:
    """A served copy of the API tests' home whose snapshot holds the dozen entities."""
    if request.param == "postgres" and (reason := pg_unreachable()) is not None:
        pg_missing(PG_ADMIN_URL, reason)
    root = tmp_path_factory.mktemp(f"paths-{request.param}")
    home = root / "home"
    shutil.copytree(api_stacks.home, home, ignore=shutil.ignore_patterns("service-*", "*.wal"))
    holder = _holder(home, root / "cache")
    cases = _prepare(home, holder)
    if request.param == "sqlite":
        api = LiveApi.start("sqlite", home, sqlite_url(root / "service.db"), max_batch=50)
        yield Paths(api, holder, cases)
        api.stop()
        return
    with pg_database() as url:
        api = LiveApi.start("postgres", home, url, max_batch=50)
        yield Paths(api, holder, cases)
        api.stop()


def _single(paths: Paths, code: str) -> dict[str, Any]:
    client = paths.api.client(paths.api.keys.bank_a)
    response = client.post("/v1/preapprovals", json={"uscc": code, "requested_amount_cny": ASKED})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer | {"input_hash": paths.input_hash(answer["decision_id"])}


def _batch(paths: Paths, codes: list[str]) -> dict[str, dict[str, Any]]:
    client = paths.api.client(paths.api.keys.bank_a)
    items = [{"uscc": code, "requested_amount_cny": ASKED} for code in codes]
    response = client.post("/v1/preapprovals/batch", json={"items": items})
    assert response.status_code == 200, response.text
    results = [r["result"] for r in response.json()["results"]]
    return {r["uscc"]: r | {"input_hash": paths.input_hash(r["decision_id"])} for r in results}


def _financing(paths: Paths, code: str) -> dict[str, Any]:
    client = paths.api.client(paths.platform_key)
    body = {"uscc": code, "amount_cny": ASKED, "term_months": 12, "purpose": "working capital"}
    response = client.post("/v1/financing-requests", json=body)
    assert response.status_code == 201, response.text
    [answer] = response.json()["answers"]
    assert answer["status"] == 200, answer
    body = answer["body"]
    return dict(body) | {"input_hash": paths.input_hash(answer["decision_id"])}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    texts = ("decline_reasons", "limit_explained", "policy_version", "policy_fingerprint")
    for key in (*COMPARED, "reasons", "limit_drivers", "input_hash", "approved_amount_cny", *texts):
        assert a[key] == b[key], key


def test_the_dozen_cover_approve_refer_every_gate_thin_files_and_extremes(paths: Paths) -> None:
    assert {"approve", "pd:decline", "thin_file", "extreme"} <= set(paths.cases)
    assert {k for k in paths.cases if k.startswith("gate:")} == set(GATE_FAILS)
    assert len(set(paths.cases.values())) == len(paths.cases) >= 12


def test_every_path_gives_the_same_answer_bit_for_bit(paths: Paths) -> None:
    codes = list(paths.cases.values())
    batch = _batch(paths, codes)
    for case, code in paths.cases.items():
        single = _single(paths, code)
        if case.startswith("gate:"):
            assert (single["decision"], single["binding"]) == ("decline", case)
            assert single["limit_cny"] == 0.0
        _same(single, batch[code])
        _same(single, _financing(paths, code))
        assert single["reasons"], case


def test_an_offers_run_gives_the_same_answers_and_input_hashes(paths: Paths) -> None:
    singles = {code: _single(paths, code) for code in paths.cases.values()}
    with store.connect(paths.api.home / "platform.duckdb", read_only=True) as con:
        run_offers(OfferSources(paths.api.sessions, paths.holder, con), "bank_a")
        frame = snapshot.read(con, sorted(singles))
    with paths.api.sessions() as session:
        stored = session.scalars(select(Offer).where(Offer.uscc.in_(list(singles))))
        offers = {o.uscc: o for o in stored if o.tenant_id == "bank_a" and o.status == "active"}
    batch = preapprove_batch(paths.holder.get("bank_a").model, frame)
    for i, code in enumerate(batch.uscc):
        single = singles[code]
        reasons = [r.model_dump(mode="json") for r in batch.reasons(i)]  # explains declines too
        assert (batch.decision[i], batch.binding[i], reasons) == (
            single["decision"],
            single["binding"],
            single["reasons"],
        )
        assert batch.input_hash(i) == single["input_hash"]
        offer = offers.get(code)
        if single["decision"] == "decline":
            assert offer is None, code
            continue
        assert offer is not None, code
        assert (offer.decision, offer.limit_cny, offer.pd, offer.grade, offer.binding) == (
            single["decision"],
            single["limit_cny"],
            single["pd"],
            single["grade_label"],
            single["binding"],
        )
        assert json.loads(offer.reasons_json) == single["reasons"]
        assert offer.input_hash == single["input_hash"]
