"""Public credit composite evaluation: the scale's rules, transparency, updates after corrections.

Grades are checked the way a platform officer would: points recomputed by hand from the
scale's numbers, reasons that add up to the score, more adverse records never raising a
grade, a new court-debtor listing or serious penalty lowering an entity's grade after its
snapshot row is refreshed, and the repair restoring it exactly.
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

from catalog import schema, store
from catalog.errors import InvalidInput, StoreError, UnknownEntity
from features import snapshot
from features.definitions import REGISTRY
from platform_services.evaluation import (
    TABLE,
    default_scale,
    evaluate,
    evaluate_one,
    export,
    load_scale,
    reevaluate,
    stored_evaluation,
)
from platform_services.evaluation.scale import Scale, check_features, parse_scale
from platform_services.evaluation.scoring import score, top_reasons
from platform_services.evaluation.table import leading_reasons

AS_OF = dt.date(2025, 12, 31)
SCALE = default_scale()


@pytest.fixture(scope="module")
def graded(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of `small_store` with its snapshot as of AS_OF and the graded table."""
    path = tmp_path_factory.mktemp("evaluation") / "platform.duckdb"
    shutil.copy(small_store, path)
    with store.connect(path) as con:
        snapshot.build(con, AS_OF)
        evaluate(con)
    return path


@pytest.fixture(scope="module")
def snap(graded: Path) -> pd.DataFrame:
    with store.connect(graded, read_only=True) as con:
        return con.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()


@pytest.fixture(scope="module")
def table(graded: Path) -> pd.DataFrame:
    with store.connect(graded, read_only=True) as con:
        return con.execute(f"SELECT * FROM {TABLE} ORDER BY uscc").df()


# --- the scale file ---------------------------------------------------------------------------

TINY = """
name: tiny
version: "t1"
points: 200
grades: [{label: X, zh: 优, en: good, min_score: 150}, {label: Y, zh: 差, en: poor, min_score: 0}]
caps: [{id: cap_court, feature: court_in_force, at_least: 1, grade: Y}]
dimensions:
  - {name: admin, zh: 行政, en: admin, categories: [administration], weight: 0.5, base: 90,
     rules: [{id: gen, feature: pen_general_12m, per_unit: true, points: -40, max_units: 5},
             {id: lic, feature: lic_valid_count, at_least: 1, points: 10}]}
  - {name: tax, zh: 税, en: tax, categories: [evaluation], weight: 0.5, base: 50,
     rules: [{id: grade, feature: tax_grade_latest,
              bands: [{at_least: 5, points: 50}, {at_least: 2, points: 0}, {at_least: 1, points: -50}]}]}
"""


def _tiny(text: str = TINY, suffix: str = ".yaml") -> Scale:
    return check_features(parse_scale(text, suffix, "tiny"))


def _frame(**features: list[float]) -> pd.DataFrame:
    """Snapshot-shaped rows: every registry feature 0 unless given."""
    n = len(next(iter(features.values())))
    frame = pd.DataFrame({name: np.zeros(n) for name in REGISTRY.names})
    for name, values in features.items():
        frame[name] = np.asarray(values, dtype=float)
    return frame


def test_points_follow_the_scale_by_hand() -> None:
    scale = _tiny()
    frame = _frame(
        pen_general_12m=[0, 1, 3, 0],
        lic_valid_count=[1, 0, 1, 2],
        tax_grade_latest=[5, 3, 1, np.nan],
        court_in_force=[0, 0, 0, 1],
    )
    scores = score(frame, scale)
    # admin: clip(90 + -40 x penalties + 10 x licence, 0, 100) x 0.5 x 200 / 100
    admin = [min(100, 90 + 10), 90 - 40, max(0, 90 - 120 + 10), min(100, 90 + 10)]
    tax = [50 + 50, 50 + 0, 50 - 50, 50]  # unrated: no points either way
    expected = [a * 1.0 + t * 1.0 for a, t in zip(admin, tax, strict=True)]
    assert scores.score.tolist() == pytest.approx(expected)
    assert [scale.grades[g].label for g in scores.grade] == ["X", "Y", "Y", "Y"]
    assert scores.points_grade.tolist()[3] == 0  # 150 points earn X; the court listing caps at Y
    assert scores.cap.tolist() == [-1, -1, -1, 0]


