"""The operator's console (`/console`) against a real uvicorn server on a trained home.

The home is the API tests' trained home, copied, then graded and warned, with a bank's real
traffic: pre-approvals, offers, reported loans, disputes (one overdue) and a monitoring run.
HTTP tests check the session rules (operator only, CSRF, signed cookie, revocation); the
browser tests (marker `browser`) drive Debian's Chromium through Playwright: sign in, visit
every page, no console error and no failed request, every figure shown equals the one
`/v1/platform/{section}` answers and the CLI's functions compute, screenshots kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fixtures import ApiStacks, LiveApi
from test_monitoring import bank_outcomes
from trained_home import SNAPSHOT_DATE

from catalog import store, uscc
from catalog.quality import check_store
from platform_services.evaluation import grading
from platform_services.warnings.run import run_warnings
from serving.config import Settings
from serving.console import session as console_session
from serving.console.text import WORDS, percent, show
from serving.db import repo, sqlite_url
from serving.db.models import utcnow
from serving.decision.model_store import ModelHolder
from serving.disputes import cases
from serving.monitor import run as monitoring
from serving.offer.run import OfferSources, run_offers
from serving.schemas import DisputeIn

CHROMIUM = Path(os.environ.get("PRECREDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ("quality", "codes", "grades", "warnings", "disputes", "kpis", "monitoring")
EVIDENCE = hashlib.sha256(b"ruling").hexdigest()


@dataclass(frozen=True)
class Console:
    """The running API with the console, and what its home was given."""

    api: LiveApi
    operator: str  # an operator's key (scopes admin, operator)
    graded: dict[str, int]
    warnings: int
    loans: list[dict[str, Any]]  # the loans bank_a reported as granted
    overdue_case: str


def _penalty(home: Path) -> tuple[str, str]:
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        row = con.execute(
            "SELECT uscc, record_id FROM penalties WHERE version = 1 ORDER BY record_id LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def _traffic(api: LiveApi) -> list[dict[str, Any]]:
    """Pre-approvals, reported loans (some saying whether they are first loans and how they
    are secured), two financing requests and an offers run for bank_a; the loans granted."""
    client = api.client(api.keys.bank_a)
    items = [{"uscc": code} for code in api.codes[:40]]
    answer = client.post("/v1/preapprovals/batch", json={"items": items})
    assert answer.status_code == 200, answer.text
    reports = bank_outcomes(api.home, n=60)
    for i, report in enumerate(reports):
        if i % 3 != 2:  # a third do not say
            report["first_loan"] = i % 2 == 0
        if i % 4 != 3:
            report["security"] = ("credit", "guarantee", "collateral")[i % 3]
    posted = client.post("/v1/outcomes", json={"outcomes": reports})
    assert posted.status_code in (200, 201), posted.text
    with api.sessions() as session:
        platform = repo.issue_key(session, "platform", ["platform"])
        tenant = repo.get_tenant(session, "bank_a")
        assert tenant is not None
        tenant.financing_opt_in = True
        session.commit()
    request = {"amount_cny": 400_000.0, "term_months": 12, "purpose": "working capital"}
    for code in api.codes[:2]:
        sent = api.client(platform).post("/v1/financing-requests", json={"uscc": code, **request})
        assert sent.status_code in (200, 201), sent.text
    settings = Settings(home=api.home, database_url=api.database_url)
    models = ModelHolder(settings.mlflow_uri, settings.artifact_root, settings.model_cache)
    with store.connect(settings.store, read_only=True) as con:
        run_offers(OfferSources(api.sessions, models, con), "bank_a")
    return [r for r in reports if r["granted_amount_cny"] > 0]


def _disputes(api: LiveApi) -> str:
    """One dispute filed over HTTP today, one filed ten days ago (overdue); the latter's id."""
    code, record_id = _penalty(api.home)
    body = {
        "uscc": code,
        "record": {"table": "penalties", "record_id": record_id},
        "claim": "the fine was paid",
        "evidence_sha256": EVIDENCE,
    }
    filed = api.client(api.keys.bank_a).post("/v1/disputes", json=body)
    assert filed.status_code == 201, filed.text
    lookup = cases.store_lookup(api.home / "platform.duckdb")
    with api.sessions() as session:
        past = utcnow() - dt.timedelta(days=10)
        case = cases.file_case(session, lookup, "bank_b", DisputeIn.model_validate(body), past)
        session.commit()
        return case.id


