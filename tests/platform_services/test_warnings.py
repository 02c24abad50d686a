"""Early-warning rules: hand-built entities on the edges of each rule, and an independent oracle.

Each hand-built entity is one scenario; dates are derived from the rules' declared windows and
thresholds so the tests follow the defaults. On `small_store`, a pandas oracle written from
the rules' documented meaning (visibility from `oracle.py`, DOMAIN.md §4) must agree with the
SQL on every warning and its evidence.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from oracle import GRADE_SCORE, months_before, visible_rows

from catalog import schema, store
from catalog.errors import InvalidInput
from catalog.uscc import build
from platform_services.warnings import (
    DEFAULT_RULES,
    TABLE,
    EntityWarning,
    load_rules,
    run_warnings,
    warnings_for,
    with_overrides,
)

AS_OF = dt.date(2024, 6, 30)
RULES = {r.code: r for r in DEFAULT_RULES}
FREQUENT, CROSS = RULES["frequent_one_domain"], RULES["violations_across_domains"]
NEW_COURT, ARREARS, DROP = RULES["new_court_debtor"], RULES["social_insurance_arrears"], RULES["tax_rating_drop"]  # fmt: skip


def _code(i: int) -> str:
    return build("9", "1", "441502", f"MA{i:06d}")


def _before(months: int, days: int = 0) -> dt.date:
    """AS_OF minus `months` calendar months, then `days` more days."""
    return months_before(pd.Timestamp(AS_OF), months).date() - dt.timedelta(days=days)


class Platform:
    """Rows of a hand-built store, one entity per scenario."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in schema.CATALOG_TABLES}
        self.scenarios: dict[str, str] = {}

    def entity(self, scenario: str) -> str:
        code = _code(len(self.scenarios) + 1)
        self.scenarios[scenario] = code
        self.rows["entities"].append(
            {
                "uscc": code,
                "version": 1,
                "name": scenario,
                "entity_type": "enterprise",
                "division": "441502",
                "industry": "C",
                "founded_date": dt.date(2015, 1, 1),
                "registered_capital_cny": 1e6,
                "deregistered_date": None,
                "ingest_date": dt.date(2015, 1, 5),
            }
        )
        return code

    def add(self, table: str, code: str, rid: str, **values: Any) -> None:
        event = schema.TABLES[table].event_dates[0]
        row = {
            "record_id": rid,
            "version": 1,
            "retracted": False,
            "uscc": code,
            "ingest_date": values[event] + dt.timedelta(days=2),
        } | DEFAULTS[table]
        self.rows[table].append(row | values)

    def revise(self, table: str, rid: str, ingest: dt.date, **changes: Any) -> None:
        last = [r for r in self.rows[table] if r["record_id"] == rid][-1]
        self.rows[table].append(
            last | {"version": last["version"] + 1, "ingest_date": ingest} | changes
        )

    def penalty(self, code: str, rid: str, decided: dt.date, **values: Any) -> None:
        dates = {"decision_date": decided, "publicity_end": decided + dt.timedelta(days=365)}
        self.add("penalties", code, rid, **(dates | values))

    def write(self, path: Path) -> None:
        store.create(path)
        with store.connect(path) as con:
            for table in schema.CATALOG_TABLES:
                if self.rows[table.name]:
                    frame = pd.DataFrame(self.rows[table.name], columns=list(table.column_names))
                    store.append(con, table, frame)


DEFAULTS: dict[str, dict[str, Any]] = {
    "penalties": {"decision_no": "汕环罚〔2024〕1号", "penalty_type": "fine", "severity": "general",
                  "domain": "environment", "fine_cny": 20_000.0, "confiscation_cny": 0.0,
                  "authority": "汕尾市生态环境局", "repair_date": None},
    "court_debtors": {"court": "汕尾市城区人民法院", "case_no": "(2024)粤1502执1号",
                      "filing_date": dt.date(2023, 1, 1), "obligation_cny": 80_000.0,
                      "performance": "none", "removed_date": None},
    "abnormal_operations": {"reason": "通过登记的住所或者经营场所无法联系", "removed_date": None,
                            "authority": "汕尾市市场监督管理局"},
    "serious_dishonesty": {"reason": "拒不履行法定义务", "removed_date": None,
                           "authority": "汕尾市发展和改革局"},
    "social_insurance": {"headcount": 12, "paid_cny": 13_200.0, "arrears_cny": 0.0},
    "tax_ratings": {},
}  # fmt: skip