def test_rule_points_add_up_to_the_score_even_when_clipped() -> None:
    scale = _tiny()
    frame = _frame(pen_general_12m=[5, 4, 0], lic_valid_count=[1, 1, 1], tax_grade_latest=[1, 5, 5])
    scores = score(frame, scale)
    base = sum(d.base * d.weight * scale.points / 100 for d in scale.dimensions)
    assert (base + scores.rule_points.sum(axis=1)).tolist() == pytest.approx(scores.score.tolist())
    assert scores.dimensions[0, 0] == 0.0  # 90 - 200 + 10 clipped at 0


def test_toml_and_yaml_give_the_same_scale() -> None:
    toml = """
name = "tiny"
version = "t1"
points = 200
caps = [{id = "cap_court", feature = "court_in_force", at_least = 1, grade = "Y"}]
grades = [{label = "X", zh = "优", en = "good", min_score = 150},
          {label = "Y", zh = "差", en = "poor", min_score = 0}]
[[dimensions]]
name = "admin"
zh = "行政"
en = "admin"
categories = ["administration"]
weight = 0.5
base = 90
rules = [{id = "gen", feature = "pen_general_12m", per_unit = true, points = -40, max_units = 5},
         {id = "lic", feature = "lic_valid_count", at_least = 1, points = 10}]
[[dimensions]]
name = "tax"
zh = "税"
en = "tax"
categories = ["evaluation"]
weight = 0.5
base = 50
rules = [{id = "grade", feature = "tax_grade_latest", bands = [{at_least = 5, points = 50},
         {at_least = 2, points = 0}, {at_least = 1, points = -50}]}]
"""
    assert _tiny(toml, ".toml").fingerprint() == _tiny().fingerprint()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("points: -40, max_units: 5", "points: 40, max_units: 5"), "must not rise with the risk"),
        (("feature: lic_valid_count", "feature: tax_paid_cny_12m"), "catalog category"),
        (("feature: lic_valid_count", "feature: no_such_feature"), "no ordered registry"),
        (("feature: lic_valid_count", "feature: reg_industry"), "no ordered registry"),
        (("weight: 0.5, base: 90", "weight: 0.6, base: 90"), "weights must sum to 1"),
        (("grade: Y}]", "grade: Z}]"), "caps: grade must be one of"),
        (("feature: court_in_force", "feature: lic_valid_count"), "no risk-increasing"),
        (("{at_least: 2, points: 0}", "{at_least: 2, points: 60}"), "must not rise"),
    ],
)
def test_bad_scales_are_refused(change: tuple[str, str], message: str) -> None:
    assert change[0] in TINY
    with pytest.raises(InvalidInput, match=message):
        _tiny(TINY.replace(change[0], change[1], 1))


def test_load_scale_reports_one_readable_line(tmp_path: Path) -> None:
    bad = tmp_path / "scale.yaml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(
        InvalidInput, match=r"^scale scale.yaml: invalid YAML at line 1, column \d+: "
    ):
        load_scale(bad)
    with pytest.raises(InvalidInput, match=r"expected a \.yaml"):
        load_scale(tmp_path / "scale.json")


def test_default_scale_reads_each_rule_from_its_dimensions_catalog_categories() -> None:
    for dimension, rule in SCALE.rules:
        assert REGISTRY[rule.feature].category in dimension.categories, rule.id
    assert sum(d.weight for d in SCALE.dimensions) == pytest.approx(1.0)
    assert [g.label for g in SCALE.grades] == ["A", "B", "C", "D"]


# --- the whole snapshot -------------------------------------------------------------------------


