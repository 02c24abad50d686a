"""Point-in-time features on Apache Spark: the same query as DuckDB, over Parquet platform tables.

`session()` builds a local Spark session with deterministic settings (UTC, ANSI SQL, few
shuffle partitions, loopback only, quiet logs); `compute()` registers the platform's Parquet
tables (`precredit platform export --format parquet`) and runs the transpiled registry query
(`features.spark_sql`). The result has the columns, order and dtypes of
`features.compute.compute`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from catalog.errors import PrecreditError
from features.compute import finish, numbered_pairs
from features.definitions import REGISTRY
from features.platform_files import parquet_tables
from features.registry import Registry
from features.spark_sql import compile_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
PYSPARK_MODULES = r"pyspark\."  # its pandas-3 notices; we convert only doubles, text and dates
PAIRS_SCHEMA = "pair_id BIGINT, uscc STRING, as_of DATE"


class EngineUnavailable(PrecreditError):
    """The Spark engine cannot start here: no Java runtime, or pyspark not installed."""

    http_status = 503
    code = "spark_unavailable"


def java() -> str | None:
    """The `java` executable Spark will launch (JAVA_HOME first, then PATH), if any."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _conf(cores: int, memory: str, scratch: Path) -> dict[str, str]:
    return {
        "spark.master": f"local[{cores}]",
        "spark.app.name": "precredit-features",
        "spark.driver.memory": memory,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "true",
        "spark.sql.shuffle.partitions": str(2 * cores),
        "spark.sql.adaptive.enabled": "true",
        # the one large query generates more classes than the default cache of 100 holds, so
        # every run compiled them again (warm 20,000-entity runs: 30-35 CPU s, 22-26 with this)
        "spark.sql.codegen.cache.maxEntries": "4000",
        # one machine: shuffle and spill files stay on the local disk, compressing them is waste
        "spark.shuffle.compress": "false",
        "spark.shuffle.spill.compress": "false",
        "spark.locality.wait": "0s",  # every task is local here: never wait for a better slot
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.local.dir": str(scratch / "local"),
    }


def _session_class() -> type[SparkSession]:
    if java() is None:
        raise EngineUnavailable(
            "the Spark engine needs a Java runtime (JDK 17 or later): install one "
            "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailable(
            "the Spark engine needs pyspark: pip install 'precredit[spark]'"
        ) from None
    return SparkSession


def session(cores: int = 2, memory: str = "4g") -> SparkSession:
    """A local Spark session (`local[cores]`) bound to 127.0.0.1; reuses a running one."""
    builder = _session_class().builder
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import precredit's packages
    scratch = Path(tempfile.gettempdir()) / "precredit-spark"  # Spark adds unique subfolders
    for key, value in _conf(cores, memory, scratch).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=PYSPARK_MODULES)
        return builder.getOrCreate()


@contextmanager
def running(cores: int = 2, memory: str = "4g") -> Iterator[SparkSession]:
    """A session for one job: stopped afterwards unless it was already running (tests share one)."""
    already = _session_class().getActiveSession()
    spark = session(cores, memory)
    try:
        yield spark
    finally:
        if already is None:
            spark.stop()


def register_platform(spark: SparkSession, directory: Path, registry: Registry = REGISTRY) -> None:
    """Temp views over `<directory>/<table>.parquet` for every table the registry reads."""
    for table, path in parquet_tables(directory, registry).items():
        spark.read.parquet(str(path)).createOrReplaceTempView(table)


def _stage_pairs(spark: SparkSession, as_of: dt.date, codes: Sequence[str] | None) -> None:
    """The `pairs` view: the listed entities, or every registered one (sorted by code)."""
    if codes is None:
        numbered = spark.sql(
            "SELECT CAST(row_number() OVER (ORDER BY uscc) - 1 AS BIGINT) AS pair_id, uscc, "
            f"DATE '{as_of.isoformat()}' AS as_of FROM (SELECT DISTINCT uscc FROM entities)"
        )  # computed once, not once per source table that joins it
        numbered.localCheckpoint(eager=True).createOrReplaceTempView("pairs")
        return
    frame = numbered_pairs(pd.DataFrame({"uscc": list(codes), "as_of": as_of}))
    rows = list(zip(frame["pair_id"].tolist(), frame["uscc"], frame["as_of"], strict=True))
    spark.createDataFrame(rows, schema=PAIRS_SCHEMA).createOrReplaceTempView("pairs")


def query(
    spark: SparkSession,
    directory: Path,
    as_of: dt.date,
    codes: Sequence[str] | None = None,
    registry: Registry = REGISTRY,
) -> DataFrame:
    """The point-in-time query over `directory` as a Spark DataFrame (pair_id, uscc, as_of, ...)."""
    register_platform(spark, directory, registry)
    _stage_pairs(spark, as_of, codes)
    return spark.sql(compile_spark(registry))


def compute(
    spark: SparkSession,
    directory: Path,
    as_of: dt.date,
    codes: Sequence[str] | None = None,
    registry: Registry = REGISTRY,
) -> pd.DataFrame:
    """Features of every entity in `directory` (or of `codes`) as of one day, like DuckDB's."""
    frame = query(spark, directory, as_of, codes, registry)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=PYSPARK_MODULES)
        out = frame.toPandas()
    return finish(out, registry)