def _frequent(p: Platform, name: str, n: int | None = None, **last: Any) -> str:
    """`threshold` environment penalties inside the window; the last one with `last` changes."""
    code = p.entity(name)
    count = FREQUENT.threshold if n is None else n
    for i in range(count):
        extra = last if i == count - 1 else {}
        p.penalty(code, f"{name}-{i}", _before(FREQUENT.window_months - 1, -10 * i), **extra)
    return code


def _scenarios(p: Platform) -> None:
    _frequent(p, "frequent")
    _frequent(p, "frequent_one_repaired", repair_date=AS_OF - dt.timedelta(days=5))
    _frequent(
        p, "frequent_one_expired", severity="minor", penalty_type="warning", publicity_end=AS_OF
    )  # publicity ends on as_of: no longer counts
    _frequent(p, "frequent_one_late", ingest_date=AS_OF + dt.timedelta(days=1))
    _frequent(p, "frequent_one_elsewhere", domain="fire")
    _frequent(p, "frequent_one_retracted")
    p.revise("penalties", f"frequent_one_retracted-{FREQUENT.threshold - 1}", AS_OF, retracted=True)
    code = p.entity("frequent_outside_window")
    for i in range(FREQUENT.threshold):  # serious: still published, but on/before the window start
        decided = _before(FREQUENT.window_months, i)
        p.penalty(
            code,
            f"out-{i}",
            decided,
            severity="serious",
            publicity_end=decided + dt.timedelta(days=1095),
        )
    _cross(p, "cross")
    _cross(p, "cross_abnormal_removed", removed=_before(0, 3))
    _listings(p)
    _arrears(p)
    _ratings(p)


def _cross(p: Platform, name: str, removed: dt.date | None = None) -> None:
    """Violations in CROSS.threshold domains: a tax penalty, a court listing, an abnormal entry."""
    assert CROSS.threshold == 3
    code = p.entity(name)
    inside = _before(min(CROSS.window_months, 12) - 2)  # general penalties stay published 1 year
    p.penalty(code, f"{name}-pen", inside, domain="tax", authority="国家税务总局汕尾市税务局")
    p.add("court_debtors", code, f"{name}-court", publish_date=inside)
    p.add("abnormal_operations", code, f"{name}-abn", listed_date=inside, removed_date=removed)


def _listings(p: Platform) -> None:
    fresh, old = _before(NEW_COURT.window_months - 1), _before(NEW_COURT.window_months, 1)
    p.add("court_debtors", p.entity("court_new"), "cn-1", publish_date=fresh)
    p.add("court_debtors", p.entity("court_old"), "co-1", publish_date=old)
    p.add("court_debtors", p.entity("court_new_removed"), "cr-1", publish_date=fresh)
    p.revise(
        "court_debtors",
        "cr-1",
        AS_OF - dt.timedelta(days=3),
        removed_date=AS_OF - dt.timedelta(days=3),
        performance="all",
    )
    p.add(
        "court_debtors",
        p.entity("court_new_ingested_late"),
        "cl-1",
        publish_date=fresh,
        ingest_date=AS_OF + dt.timedelta(days=1),
    )