def test_every_snapshot_entity_is_graded_once(snap: pd.DataFrame, table: pd.DataFrame) -> None:
    assert table["uscc"].tolist() == snap["uscc"].tolist()
    assert set(table["grade"]) == {"A", "B", "C", "D"}
    assert (table["as_of"].dt.date == AS_OF).all()
    assert (table["scale_fingerprint"] == SCALE.fingerprint()).all()
    assert (table["registry_fingerprint"] == REGISTRY.fingerprint()).all()


def test_grades_follow_the_thresholds_and_caps(table: pd.DataFrame, snap: pd.DataFrame) -> None:
    bounds = {g.label: g.min_score for g in SCALE.grades}
    by_points = table["score"].map(lambda s: next(g for g, b in bounds.items() if s >= b))
    assert (by_points == table["points_grade"]).all()
    order = {g.label: i for i, g in enumerate(SCALE.grades)}
    dishonest, court = snap["dis_in_force"] >= 1, snap["court_in_force"] >= 1
    assert dishonest.any()
    assert court.any()
    assert (table.loc[dishonest, "grade"] == "D").all()
    assert table.loc[court, "grade"].map(order).ge(order["C"]).all()
    uncapped = table["cap"].isna()
    assert (table.loc[uncapped, "grade"] == table.loc[uncapped, "points_grade"]).all()


def test_dimension_points_add_up_and_reasons_are_the_largest(table: pd.DataFrame) -> None:
    dims = [f"pts_{d.name}" for d in SCALE.dimensions]
    assert np.allclose(table[dims].sum(axis=1), table["score"], atol=0.05)
    for reasons in table["reasons"].sample(300, random_state=1):
        items = json.loads(reasons)
        assert len(items) <= SCALE.top_reasons
        points = [abs(r["points"]) for r in items if r["kind"] == "rule"]
        assert points == sorted(points, reverse=True)
        assert all(r["category"] == REGISTRY[r["feature"]].category for r in items)
        assert all(r["zh"] and r["en"] for r in items)


def test_more_adverse_records_never_raise_a_grade(snap: pd.DataFrame) -> None:
    base = score(snap, SCALE)
    for feature, step in [
        ("pen_general_12m", 1),
        ("court_in_force", 1),
        ("si_arrears_months_12m", 2),
        ("abn_in_force", 1),
        ("com_breached_36m", 1),
    ]:
        worse = snap.copy()
        worse[feature] = worse[feature] + step
        after = score(worse, SCALE)
        assert (after.score <= base.score + 1e-9).all(), feature
        assert (after.grade >= base.grade).all(), feature
        assert (after.score < base.score).any(), feature


def test_single_entity_equals_its_row(graded: Path, table: pd.DataFrame) -> None:
    with store.connect(graded, read_only=True) as con:
        for _, row in table.sample(12, random_state=4).iterrows():
            one = evaluate_one(con, row["uscc"].lower())
            assert (one.grade, one.score, one.cap) == (
                row["grade"],
                row["score"],
                None if pd.isna(row["cap"]) else row["cap"],
            )
            assert one.reasons == json.loads(row["reasons"])
            assert stored_evaluation(con, row["uscc"]).to_dict() == one.to_dict()


def test_unknown_entity_and_missing_snapshot(graded: Path, tmp_path: Path) -> None:
    with store.connect(graded, read_only=True) as con, pytest.raises(UnknownEntity):
        evaluate_one(con, "91350100M000100Y43")
    empty = tmp_path / "empty.duckdb"
    store.create(empty)
    with store.connect(empty) as con, pytest.raises(StoreError, match="no feature snapshot"):
        evaluate(con)


def test_export_for_departments(graded: Path, table: pd.DataFrame, tmp_path: Path) -> None:
    with store.connect(graded, read_only=True) as con:
        csv, parquet = export(con, tmp_path / "out")
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens the Chinese text
    from_csv, from_parquet = pd.read_csv(csv, encoding="utf-8-sig"), pd.read_parquet(parquet)
    assert from_csv["uscc"].tolist() == table["uscc"].tolist() == from_parquet["uscc"].tolist()
    assert from_parquet["name"].notna().all()
    assert (from_parquet["grade"] == table["grade"]).all()
    assert {"entity_type", "division", "reasons_zh", "reasons_en"} <= set(from_parquet.columns)


