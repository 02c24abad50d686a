"""The Spark feature engine equals DuckDB on every feature and row, visibility rules included.

One generated platform (seed 11) plus hand-made entities, each holding one record that counts
on AS_OF and one that sits just past a visibility boundary (repair day, publicity end,
retraction, correction, ingest date), is exported to Parquet; `features build` runs on DuckDB
(the store) and on Spark (the Parquet files), and the two files are compared.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from catalog import schema, store
from catalog.errors import InvalidInput
from catalog.uscc import build
from features import spark
from features.compute import compute
from features.definitions import REGISTRY
from features.spark_sql import compile_spark, transpile
from precredit.cli import app
from precredit.cli.errors import run_guarded
from synthetic.config import SynthConfig
from synthetic.generate import generate

runner = CliRunner()
AS_OF = dt.date(2025, 12, 15)
NEXT = AS_OF + dt.timedelta(days=1)
DECIDED = dt.date(2025, 6, 2)
# Floats the engines compute with different libraries: ln() in the JVM and in C differ by an
# ulp now and then. Every other feature, float ratios included, is equal bit for bit.
LIBM_FLOATS = {"reg_capital_log_cny": 1e-15}
COUNTED, HIDDEN = 1111.5, 2222.25  # fines of the record that counts and of the one that does not


def _code(n: int) -> str:
    return build("9", "1", "441581", f"MB{n:06d}")


def _entity(code: str, founded: dt.date = dt.date(2015, 3, 1)) -> dict[str, object]:
    return {
        "uscc": code, "version": 1, "name": "边界测试有限公司", "entity_type": "enterprise",
        "division": "441581", "industry": "C", "founded_date": founded,
        "registered_capital_cny": 2e6, "deregistered_date": None, "ingest_date": founded,
    }  # fmt: skip


def _penalty(code: str, record: str, fine: float, **changes: object) -> dict[str, object]:
    return {
        "record_id": record, "version": 1, "retracted": False, "uscc": code,
        "decision_no": f"汕罚〔2025〕{record}号", "decision_date": DECIDED,
        "penalty_type": "fine", "severity": "general", "domain": "market", "fine_cny": fine,
        "confiscation_cny": 0.0, "authority": "陆丰市市场监督管理局",
        "publicity_end": dt.date(2026, 6, 2), "repair_date": None,
        "ingest_date": DECIDED + dt.timedelta(days=2),
    } | changes  # fmt: skip


def _cases() -> dict[str, list[dict[str, object]]]:
    """Per case: penalties of one entity; the record worth COUNTED is the one visible on AS_OF."""
    late = {"ingest_date": NEXT}
    return {
        "repaired": [
            _penalty(_code(1), "R1", HIDDEN, repair_date=AS_OF),
            _penalty(_code(1), "R2", COUNTED, repair_date=NEXT),
        ],
        "expired": [
            _penalty(_code(2), "E1", HIDDEN, publicity_end=AS_OF),
            _penalty(_code(2), "E2", COUNTED, publicity_end=NEXT),
        ],
        "retracted": [
            _penalty(_code(3), "T1", HIDDEN),
            _penalty(_code(3), "T1", HIDDEN, version=2, retracted=True, ingest_date=AS_OF),
            _penalty(_code(3), "T2", COUNTED),
            _penalty(_code(3), "T2", COUNTED, version=2, retracted=True, **late),
        ],
        "corrected": [
            _penalty(_code(4), "C1", HIDDEN),
            _penalty(_code(4), "C1", COUNTED, version=2, ingest_date=AS_OF),
            _penalty(_code(4), "C1", HIDDEN * 3, version=3, **late),
        ],
        "ingested_late": [
            _penalty(_code(5), "L1", HIDDEN, **late),
            _penalty(_code(5), "L2", COUNTED, ingest_date=AS_OF),
        ],
    }


def _add_cases(path: Path) -> None:
    cases = _cases()
    entities = [_entity(_code(n)) for n in range(1, len(cases) + 1)]
    entities.append(_entity(_code(9), founded=dt.date(2025, 11, 20)))  # one month boundary
    with store.connect(path) as con:
        store.append(con, schema.ENTITIES, pd.DataFrame(entities))
        rows = [row for case in cases.values() for row in case]
        store.append(con, schema.PENALTIES, pd.DataFrame(rows))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated store with the boundary cases, and its Parquet export."""
    root = tmp_path_factory.mktemp("spark-platform")
    path, files = root / "platform.duckdb", root / "files"
    generate(path, SynthConfig(entities=600, seed=11))
    _add_cases(path)
    result = runner.invoke(
        app, ["platform", "export", "--store", str(path), "--to", str(files), "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    return path, files


def _build(out: Path, *args: str) -> Path:
    result = runner.invoke(
        app, ["features", "build", "--as-of", AS_OF.isoformat(), "--out", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def builds(
    platform: tuple[Path, Path], spark_session: object, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The same build on DuckDB (store), DuckDB (Parquet files) and Spark (Parquet files)."""
    path, files = platform
    out = tmp_path_factory.mktemp("spark-builds")
    return {
        "duckdb": _build(out / "duckdb.parquet", "--store", str(path)),
        "duckdb_files": _build(out / "duckdb_files.parquet", "--from", str(files)),
        "spark": _build(out / "spark.parquet", "--engine", "spark", "--from", str(files)),
    }


def _mismatches(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, int]:
    """Features whose values differ (beyond the libm tolerance), with how many rows differ."""
    out: dict[str, int] = {}
    for name in REGISTRY.names:
        a, b = left[name].to_numpy(), right[name].to_numpy()
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if name in LIBM_FLOATS:
            close = np.isclose(a, b, rtol=LIBM_FLOATS[name], atol=0.0)
            same |= close & (np.isnan(a) == np.isnan(b))
        if not same.all():
            out[name] = int((~same).sum())
    return out


@pytest.mark.spark
def test_spark_writes_the_same_columns_and_types(builds: dict[str, Path]) -> None:
    duck, sparked = pq.read_schema(builds["duckdb"]), pq.read_schema(builds["spark"])
    assert duck.names == ["uscc", "as_of", *REGISTRY.names]
    assert sparked.names == duck.names
    assert [str(t) for t in sparked.types] == [str(t) for t in duck.types]


@pytest.mark.spark
def test_spark_equals_duckdb_on_every_feature_and_row(builds: dict[str, Path]) -> None:
    duck, sparked = pd.read_parquet(builds["duckdb"]), pd.read_parquet(builds["spark"])
    assert len(duck) > 600
    assert sparked["uscc"].tolist() == duck["uscc"].tolist()
    assert (sparked["as_of"] == duck["as_of"]).all()
    assert _mismatches(duck, sparked) == {}
    informative = [n for n in REGISTRY.names if duck[n].nunique() > 1]
    assert len(informative) > 60  # the platform exercises (nearly) every feature


@pytest.mark.spark
def test_money_and_counts_are_exact_not_close(builds: dict[str, Path]) -> None:
    duck, sparked = pd.read_parquet(builds["duckdb"]), pd.read_parquet(builds["spark"])
    for name in ("pen_fines_cny_36m", "tax_paid_cny_24m", "court_unperformed_cny"):
        assert duck[name].sum() > 0
        assert duck[name].to_numpy().tobytes() == sparked[name].to_numpy().tobytes(), name


@pytest.mark.spark
def test_visibility_boundaries_hold_on_spark(builds: dict[str, Path]) -> None:
    frame = pd.read_parquet(builds["spark"]).set_index("uscc")
    for n, case in enumerate(_cases(), start=1):
        row = frame.loc[_code(n)]
        assert row["pen_count_12m"] == 1, case
        assert row["pen_fines_cny_12m"] == COUNTED, case
    assert frame.loc[_code(9), "reg_age_months"] == 1  # calendar months, not whole months


@pytest.mark.spark
def test_duckdb_reads_the_parquet_files_like_the_store(builds: dict[str, Path]) -> None:
    duck, files = pd.read_parquet(builds["duckdb"]), pd.read_parquet(builds["duckdb_files"])
    pd.testing.assert_frame_equal(duck, files)


def test_the_spark_query_counts_month_boundaries_like_duckdb() -> None:
    query = compile_spark(REGISTRY)
    assert "DATEDIFF(MONTH" not in query.upper()
    assert "(YEAR(p.as_of) * 12 + MONTH(p.as_of))" in query
    rewritten = transpile("SELECT date_diff('month', a, b) AS m FROM t")
    assert rewritten == "SELECT ((YEAR(b) * 12 + MONTH(b)) - (YEAR(a) * 12 + MONTH(a))) AS m FROM t"


def test_spark_without_files_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["features", "build", "--as-of", "2025-12-15", "--engine", "spark", "--out", "x.pq"]
    )
    assert isinstance(result.exception, InvalidInput)
    assert "--from DIR" in result.exception.message


def test_a_directory_missing_a_table_is_refused_before_spark_starts(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    pd.DataFrame({"uscc": ["X"]}).to_parquet(tmp_path / "files" / "entities.parquet")
    args = ["--as-of", "2025-12-15", "--engine", "spark", "--from", str(tmp_path / "files")]
    result = runner.invoke(app, ["features", "build", *args, "--out", "x.parquet"])
    assert isinstance(result.exception, InvalidInput)
    assert "has no abnormal_operations.parquet (13 table(s) missing)" in result.exception.message


def test_no_java_ends_the_command_with_exit_3_and_one_line(
    platform: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert spark.java() is None
    with pytest.raises(spark.EngineUnavailable, match="Java runtime"):
        spark.session()
    args = ["--as-of", "2025-12-15", "--engine", "spark", "--from", str(platform[1])]
    argv = ["precredit", "features", "build", *args, "--out", str(tmp_path / "x.parquet")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    assert caught.value.code == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "precredit: error [spark_unavailable]: the Spark engine needs a Java"
    )
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.spark
def test_listed_entities_match_duckdb_in_their_order(
    platform: tuple[Path, Path], spark_session: object
) -> None:
    path, files = platform
    codes = [_code(4), _code(1).lower(), "91440000UNKNOWN01", _code(9)]
    with store.connect(path, read_only=True) as con:
        duck = compute(con, pd.DataFrame({"uscc": codes, "as_of": AS_OF}), narrow=False)
    sparked = spark.compute(spark_session, files, AS_OF, codes)  # type: ignore[arg-type]
    assert sparked["uscc"].tolist() == [_code(4), _code(1), "91440000UNKNOWN01", _code(9)]
    assert sparked["uscc"].tolist() == duck["uscc"].tolist()
    assert _mismatches(duck, sparked) == {}
    assert np.isnan(sparked["reg_age_months"].iloc[2])  # unknown entity: no registration