def _si(p: Platform, name: str, arrears: list[float]) -> str:
    """Monthly records up to the month before AS_OF; `arrears` are the latest months' amounts."""
    code = p.entity(name)
    months = [dt.date(2023, 7, 1) + pd.DateOffset(months=i) for i in range(12)]
    for i, month in enumerate(m.date() for m in months):
        owed = arrears[i - (12 - len(arrears))] if i >= 12 - len(arrears) else 0.0
        p.add(
            "social_insurance",
            code,
            f"{name}-{i}",
            month=month,
            arrears_cny=owed,
            ingest_date=month + dt.timedelta(days=40),
        )
    return code


def _arrears(p: Platform) -> None:
    # The June record is ingested after AS_OF: the last visible months are April and May.
    owed = [13_200.0] * ARREARS.threshold
    _si(p, "arrears", [*owed, 0.0])
    _si(p, "arrears_once", [13_200.0, 0.0, 0.0])
    _si(p, "arrears_long_ago", [13_200.0] * 6 + [0.0] * 3)
    _si(p, "arrears_corrected", [*owed, 0.0])
    p.revise(
        "social_insurance", "arrears_corrected-10", AS_OF - dt.timedelta(days=1), arrears_cny=0.0
    )


def _rating(p: Platform, code: str, rid: str, year: int, grade: str, **values: Any) -> None:
    p.add(
        "tax_ratings",
        code,
        rid,
        rating_year=year,
        grade=grade,
        published_date=dt.date(year + 1, 4, 20),
        **values,
    )


def _ratings(p: Platform) -> None:
    for name, grades in [
        ("drop_a_c", "AAC"),
        ("drop_a_b", "AAB"),
        ("drop_b_c", "BBC"),
        ("drop_long_ago", "ACC"),
        ("rise_c_a", "CCA"),
    ]:
        code = p.entity(name)
        for i, grade in enumerate(grades):
            _rating(p, code, f"{name}-{i}", 2021 + i, grade)
    code = p.entity("drop_retracted")
    for i, grade in enumerate("AAC"):
        _rating(p, code, f"drop_retracted-{i}", 2021 + i, grade)
    p.revise("tax_ratings", "drop_retracted-2", AS_OF - dt.timedelta(days=1), retracted=True)


@pytest.fixture(scope="module")
def platform() -> Platform:
    p = Platform()
    _scenarios(p)
    return p