# --- grades follow the data ---------------------------------------------------------------------


@pytest.fixture
def mutable(graded: Path, tmp_path: Path) -> Path:
    path = tmp_path / "platform.duckdb"
    shutil.copy(graded, path)
    return path


def _healthy(con: store.Connection) -> str:
    """An active entity graded A with no adverse record in force."""
    rows = con.execute(
        f"SELECT e.uscc FROM {TABLE} e JOIN {snapshot.TABLE} s USING (uscc) WHERE e.grade = 'A' "
        "AND e.status = 'active' AND s.court_in_force = 0 AND s.pen_serious_36m = 0 ORDER BY 1 LIMIT 1"
    ).fetchall()
    return str(rows[0][0])


def _add(con: store.Connection, table: schema.Table, **values: Any) -> None:
    store.append(con, table, pd.DataFrame([values]))


COURT = {"record_id": "CD-TEST-1", "version": 1, "retracted": False, "court": "汕尾市城区人民法院",
         "case_no": "(2025)粤1502执999号", "filing_date": dt.date(2025, 9, 1),
         "publish_date": dt.date(2025, 10, 15), "obligation_cny": 250_000.0, "performance": "none",
         "removed_date": None, "ingest_date": dt.date(2025, 10, 16)}  # fmt: skip
PENALTY = {"record_id": "PE-TEST-1", "version": 1, "retracted": False, "decision_no": "汕环罚〔2025〕9号",
           "decision_date": dt.date(2025, 8, 1), "penalty_type": "suspension", "severity": "serious",
           "domain": "environment", "fine_cny": 200_000.0, "confiscation_cny": 0.0,
           "authority": "汕尾市生态环境局", "publicity_end": dt.date(2028, 8, 1), "repair_date": None,
           "ingest_date": dt.date(2025, 8, 3)}  # fmt: skip


def _state(con: store.Connection, code: str) -> tuple[str, float, str]:
    rows = con.execute(
        f"SELECT grade, score, reasons FROM {TABLE} WHERE uscc = ?", [code]
    ).fetchall()
    assert len(rows) == 1
    return str(rows[0][0]), float(rows[0][1]), str(rows[0][2])


@pytest.mark.parametrize(
    ("table", "record", "repair", "ceiling", "long_lived"),
    [
        (
            schema.COURT_DEBTORS,
            COURT,
            {"removed_date": dt.date(2025, 12, 1), "performance": "all"},
            "C",
            False,
        ),
        (schema.PENALTIES, PENALTY, {"repair_date": dt.date(2025, 12, 1)}, "B", True),
    ],
)
def test_new_record_lowers_the_grade_and_repair_restores_it(
    mutable: Path,
    table: schema.Table,
    record: dict[str, Any],
    repair: dict[str, Any],
    ceiling: str,
    long_lived: bool,
) -> None:
    with store.connect(mutable) as con:
        refresher = snapshot.Refresher(con) if long_lived else None
        code = _healthy(con)
        grade, points, _ = _state(con, code)
        others = con.execute(
            f"SELECT uscc, grade, score FROM {TABLE} WHERE uscc <> ? ORDER BY 1", [code]
        ).df()
        _add(con, table, uscc=code, **record)
        run = reevaluate(con, [code], refresher=refresher)
        assert run.entities == 1
        low_grade, low_points, reasons = _state(con, code)
        assert low_points < points
        assert low_grade > grade  # letters: later is worse
        assert low_grade >= ceiling
        assert any(
            r["feature"] in {"court_in_force", "pen_serious_36m"} for r in json.loads(reasons)
        )
        _add(
            con,
            table,
            uscc=code,
            **(record | repair | {"version": 2, "ingest_date": dt.date(2025, 12, 2)}),
        )
        reevaluate(con, [code], refresher=refresher)
        assert _state(con, code)[:2] == (grade, points)
        after = con.execute(
            f"SELECT uscc, grade, score FROM {TABLE} WHERE uscc <> ? ORDER BY 1", [code]
        ).df()
        if refresher is not None:
            refresher.close()
    pd.testing.assert_frame_equal(after, others)


