"""Consent records in the service database: append-only, sealed into the decisions chain,
counted by the offers run, managed from the CLI; and the public model as registered."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from api_fixtures import ApiStacks, snapshot_codes
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from test_audit_integrity import as_owner
from test_db import decision_fields
from typer.testing import CliRunner

from catalog import store
from catalog.errors import InvalidInput, InvalidUSCC
from features.definitions import REGISTRY
from precredit.cli import app
from precredit.settings import get_settings
from serving.db import consents, repo
from serving.db.audit_verify import verify_tenant
from serving.db.models import Offer
from serving.decision.model_store import ModelHolder
from serving.offer.run import NO_CONSENT, OfferOptions, OfferSources, run_offers
from training import tracking

EVIDENCE = hashlib.sha256(b"signed").hexdigest()
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
runner = CliRunner()


def fields(code: str, scope: tuple[str, ...] = ("public_records", "social_insurance", "tax",
           "utilities"), **changes: object) -> consents.ConsentFields:  # fmt: skip
    today = consents.today()
    values: dict[str, object] = {
        "uscc": code,
        "scope": scope,
        "purpose": "preapproval",
        "starts_on": today - dt.timedelta(days=1),
        "expires_on": today + dt.timedelta(days=30),
        "evidence_sha256": EVIDENCE,
    } | changes
    return consents.ConsentFields(**values)  # type: ignore[arg-type]


@pytest.fixture
def bank(sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as session:
        repo.create_tenant(session, "bank_a", "Bank A", repo.TenantOptions(require_consent=True))
    return "bank_a"


# --- the records ------------------------------------------------------------------------------


def test_consents_and_revocations_refuse_update_and_delete(
    sessions: sessionmaker[Session], bank: str
) -> None:
    with sessions() as session:
        consent = consents.record(session, bank, fields("91350100M000100Y43"), "cli")
        consents.revoke(session, bank, consent.id, "cli")
        session.commit()
        for statement in (
            "UPDATE consents SET scope = 'tax'",
            "DELETE FROM consents",
            "UPDATE consent_revocations SET revoked_by = 'x'",
            "DELETE FROM consent_revocations",
        ):
            with pytest.raises(DBAPIError):
                session.execute(text(statement))
            session.rollback()


def test_validity_rules_are_stated_and_checked(sessions: sessionmaker[Session], bank: str) -> None:
    code, today = "91350100M000100Y43", consents.today()
    with sessions() as session:
        with pytest.raises(InvalidUSCC):
            consents.record(session, bank, fields("91350100M000100Y44"), "cli")
        long = today + dt.timedelta(days=consents.MAX_DAYS + 1)
        with pytest.raises(InvalidInput, match="at most 3 years"):
            consents.record(session, bank, fields(code, starts_on=today, expires_on=long), "cli")
        longest = today + dt.timedelta(days=consents.MAX_DAYS)
        consents.record(session, bank, fields(code, starts_on=today, expires_on=longest), "cli")
        with pytest.raises(InvalidInput, match="non-empty"):
            consents.record(session, bank, fields(code, scope=()), "cli")


def test_valid_grants_are_those_in_force_widest_first(
    engine: Engine, sessions: sessionmaker[Session], bank: str
) -> None:
    code, today = "91350100M000100Y43", consents.today()
    with sessions() as session:
        public = consents.record(session, bank, fields(code, ("public_records",)), "cli").id
        full = consents.record(session, bank, fields(code), "cli").id
        revoked = consents.record(session, bank, fields(code), "cli").id
        consents.revoke(session, bank, revoked, "cli")
        monitoring = consents.record(session, bank, fields(code, purpose="monitoring"), "cli").id
        session.commit()
    with engine.connect() as connection:
        grants = consents.valid_grants(connection, bank, code, "preapproval", today)
        later = consents.valid_grants(
            connection, bank, code, "preapproval", today + dt.timedelta(days=31)
        )
    assert [g.id for g in grants] == [full, public]
    assert monitoring not in {g.id for g in grants}
    assert later == []


# --- the audit chain --------------------------------------------------------------------------


def test_the_chain_seals_the_consent_of_each_decision(
    engine: Engine, session: Session, bank: str
) -> None:
    consented = decision_fields(bank, consent_id="c-1", consent_purpose="preapproval")
    ids = repo.record_decisions(session, [consented, decision_fields(bank), consented])
    session.commit()
    assert verify_tenant(session, bank).broken is None
    session.rollback()  # end the read: the owner's write below must not wait for it
    as_owner(engine, "UPDATE decisions SET consent_id = 'c-forged' WHERE id = :id", id=ids[2])
    broken = verify_tenant(session, bank).broken
    assert broken is not None
    assert (broken.seq, broken.decision_id) == (3, ids[2])
    session.rollback()
    as_owner(engine, "UPDATE decisions SET consent_id = 'c-1' WHERE id = :id", id=ids[2])
    assert verify_tenant(session, bank).broken is None
    session.rollback()
    as_owner(engine, "UPDATE decisions SET consent_id = 'c-added' WHERE id = :id", id=ids[1])
    broken = verify_tenant(session, bank).broken
    assert broken is not None
    assert broken.seq == 2


# --- offers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(api_stacks: ApiStacks) -> Path:
    return api_stacks.home


@pytest.fixture
def platform(home: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path / "platform.duckdb"
    shutil.copy(home / "platform.duckdb", path)
    with store.connect(path) as con:
        yield con


def test_offers_score_only_entities_whose_consent_covers_the_model(
    home: Path,
    platform: duckdb.DuckDBPyConnection,
    sessions: sessionmaker[Session],
    bank: str,
    tmp_path: Path,
) -> None:
    holder = ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", tmp_path)
    codes = snapshot_codes(home, 400)
    with sessions() as session:
        full = [consents.record(session, bank, fields(c), "cli") for c in codes[:300]]
        for code in codes[300:]:
            consents.record(session, bank, fields(code, ("public_records",)), "cli")
        session.commit()
    sources = OfferSources(sessions, holder, platform)
    run = run_offers(sources, bank, OfferOptions(now=T0))
    assert run.counts.scored == 300  # public-only consents give no limit, hence no offer
    with sessions() as session:
        offered = set(session.scalars(select(Offer.uscc).where(Offer.tenant_id == bank)))
    assert offered
    assert offered <= set(codes[:300])
    with sessions() as session:  # each offer names the consent that allowed it, as decisions do
        rows = session.execute(select(Offer.uscc, Offer.consent_id).where(Offer.tenant_id == bank))
        named = dict(rows.all())
    assert named == {c.uscc: c.id for c in full if c.uscc in offered}
    revoked = next(c for c in full if c.uscc in offered)
    with sessions() as session:
        consents.revoke(session, bank, revoked.id, "cli")
        session.commit()
    run_offers(sources, bank, OfferOptions(now=T0 + dt.timedelta(hours=1)))
    with sessions() as session:
        ended = session.scalars(
            select(Offer).where(Offer.tenant_id == bank, Offer.uscc == revoked.uscc)
        ).all()
    assert [(o.status, o.revoke_reason) for o in ended] == [("revoked", NO_CONSENT)]


# --- the public model -------------------------------------------------------------------------


def test_the_public_model_is_trained_gated_and_registered_without_private_data(
    home: Path, tmp_path: Path
) -> None:
    client = tracking.connect(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")
    version = tracking.version_by_alias(client, tracking.PUBLIC_OWNER, tracking.CHAMPION)
    assert version is not None
    run = client.get_run(version.run_id)
    assert run.data.params["data_scope"] == "public_records"
    assert run.data.metrics["gate_passed"] == 1.0
    model = tracking.load_native(client, version.run_id, tmp_path)
    scopes = {REGISTRY[name].data_scope for name in model.spec.names}
    assert scopes == {"public_records"}
    assert "tax_paid_cny_12m" not in model.spec.names
    assert "si_headcount_latest" not in model.spec.names


# --- the CLI ----------------------------------------------------------------------------------


def test_the_cli_adds_lists_and_revokes_consents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        added = runner.invoke(app, ["banks", "add", "Bank A", "--id", "bank_a"])
        assert added.exit_code == 0
        assert "consent required" in runner.invoke(app, ["banks", "set", "bank_a"]).output
        today = consents.today()
        args = ["consents", "add", "--tenant", "bank_a", "91350100M000100Y43",
                "--scope", "public_records,tax", "--starts-on", today.isoformat(),
                "--expires-on", (today + dt.timedelta(days=90)).isoformat(),
                "--evidence-sha256", EVIDENCE]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        consent_id = result.output.splitlines()[-1]
        listed = runner.invoke(app, ["consents", "list", "--tenant", "bank_a"])
        [line] = [json.loads(row) for row in listed.output.splitlines()]
        assert (line["id"], line["scope"], line["status"]) == (
            consent_id,
            ["public_records", "tax"],
            "valid",
        )
        revoked = runner.invoke(app, ["consents", "revoke", "--tenant", "bank_a", consent_id])
        assert revoked.exit_code == 0
        again = runner.invoke(app, ["consents", "list", "--tenant", "bank_a"])
        assert json.loads(again.output)["status"] == "revoked"
        bad = runner.invoke(app, [*args[:-1], "xyz"])
        assert isinstance(bad.exception, InvalidInput)
    finally:
        get_settings.cache_clear()