@pytest.fixture(scope="module")
def hand_store(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warnings") / "platform.duckdb"
    platform.write(path)
    return path


@pytest.fixture(scope="module")
def found(hand_store: Path, platform: Platform) -> dict[str, list[EntityWarning]]:
    """Warnings per scenario, computed on demand."""
    with store.connect(hand_store, read_only=True) as con:
        warnings = warnings_for(con, list(platform.scenarios.values()), AS_OF)
    names = {code: name for name, code in platform.scenarios.items()}
    out: dict[str, list[EntityWarning]] = {name: [] for name in platform.scenarios}
    for w in warnings:
        out[names[w.uscc]].append(w)
    return out


def _rules(found: dict[str, list[EntityWarning]], name: str) -> list[str]:
    return sorted(w.rule for w in found[name])


def _one(found: dict[str, list[EntityWarning]], name: str, rule: str) -> EntityWarning:
    [warning] = [w for w in found[name] if w.rule == rule]
    return warning


def test_three_penalties_in_one_domain_warn(found: dict[str, list[EntityWarning]]) -> None:
    [warning] = found["frequent"]
    assert (warning.rule, warning.domain, warning.severity) == (
        FREQUENT.code,
        "environment",
        "medium",
    )
    assert [e["record_id"] for e in warning.evidence] == [
        f"frequent-{i}" for i in range(FREQUENT.threshold)
    ]
    assert warning.first_evidence_date == str(_before(FREQUENT.window_months - 1))
    assert warning.last_evidence_date == str(warning.evidence[-1]["date"])
    assert all(e["table_name"] == "penalties" and e["detail"]["severity"] for e in warning.evidence)


@pytest.mark.parametrize(
    "name",
    [
        "frequent_one_repaired",
        "frequent_one_expired",
        "frequent_one_late",
        "frequent_one_elsewhere",
        "frequent_one_retracted",
        "frequent_outside_window",
    ],
)
def test_a_penalty_that_does_not_count_breaks_the_frequency(
    found: dict[str, list[EntityWarning]], name: str
) -> None:
    assert _rules(found, name) == []


def test_violations_in_several_domains_warn(found: dict[str, list[EntityWarning]]) -> None:
    warning = _one(found, "cross", CROSS.code)
    assert (warning.domain, warning.severity) == ("judicial,market,tax", "high")
    assert sorted(e["table_name"] for e in warning.evidence) == [
        "abnormal_operations",
        "court_debtors",
        "penalties",
    ]
    assert CROSS.code not in _rules(found, "cross_abnormal_removed")


def test_new_court_debtor_listing(found: dict[str, list[EntityWarning]]) -> None:
    [warning] = found["court_new"]
    assert (warning.rule, warning.severity) == (NEW_COURT.code, "high")
    assert warning.evidence[0]["detail"]["case_no"] == "(2024)粤1502执1号"
    for name in ("court_old", "court_new_removed", "court_new_ingested_late"):
        assert _rules(found, name) == [], name


def test_social_insurance_arrears(found: dict[str, list[EntityWarning]]) -> None:
    [warning] = found["arrears"]
    assert warning.rule == ARREARS.code
    assert [e["date"] for e in warning.evidence] == ["2024-04-01", "2024-05-01"]
    assert all(e["detail"]["arrears_cny"] > 0 for e in warning.evidence)
    for name in ("arrears_once", "arrears_long_ago", "arrears_corrected"):
        assert _rules(found, name) == [], name


def test_tax_rating_drop(found: dict[str, list[EntityWarning]]) -> None:
    [warning] = found["drop_a_c"]
    assert warning.rule == DROP.code
    assert [e["detail"]["grade"] for e in warning.evidence] == ["A", "C"]
    assert [w.rule for w in found["drop_b_c"]] == [DROP.code]  # B=4 to C=2: two steps
    for name in ("drop_a_b", "drop_long_ago", "rise_c_a", "drop_retracted"):
        assert _rules(found, name) == [], name


def test_windows_and_thresholds_are_configurable(hand_store: Path, platform: Platform) -> None:
    rules = with_overrides(
        {
            "frequent_one_domain": {"threshold": FREQUENT.threshold - 1},
            "tax_rating_drop": {"threshold": 1},
            "new_court_debtor": {"enabled": False},
        }
    )
    with store.connect(hand_store, read_only=True) as con:
        found = warnings_for(con, list(platform.scenarios.values()), AS_OF, rules)
    names = {code: name for name, code in platform.scenarios.items()}
    fired = {(names[w.uscc], w.rule) for w in found}
    assert ("frequent_one_repaired", FREQUENT.code) in fired
    assert ("drop_a_b", DROP.code) in fired
    assert not any(rule == NEW_COURT.code for _, rule in fired)


def test_bad_overrides_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown rules"):
        with_overrides({"no_such_rule": {"threshold": 2}})
    with pytest.raises(InvalidInput, match="threshold"):
        with_overrides({"tax_rating_drop": {"threshold": 0}})
    path = tmp_path / "rules.toml"
    path.write_text(
        "[social_insurance_arrears]\nwindow_months = 6\nthreshold = 4\n", encoding="utf-8"
    )
    loaded = {r.code: r for r in load_rules(path)}
    assert (loaded[ARREARS.code].window_months, loaded[ARREARS.code].threshold) == (6, 4)


def test_run_writes_the_day_and_keeps_earlier_days(hand_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    shutil.copy(hand_store, path)
    with store.connect(path) as con:
        first = run_warnings(con, AS_OF)
        again = run_warnings(con, AS_OF)
        earlier = run_warnings(con, AS_OF - dt.timedelta(days=200))
        days = dict(con.execute(f"SELECT as_of, count(*) FROM {TABLE} GROUP BY 1").fetchall())
    assert first.by_rule == again.by_rule
    assert days == {AS_OF: first.warnings, AS_OF - dt.timedelta(days=200): earlier.warnings}
    assert first.by_rule[FREQUENT.code] == 1


def test_run_for_a_few_entities_replaces_only_their_rows(
    hand_store: Path, platform: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "copy.duckdb"
    shutil.copy(hand_store, path)
    few = [platform.scenarios[name] for name in ("frequent", "court_new", "court_old")]
    with store.connect(path) as con:
        whole = run_warnings(con, AS_OF)
        con.execute(f"UPDATE {TABLE} SET severity = 'low'")
        part = run_warnings(con, AS_OF, codes=[c.lower() for c in few])
        severities = dict(
            con.execute(f"SELECT uscc, min(severity) FROM {TABLE} GROUP BY 1").fetchall()
        )
    assert (part.entities, part.warnings) == (3, 2)
    assert {c: severities[c] for c in few if c in severities} == {few[0]: "medium", few[1]: "high"}
    assert sum(1 for s in severities.values() if s == "low") == len(severities) - 2
    assert whole.warnings >= part.warnings


# --- an independent oracle on the synthetic platform -----------------------------------------

SOURCE_TABLES = ("penalties", "court_debtors", "serious_dishonesty", "abnormal_operations",
                 "social_insurance", "tax_ratings")  # fmt: skip
DOMAIN = {"court_debtors": "judicial", "serious_dishonesty": "dishonesty",
          "abnormal_operations": "market"}  # fmt: skip
DATE = {"penalties": "decision_date", "court_debtors": "publish_date",
        "serious_dishonesty": "listed_date", "abnormal_operations": "listed_date",
        "social_insurance": "month", "tax_ratings": "published_date"}  # fmt: skip
Raw = dict[str, dict[str, pd.DataFrame]]  # table -> uscc -> rows
Found = set[tuple[str, str, frozenset[str]]]  # (rule, domain, evidence record ids)


@pytest.fixture(scope="module")
def raw(small_store: Path) -> Raw:
    with store.connect(small_store, read_only=True) as con:
        frames = {t: con.execute(f"SELECT * FROM {t}").df() for t in SOURCE_TABLES}
    return {t: {str(code): rows for code, rows in f.groupby("uscc")} for t, f in frames.items()}


def _in_force(raw: Raw, table: str, code: str, day: pd.Timestamp) -> pd.DataFrame:
    """Visible rows (oracle.py), abnormal entries only while listed, with date and domain."""
    frame = raw[table].get(code)
    if frame is None:
        return pd.DataFrame(columns=["record_id", "_date", "_domain", "grade", "arrears_cny"])
    rows = visible_rows(frame, table, code, day)
    if table == "abnormal_operations":
        rows = rows[rows["removed_date"].isna() | (rows["removed_date"] > day)]
    domain = rows["domain"] if table == "penalties" else DOMAIN.get(table, "")
    return rows.assign(_date=rows[DATE[table]], _domain=domain)


def _ids(rows: pd.DataFrame) -> frozenset[str]:
    return frozenset(rows["record_id"])


def _drop(rows: pd.DataFrame, start: pd.Timestamp, threshold: int) -> frozenset[str] | None:
    if len(rows) < 2:
        return None
    last, prev = rows.sort_values(["_date", "record_id"]).iloc[[-1, -2]].to_dict("records")
    fell = GRADE_SCORE[prev["grade"]] - GRADE_SCORE[last["grade"]] >= threshold
    return (
        frozenset([last["record_id"], prev["record_id"]])
        if fell and last["_date"] > start
        else None
    )


def _oracle(raw: Raw, code: str, day: pd.Timestamp) -> Found:
    """The warnings of one entity, from each rule's documented meaning."""
    out: Found = set()
    tables = {t: _in_force(raw, t, code, day) for t in SOURCE_TABLES}
    for rule in DEFAULT_RULES:
        start = months_before(day, rule.window_months)
        rows = pd.concat(
            [tables[t] for t in rule.sources if len(tables[t])] or [tables[rule.sources[0]]]
        )
        recent = rows[rows["_date"] > start]
        if rule.kind == "frequent":
            for domain, group in recent.groupby("_domain"):
                if len(group) >= rule.threshold:
                    out.add((rule.code, str(domain), _ids(group)))
        elif rule.kind == "cross_domain" and recent["_domain"].nunique() >= rule.threshold:
            out.add((rule.code, ",".join(sorted(recent["_domain"].unique())), _ids(recent)))
        elif rule.kind == "new_listing" and len(recent) >= rule.threshold:
            out.add((rule.code, "", _ids(recent)))
        elif rule.kind == "arrears" and (recent["arrears_cny"] > 0).sum() >= rule.threshold:
            out.add((rule.code, "", _ids(recent[recent["arrears_cny"] > 0])))
        elif rule.kind == "rating_drop" and (ids := _drop(rows, start, rule.threshold)):
            out.add((rule.code, "", ids))
    return out


def _stored(frame: pd.DataFrame, code: str) -> Found:
    rows = frame[frame["uscc"] == code]
    return {
        (r.rule, r.domain, frozenset(e["record_id"] for e in json.loads(r.evidence)))
        for r in rows.itertuples()
    }


@pytest.fixture(scope="module")
def city(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("city") / "platform.duckdb"
    shutil.copy(small_store, path)
    return path


@pytest.mark.parametrize("day", ["2024-09-30", "2025-12-31"])
def test_sql_agrees_with_the_oracle(city: Path, raw: Raw, day: str) -> None:
    as_of = pd.Timestamp(day)
    with store.connect(city) as con:
        run = run_warnings(con, as_of.date())
        stored = con.execute(
            f"SELECT uscc, rule, coalesce(domain, '') AS domain, evidence "
            f"FROM {TABLE} WHERE as_of = ?",
            [as_of.date()],
        ).df()
        everyone = [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities").fetchall()]
    assert sum(n > 0 for n in run.by_rule.values()) >= 4  # most rules fire on a city
    flagged = sorted(set(stored["uscc"]))
    rng = np.random.default_rng(11)
    quiet = rng.choice(sorted(set(everyone) - set(flagged)), 40, replace=False).tolist()
    for code in rng.choice(flagged, min(80, len(flagged)), replace=False).tolist() + quiet:
        assert _stored(stored, code) == _oracle(raw, code, as_of), code


def test_few_entities_equal_their_rows_in_the_city_run(city: Path) -> None:
    day = dt.date(2025, 12, 31)
    with store.connect(city) as con:
        run_warnings(con, day)
        stored = con.execute(
            f"SELECT * EXCLUDE (computed_at) FROM {TABLE} WHERE as_of = ? "
            "ORDER BY uscc, rule, domain",
            [day],
        ).df()
        codes = sorted(set(stored["uscc"]))[:40]
        single = warnings_for(con, codes, day)
    expected = stored[stored["uscc"].isin(codes)].reset_index(drop=True)
    assert len(expected) > 0
    assert len(single) == len(expected)
    for warning, row in zip(single, expected.to_dict("records"), strict=True):
        assert warning.evidence == json.loads(row["evidence"])
        assert warning.to_dict() | {"evidence": row["evidence"]} == row | {
            k: str(row[k])[:10] for k in ("as_of", "first_evidence_date", "last_evidence_date")
        } | {"domain": None if pd.isna(row["domain"]) else row["domain"]}


def test_the_documented_defaults_are_the_declared_ones() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "warnings.md").read_text(encoding="utf-8")
    for rule in DEFAULT_RULES:
        [row] = [line for line in docs.splitlines() if line.startswith(f"| `{rule.code}`")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1:3] == [rule.zh, rule.kind], rule.code
        assert cells[4] == f"{rule.window_months} m", rule.code
        assert f"≥ {rule.threshold} " in cells[5], rule.code
        assert cells[6] == rule.severity, rule.code
