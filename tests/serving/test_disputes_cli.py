"""`precredit disputes ...` end to end on a copy of the API tests' trained home (SQLite)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fixtures import ApiStacks
from click.testing import Result
from typer.testing import CliRunner

from catalog import store
from precredit.cli import app
from precredit.settings import get_settings

EVIDENCE = hashlib.sha256(b"withdrawal notice").hexdigest()
RECORD = "CD-CLI-1"


@pytest.fixture
def home(api_stacks: ApiStacks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home: the trained home's store and models, an empty service database."""
    shutil.copy(api_stacks.home / "platform.duckdb", tmp_path / "platform.duckdb")
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.setenv("PRECREDIT_TRACKING_URI", f"sqlite:///{api_stacks.home / 'mlflow.db'}")
    monkeypatch.delenv("PRECREDIT_STORE_PATH", raising=False)
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRECREDIT_API_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> Result:
    """The CLI, as a shell would call it."""
    return CliRunner().invoke(app, list(args))


def listing(home: Path, version: int, retracted: bool) -> str:
    """A court listing (or its retraction) of the snapshot's first entity; its code."""
    with store.connect(home / "platform.duckdb") as con:
        code = str(con.execute("SELECT min(uscc) FROM feature_snapshot").fetchone()[0])
        con.execute(
            "INSERT INTO court_debtors (record_id, version, retracted, uscc, court, case_no, "
            "filing_date, publish_date, obligation_cny, performance, removed_date, ingest_date) "
            "VALUES (?, ?, ?, ?, '汕尾市中级人民法院', '(2025)粤15执1号', DATE '2025-11-20', "
            "DATE '2025-12-20', 90000, 'none', NULL, ?)",
            [RECORD, version, retracted, code, dt.date(2025, 12, 28 + version)],
        )
    return code


def test_file_list_answer_and_reconcile_from_the_shell(home: Path) -> None:
    bank = run("banks", "add", "Bank A", "--id", "bank_a").output.strip().splitlines()[-1]
    operator = run("operators", "add", "Chen Jing").output.strip().splitlines()[-1]
    code = listing(home, 1, retracted=False)
    common = ["--claim", "已履行 / performed", "--evidence-sha256", EVIDENCE]
    target = ["--table", "court_debtors", "--record-id", RECORD]
    filed = run("disputes", "add", code, *target, *common, "--key", bank,
                "--received-at", "2026-09-29T10:00+08:00")  # fmt: skip
    assert filed.exit_code == 0, filed.output
    assert "due 2026-10-08" in filed.output  # two working days, the National Day week between
    case_id = filed.output.split()[1]
    overdue = run("disputes", "list", "--overdue")
    assert case_id in overdue.output
    assert "OVERDUE" in overdue.output
    wrong_key = run("disputes", "set-state", case_id, "checking", "--answer", "x", "--key", bank)
    assert getattr(wrong_key.exception, "code", None) == "forbidden"
    checking = run("disputes", "set-state", case_id, "checking", "--answer", "核查中",
                   "--key", operator)  # fmt: skip
    assert checking.exit_code == 0, checking.output
    assert "is now checking" in checking.output
    listing(home, 2, retracted=True)
    closed = run("disputes", "reconcile")
    assert closed.exit_code == 0, closed.output
    assert f"corrected {case_id}" in closed.output
    shown = run("disputes", "show", case_id)
    assert '"state": "corrected"' in shown.output
    assert "system:reconcile" in shown.output
    assert case_id not in run("disputes", "list", "--overdue").output
    figures = json.loads(run("disputes", "report", "--json").output)
    [court] = figures["by_department"]
    assert court["department"] == "汕尾市中级人民法院"
    assert (court["cases"], court["open"], court["answered"], court["answered_on_time"]) == (
        1, 0, 1, 0,  # answered today, long after its due day 2026-10-08
    )  # fmt: skip
    assert court["median_hours_to_answer"] > 24 * 60
    assert "汕尾市中级人民法院" in run("disputes", "report").output


def test_bad_input_ends_with_one_line_and_exit_2(home: Path) -> None:
    bank = run("banks", "add", "Bank A", "--id", "bank_a").output.strip().splitlines()[-1]
    code = listing(home, 1, retracted=False)
    target = ["--table", "court_debtors", "--record-id", RECORD, "--key", bank]
    bad_claim = run("disputes", "add", code, *target, "--claim", "a\x07b",
                    "--evidence-sha256", EVIDENCE)  # fmt: skip
    bad_hash = run("disputes", "add", code, *target, "--claim", "ok", "--evidence-sha256", "zz")
    naive = run("disputes", "add", code, *target, "--claim", "ok", "--evidence-sha256", EVIDENCE,
                "--received-at", "2026-09-29T10:00")  # fmt: skip
    for result, code_name in ((bad_claim, "invalid_input"), (bad_hash, "invalid_input"),
                              (naive, "invalid_input")):  # fmt: skip
        assert getattr(result.exception, "code", None) == code_name
        assert "\x07" not in str(result.exception)


def test_a_repair_application_is_due_for_its_first_review(home: Path) -> None:
    """Its deadline asks for the first review: once checking, no longer overdue, and reported
    as answered by kind; a dispute in checking stays overdue until it is closed."""
    bank = run("banks", "add", "Bank A", "--id", "bank_a").output.strip().splitlines()[-1]
    operator = run("operators", "add", "Chen Jing").output.strip().splitlines()[-1]
    code = listing(home, 1, retracted=False)
    with store.connect(home / "platform.duckdb") as con:
        con.execute(
            "INSERT INTO penalties VALUES ('PE-CLI-1', 1, false, ?, '汕市监罚〔2025〕9号', "
            "DATE '2025-01-10', 'fine', 'general', 'market', 5000, 0, '汕尾市市场监督管理局', "
            "DATE '2026-01-10', NULL, DATE '2025-01-15')",
            [code],
        )
    common = ["--claim", "已整改 / rectified", "--evidence-sha256", EVIDENCE, "--key", bank,
              "--received-at", "2025-12-29T10:00+08:00"]  # fmt: skip
    repair = run("disputes", "add", code, "--kind", "repair", "--table", "penalties",
                 "--record-id", "PE-CLI-1", *common)  # fmt: skip
    assert repair.exit_code == 0, repair.output
    dispute = run("disputes", "add", code, "--table", "court_debtors", "--record-id", RECORD,
                  *common)  # fmt: skip
    assert dispute.exit_code == 0, dispute.output
    repair_id, dispute_id = repair.output.split()[1], dispute.output.split()[1]
    assert {repair_id, dispute_id} <= set(run("disputes", "list", "--overdue").output.split())
    for case_id in (repair_id, dispute_id):
        step = run("disputes", "set-state", case_id, "checking", "--answer", "初审通过 / reviewed",
                   "--key", operator)  # fmt: skip
        assert step.exit_code == 0, step.output
    overdue = run("disputes", "list", "--overdue").output
    assert repair_id not in overdue
    assert dispute_id in overdue
    figures = json.loads(run("disputes", "report", "--json").output)
    disputes, repairs = figures["by_kind"]
    assert (repairs["cases"], repairs["open"], repairs["overdue"], repairs["answered"]) == (
        1, 1, 0, 1,
    )  # fmt: skip
    assert repairs["answered_on_time"] == 0  # reviewed today, long after 2025-12-31
    assert (disputes["cases"], disputes["open"], disputes["overdue"], disputes["answered"]) == (
        1, 1, 1, 0,
    )  # fmt: skip
    departments = {line["department"] for line in figures["by_department"]}
    assert departments == {"汕尾市市场监督管理局", "汕尾市中级人民法院"}