def test_record_ingested_after_the_snapshot_day_changes_nothing(mutable: Path) -> None:
    with store.connect(mutable) as con:
        code = _healthy(con)
        before = _state(con, code)
        _add(
            con,
            schema.COURT_DEBTORS,
            uscc=code,
            **(COURT | {"ingest_date": AS_OF + dt.timedelta(days=1)}),
        )
        reevaluate(con, [code])
        assert _state(con, code) == before


def test_regrading_under_another_scale_regrades_everyone(mutable: Path) -> None:
    other = SCALE.model_copy(update={"version": "other"})
    with store.connect(mutable) as con:
        run = evaluate(con, [_healthy(con)], other)
        versions = con.execute(f"SELECT DISTINCT scale_version FROM {TABLE}").fetchall()
    assert run.rebuilt
    assert run.entities > 1000
    assert versions == [("other",)]


def test_top_reasons_lists_caps_first() -> None:
    frame = _frame(court_in_force=[1, 0], pen_general_12m=[2, 0], reg_age_months=[200, 200])
    scores = score(frame, SCALE)
    long = top_reasons(scores, 3)
    first = long[(long["row"] == 0) & (long["rank"] == 0)]
    assert first["item"].tolist() == [[c.id for c in SCALE.caps].index("cap_court_debtor")]
    assert long.groupby("row")["rank"].max().max() <= 2


def test_grades_rank_the_hidden_true_risk(graded: Path) -> None:
    """On the synthetic platform, mean true 12-month PD (never read by any feature) rises A to D."""
    with store.connect(graded, read_only=True) as con:
        rows = con.execute(
            f"SELECT e.grade, avg(t.pd_12m) FROM {TABLE} e JOIN truth_monthly t ON t.uscc = e.uscc "
            "AND t.month = date_trunc('month', e.as_of) WHERE e.status = 'active' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert [g for g, _ in rows] == ["A", "B", "C", "D"]
    pds = [pd_ for _, pd_ in rows]
    assert pds == sorted(pds)
    assert pds[-1] > 3 * pds[0]


def test_the_documented_scale_is_the_shipped_one() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "evaluation.md").read_text(encoding="utf-8")
    for dimension in SCALE.dimensions:
        [row] = [line for line in docs.splitlines() if line.startswith(f"| `{dimension.name}`")]
        assert f"| {dimension.weight:.2f} | {dimension.base:g} |" in row, dimension.name
        assert all(f"`{rule.id}`" in row for rule in dimension.rules), dimension.name
    for cap in SCALE.caps:
        assert f"| `{cap.id}` | `{cap.feature}` ≥ {cap.at_least:g} | {cap.grade} |" in docs
    for grade in SCALE.grades:
        assert f"| {grade.label} | {grade.zh} {grade.en} | {grade.min_score:g} |" in docs
    base = sum(d.base * d.weight * SCALE.points / 100 for d in SCALE.dimensions)
    assert f"= {base:g}, grade" in docs


def test_leading_reason_per_grade(graded: Path, table: pd.DataFrame) -> None:
    firsts = table.assign(
        first=[(json.loads(r) or [{"zh": None}])[0]["zh"] for r in table["reasons"]]
    )
    with store.connect(graded, read_only=True) as con:
        leading = leading_reasons(con)
    for grade, rows in firsts.groupby("grade"):
        counts = rows["first"].value_counts()
        zh, _, share = leading[str(grade)]
        assert counts[zh] == counts.max()
        assert share == pytest.approx(counts.max() / len(rows))
