"""Offers on Spark (marker `spark`) equal the single-machine offers on a generated platform.

The trained home of the API tests (tiny generated store, its snapshot as of 2025-12-31, the
promoted platform model) is exported to Parquet; one bank's offers are made from the DuckDB
snapshot, another's on Spark from the Parquet files, with the same model. Then every offer row
must agree: decision, grade, limit, binding and reasons exactly, PD and contributions within
1e-12 (the JVM's `ln` may differ from C's by one unit in the last place on one feature).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from api_fixtures import ApiStacks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from catalog import ingest, store
from catalog.errors import InvalidInput
from precredit.cli import app
from precredit.settings import get_settings
from serving.db import make_engine, repo, session_factory, sqlite_url
from serving.db.models import Offer
from serving.decision.model_store import ModelHolder
from serving.offer.run import OfferOptions, OfferRun, OfferSources, run_offers
from serving.offer.spark import SparkInputs, SparkSources, run_offers_spark

pytestmark = pytest.mark.spark

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2025, 12, 31)  # the home's snapshot date (tests/trained_home.py)
TOLERANCE = 1e-12
EXACT = ("decision", "limit_cny", "grade", "binding", "snapshot_as_of", "status", "model_version")


@pytest.fixture(scope="module")
def home(api_stacks: ApiStacks) -> Path:
    """The trained home of the API tests (read only)."""
    return api_stacks.home


@pytest.fixture(scope="module")
def files(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home's platform tables as Parquet files."""
    target = tmp_path_factory.mktemp("platform-files")
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        ingest.export_dir(con, target, "parquet")
    return target


def active(sessions: sessionmaker[Session], tenant: str) -> dict[str, Offer]:
    """The tenant's active offers by code."""
    with sessions() as session:
        query = select(Offer).where(Offer.tenant_id == tenant, Offer.status == "active")
        return {o.uscc: o for o in session.scalars(query)}


def assert_reasons_agree(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    """Same reasons in the same order; contributions within the tolerance."""
    assert [{k: v for k, v in r.items() if k != "contribution"} for r in ours] == [
        {k: v for k, v in r.items() if k != "contribution"} for r in theirs
    ]
    for mine, other in zip(ours, theirs, strict=True):
        assert abs(mine["contribution"] - other["contribution"]) <= TOLERANCE


def spark_run(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    spark_session: Any,
    files: Path,
    **options: Any,
) -> OfferRun:
    """An offers run of bank_b on Spark."""
    sources = SparkSources(sessions, holder, spark_session)
    return run_offers_spark(sources, "bank_b", SparkInputs(files, AS_OF), OfferOptions(**options))


def test_spark_offers_equal_single_machine_offers(
    sessions: sessionmaker[Session],
    home: Path,
    files: Path,
    spark_session: Any,
    tmp_path: Path,
) -> None:
    holder = ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", tmp_path / "m")
    with sessions.begin() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        repo.create_tenant(session, "bank_b", "Bank B")
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        duck = run_offers(
            OfferSources(sessions, holder, con),
            "bank_a",
            OfferOptions(now=T0, out_dir=tmp_path / "duck", batch_rows=300),
        )
    sparked = spark_run(sessions, holder, spark_session, files, now=T0, out_dir=tmp_path / "spark")
    for count in ("scored", "offerable", "created", "revoked", "flagged_codes"):
        assert getattr(sparked.counts, count) == getattr(duck.counts, count), count
    ours, theirs = active(sessions, "bank_a"), active(sessions, "bank_b")
    assert sorted(theirs) == sorted(ours)
    assert 0 < len(ours) < duck.counts.scored
    for code, offer in ours.items():
        other = theirs[code]
        assert [getattr(offer, k) for k in EXACT] == [getattr(other, k) for k in EXACT]
        assert abs(offer.pd - other.pd) <= TOLERANCE
        assert_reasons_agree(json.loads(offer.reasons_json), json.loads(other.reasons_json))
    exports = [pq.read_table(r.exports["parquet"]).to_pylist() for r in (duck, sparked)]
    assert [row["uscc"] for row in exports[0]] == [row["uscc"] for row in exports[1]]
    for mine, other in zip(*exports, strict=True):
        assert [mine[k] for k in EXACT[:4]] == [other[k] for k in EXACT[:4]]
        assert abs(mine["pd"] - other["pd"]) <= TOLERANCE
    # nothing changed: the next Spark run carries every entity over and changes nothing
    again = spark_run(sessions, holder, spark_session, files, now=T0 + dt.timedelta(hours=1))
    assert (again.counts.scored, again.counts.carried) == (0, duck.counts.scored)
    assert (again.counts.created, again.counts.changed, again.counts.revoked) == (0, 0, 0)


def test_the_offers_command_runs_on_spark_from_the_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark_session: Any
) -> None:
    shutil.copy(home / "platform.duckdb", tmp_path / "platform.duckdb")
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.setenv("PRECREDIT_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.delenv("PRECREDIT_STORE_PATH", raising=False)
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        added = runner.invoke(
            app, ["banks", "add", "Bank A", "--id", "bank_a", "--no-require-consent"]
        )
        done = runner.invoke(app, ["offers", "run", "--tenant", "bank_a", "--engine", "spark"])
        wrong = runner.invoke(app, ["offers", "run", "--tenant", "bank_a", "--from", "x"])
    finally:
        get_settings.cache_clear()
    assert added.exit_code == 0, added.output
    assert done.exit_code == 0, done.output
    counts = dict(re.findall(r"^\s+(\w+)\s+(\d+)$", done.output, re.MULTILINE))
    sessions = session_factory(make_engine(sqlite_url(tmp_path / "service.db")))
    assert int(counts["created"]) == len(active(sessions, "bank_a"))
    assert int(counts["scored"]) > 0
    assert isinstance(wrong.exception, InvalidInput)