@pytest.fixture(scope="module")
def console(api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A copy of the trained home, graded and warned, served with a bank's traffic on it."""
    home = tmp_path_factory.mktemp("console") / "home"
    shutil.copytree(api_stacks.home, home, ignore=shutil.ignore_patterns("service*"))
    with store.connect(home / "platform.duckdb") as con:
        graded = grading.evaluate(con).grades
        warned = run_warnings(con, SNAPSHOT_DATE).warnings
    api = LiveApi.start("sqlite", home, sqlite_url(home / "service.db"), max_batch=100)
    with api.sessions() as session:
        operator = repo.issue_key(session, "platform", ["admin", "operator"], name="Chen Jing")
        session.commit()
    loans = _traffic(api)
    overdue = _disputes(api)
    settings = Settings(home=home, database_url=api.database_url)
    result = monitoring.run(settings, api.sessions, "bank_a", dt.date.today())
    monitoring.write(result, home / "monitor-report", home)
    yield Console(api, operator, dict(graded), warned, loans, overdue)
    api.stop()


def _shares(kpis: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        m["month"]: (
            m["loans_reporting_first_loan"],
            m["first_loan_share"],
            m["loans_reporting_security"],
            m["credit_loan_share"],
        )
        for m in kpis["months"]
        if m["loans_granted"]
    }


def _expected_shares(loans: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Per application month: loans saying first_loan, the share of first loans among them,
    loans saying security, the share of credit (unsecured) loans among them."""
    months: dict[str, list[dict[str, Any]]] = {}
    for loan in loans:
        months.setdefault(loan["application_date"][:7], []).append(loan)
    out = {}
    for month, rows in months.items():
        first = [r["first_loan"] for r in rows if "first_loan" in r]
        secured = [r["security"] for r in rows if "security" in r]
        out[month] = (
            len(first),
            round(sum(first) / len(first), 4) if first else None,
            len(secured),
            round(secured.count("credit") / len(secured), 4) if secured else None,
        )
    return out


def _api(console: Console, section: str) -> dict[str, Any]:
    answer = console.api.client(console.operator).get(f"/v1/platform/{section}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["section"] == section
    found: dict[str, Any] = answer.json()["figures"]
    return found


def _signed_in(console: Console) -> httpx.Client:
    """An HTTP client holding a console session (signed in through the form)."""
    client = console.api.client()
    form = client.get("/console/sign-in")
    token = form.cookies[console_session.CSRF_COOKIE]
    answer = client.post("/console/sign-in", data={"key": console.operator, "csrf": token})
    assert answer.status_code == 303, answer.text
    return client


# --- the figures: API sections equal what the CLI's functions compute ----------------------


def test_sections_equal_the_cli_figures(console: Console) -> None:
    """quality is `data check --json`; codes add up to its failing codes; grades, warnings,
    loans, disputes and monitoring are what the home was given."""
    with store.connect(console.api.home / "platform.duckdb", read_only=True) as con:
        checked = check_store(con).to_dict()
    quality = _api(console, "quality")
    assert quality["tables"] == checked["tables"]
    assert quality["codes"] == checked["codes"]
    codes = checked["codes"]
    failing = codes["flagged_codes"] + codes["invalid_codes"] + codes["duplicate_codes"]
    assert _api(console, "codes")["total"] == failing
    grades = _api(console, "grades")
    assert {g["grade"]: g["entities"] for g in grades["by_grade"]} == {
        g: n for g, n in console.graded.items() if n
    }
    assert grades["drift"]
    assert grades["drift"][0]["tenant"] == "bank_a"
    assert _api(console, "warnings")["warnings"] == console.warnings
    kpis = _api(console, "kpis")
    assert sum(m["loans_granted"] for m in kpis["months"]) == len(console.loans)
    assert sum(m["preapproved_entities"] for m in kpis["months"]) > 0
    assert sum(m["financing_requests"] for m in kpis["months"]) == 2
    assert sum(m["requests_answered"] for m in kpis["months"]) == 2  # bank_a decided both
    assert sum(m["answers"] for m in kpis["months"]) == 2
    assert _shares(kpis) == _expected_shares(console.loans)
    assert any(m["first_loan_share"] is None for m in kpis["months"])  # no loan: no share
    assert all(0 < y["a_share"] < 1 for y in kpis["a_grade_taxpayers"])
    disputes = _api(console, "disputes")
    assert disputes["report"]["total"]["cases"] == 2
    assert disputes["report"]["total"]["overdue"] == 1
    latest = monitoring.latest(console.api.home, "bank_a")
    assert latest is not None
    [tenant] = _api(console, "monitoring")["tenants"]
    assert (tenant["alerts"], tenant["warnings"]) == (latest.summary.alert, latest.summary.warn)
    assert "decision_mix.png" in tenant["plots"]


def test_disputes_section_lists_what_the_disputes_api_lists(console: Console) -> None:
    listed = console.api.client(console.operator).get("/v1/disputes").json()["disputes"]
    shown = _api(console, "disputes")["cases"]
    assert {(c["dispute_id"], c["overdue"]) for c in listed} == {
        (c["dispute_id"], c["overdue"]) for c in shown
    }
    overdue = console.api.client(console.operator).get("/v1/disputes?overdue=true").json()
    assert [c["dispute_id"] for c in overdue["disputes"]] == [console.overdue_case]


def test_sections_need_an_operator_key(console: Console) -> None:
    api = console.api
    assert api.client().get("/v1/platform/quality").status_code == 401
    refused = api.client(api.keys.admin_a).get("/v1/platform/quality")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    unknown = api.client(console.operator).get("/v1/platform/nothing")
    assert unknown.status_code == 422
    assert "nothing" not in unknown.text


def test_every_code_failure_is_named_in_both_languages() -> None:
    for reason in (*uscc.REASONS, "duplicate"):
        zh, en = WORDS[f"code:{reason}"]
        assert zh
        assert en


# --- sessions over plain HTTP ---------------------------------------------------------------


def test_pages_redirect_to_sign_in_without_a_session(console: Console) -> None:
    client = console.api.client()
    for path in (
        "/console",
        *(f"/console/{p}" for p in PAGES),
        "/console/warnings.csv?department=x",
    ):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/console/sign-in"


def test_session_cookie_is_signed_httponly_strict_and_holds_no_key(console: Console) -> None:
    client = _signed_in(console)
    header = next(h for h in client.cookies.jar if h.name == console_session.COOKIE)
    assert header.has_nonstandard_attr("HttpOnly")
    assert header.get_nonstandard_attr("SameSite") == "strict"
    assert console.operator not in str(header.value)
    assert client.get("/console/quality").status_code == 200
    tampered = console.api.client()
    key_id, expires, mac = str(header.value).split(".")
    tampered.cookies.set(console_session.COOKIE, f"{key_id}.{int(expires) + 9999}.{mac}")
    assert tampered.get("/console/quality").status_code == 303


def test_sign_in_refuses_a_bank_key_and_a_missing_token(console: Console) -> None:
    client = console.api.client()
    token = client.get("/console/sign-in").cookies[console_session.CSRF_COOKIE]
    bank = client.post("/console/sign-in", data={"key": console.api.keys.admin_a, "csrf": token})
    assert bank.status_code == 403
    assert "平台运营人员" in bank.text
    assert console_session.COOKIE not in bank.cookies
    no_token = console.api.client().post("/console/sign-in", data={"key": console.operator})
    assert no_token.status_code == 403
    assert console_session.COOKIE not in no_token.cookies
    crowded = console.api.client().post(
        "/console/sign-in", content="&".join(f"f{i}=1" for i in range(50))
    )
    assert crowded.status_code == 403
    wrong = client.post("/console/sign-in", data={"key": "pc_platform_" + "x" * 40, "csrf": token})
    assert wrong.status_code == 401
    assert "x" * 40 not in wrong.text


def test_sign_out_needs_its_token_and_ends_the_session(console: Console) -> None:
    client = _signed_in(console)
    assert client.post("/console/sign-out", data={"csrf": "forged"}).status_code == 403
    assert client.get("/console/kpis").status_code == 200
    page = client.get("/console/kpis").text
    token = page.split('name="csrf" value="')[1].split('"')[0]
    out = client.post("/console/sign-out", data={"csrf": token})
    assert out.status_code == 303
    assert client.get("/console/kpis").status_code == 303


def test_a_revoked_key_ends_its_sessions(console: Console) -> None:
    with console.api.sessions() as session:
        key = repo.issue_key(session, "platform", ["admin", "operator"], name="leaver")
        session.commit()
    client = _signed_in(Console(console.api, key, {}, 0, 0, ""))
    assert client.get("/console/grades").status_code == 200
    with console.api.sessions() as session:
        principal = repo.authenticate(session, key)
        assert principal is not None
        repo.revoke_key(session, principal.key_id)
        session.commit()
    assert client.get("/console/grades").status_code == 303


def test_a_department_downloads_its_warnings(console: Console) -> None:
    client = _signed_in(console)
    department = _api(console, "warnings")["by_department"][0]
    answer = client.get("/console/warnings.csv", params={"department": department["department"]})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("department,uscc,name,industry,rule")
    assert len(lines) - 1 >= department["warnings"]
    assert all(line.startswith(department["department"] + ",") for line in lines[1:])


# --- in a real browser -----------------------------------------------------------------------


def _no_browser(reason: str) -> None:
    """Skip with the reason; under CI (which installs Chromium) fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def test_without_chromium_the_browser_tests_skip_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        _no_browser("no Chromium at /nowhere")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        _no_browser("no Chromium at /nowhere")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser is ever downloaded)."""
    if not CHROMIUM.exists():
        _no_browser(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: `$PRECREDIT_TEST_ARTIFACTS/console`, else a pytest temporary folder."""
    root = os.environ.get("PRECREDIT_TEST_ARTIFACTS")
    folder = Path(root) / "console" if root else tmp_path_factory.mktemp("console-screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Watched:
    """What a page did: console errors, failed requests, every URL it asked for."""

    errors: list[str]
    failed: list[str]
    urls: list[str]


def _watch(page: Any) -> Watched:
    seen = Watched([], [], [])
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("requestfailed", lambda r: seen.failed.append(r.url))
    page.on("request", lambda r: seen.urls.append(r.url))
    page.on(
        "response",
        lambda r: seen.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return seen


def _resolve(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _shown(figures: dict[str, Any], path: str, form: str | None) -> str:
    value = _resolve(figures, path)
    if form == "percent":
        return percent(value)
    return show(len(value)) if form == "length" else show(value)


def _sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/console/sign-in")
    page.fill("#key", key)
    page.click("#sign-in")


@pytest.mark.browser
def test_every_page_shows_the_api_figures(console: Console, browser: Any, artifacts: Path) -> None:
    base = console.api.base_url
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    seen = _watch(page)
    _sign_in(page, base, console.operator)
    page.wait_for_url(f"{base}/console")
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    for name in PAGES:
        page.goto(f"{base}/console/{name}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        expected = _api(console, name)
        cells = page.eval_on_selector_all(
            "[data-figure]",
            "els => els.map(e => [e.dataset.figure, e.dataset.format || null, e.textContent])",
        )
        if name != "disputes" or expected["cases"]:
            assert cells, f"{name} shows no figure"
        for path, form, text in cells:
            assert text == _shown(expected, path, form), f"{name}: {path}"
    assert not seen.errors, seen.errors
    assert not seen.failed, seen.failed
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies[console_session.COOKIE]["httpOnly"]
    assert cookies[console_session.COOKIE]["sameSite"] == "Strict"
    assert not any(console.operator in url for url in seen.urls)
    context.close()


@pytest.mark.browser
def test_pages_in_english_monitoring_plots_and_overdue_cases(
    console: Console, browser: Any, artifacts: Path
) -> None:
    base = console.api.base_url
    context = browser.new_context()
    page = context.new_page()
    seen = _watch(page)
    _sign_in(page, base, console.operator)
    page.goto(f"{base}/console/quality")
    assert page.inner_text("h1") == "数据质量"
    page.goto(f"{base}/console/disputes?lang=en")
    assert page.inner_text("h1") == "Disputes and repair"
    overdue = page.locator(f"tr.case.overdue[data-dispute='{console.overdue_case}']")
    assert overdue.count() == 1
    assert page.locator("tr.case.overdue").count() == 1
    page.goto(f"{base}/console/monitoring")  # the language is remembered
    assert page.inner_text("h1") == "Model monitoring"
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths
    assert all(w > 0 for w in widths)
    page.screenshot(path=str(artifacts / "monitoring-en.png"), full_page=True)
    page.goto(f"{base}/console/kpis")
    assert "`first_loan`" in page.inner_text("#share-note")
    assert not seen.errors, seen.errors
    assert not seen.failed, seen.failed
    context.close()


@pytest.mark.browser
def test_a_bank_key_is_refused_and_sign_out_ends_the_session(
    console: Console, browser: Any, artifacts: Path
) -> None:
    base = console.api.base_url
    context = browser.new_context()
    page = context.new_page()
    seen = _watch(page)
    _sign_in(page, base, console.api.keys.admin_a)
    assert "平台运营人员" in page.inner_text("#message")
    page.screenshot(path=str(artifacts / "bank-key-refused.png"), full_page=True)
    assert console_session.COOKIE not in {c["name"] for c in context.cookies()}
    assert seen.failed == [f"403 {base}/console/sign-in"]
    _sign_in(page, base, console.operator)
    page.wait_for_url(f"{base}/console")
    page.click("#sign-out")
    page.wait_for_url(f"{base}/console/sign-in")
    page.goto(f"{base}/console/grades")
    assert page.url == f"{base}/console/sign-in"
    keys = (console.operator, console.api.keys.admin_a)
    assert not any(key in url for url in seen.urls for key in keys)
    context.close()
