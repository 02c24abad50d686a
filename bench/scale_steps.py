"""The stages `bench_scale.py` measures, each run in its own child process at one size.

Each takes the number of entities and the bench directory and returns its own figures (JSON):
the parent measures wall and CPU seconds and the process tree's peak memory around it. Inputs
a stage needs are built by the stages before it in `STEPS` order (the store by `generate`, the
snapshot by `features_duckdb`, the frame by `train_single`) and reused from `<dir>/<N>/`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

AS_OF = dt.date(2025, 12, 31)
SEED = 42
TRAIN_SHARE = 0.3  # entities sampled per observation date: 6,000 of 20,000, as `precredit train`
SPARK_WARM_MAX = 300_000  # a second (warm) Spark run up to this size; beyond, one run


def _paths(size: int, directory: Path) -> dict[str, Path]:
    root = directory / str(size)
    return {
        "root": root,
        "store": root / "platform.duckdb",
        "files": root / "files",
        "frame": root / "frame.parquet",
        "home": directory / "home",
    }


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args)
    return result, round(time.perf_counter() - started, 2)


def _cpu() -> float:
    """CPU seconds of this process and, when one runs, the local Spark JVM."""
    from pyspark import SparkContext

    own = time.process_time()
    gateway = SparkContext._gateway
    if gateway is None:
        return own
    fields = Path(f"/proc/{gateway.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """The result, wall seconds and CPU seconds (this process and the Spark JVM) of one call."""
    before = _cpu()
    result, seconds = _timed(fn, *args)
    return result, seconds, round(_cpu() - before, 2)


def _need(path: Path, step: str) -> Path:
    if not path.exists():
        raise SystemExit(f"bench_scale: {path} is missing: measure `{step}` at this size first")
    return path


def generate(size: int, directory: Path) -> dict[str, Any]:
    """The synthetic platform (seed 42) and its Parquet export."""
    from catalog import ingest
    from synthetic.config import SynthConfig
    from synthetic.generate import generate as make

    paths = _paths(size, directory)
    paths["root"].mkdir(parents=True, exist_ok=True)
    summary, seconds = _timed(make, paths["store"], SynthConfig(entities=size, seed=SEED))
    shutil.rmtree(paths["files"], ignore_errors=True)
    with duckdb.connect(str(paths["store"]), read_only=True) as con:
        _, export_s = _timed(ingest.export_dir, con, paths["files"], "parquet")
    return {
        "generate_seconds": seconds,
        "export_seconds": export_s,
        "rows_total": sum(summary.rows.values()),
        "store_mib": round(paths["store"].stat().st_size / 2**20, 1),
        "parquet_mib": round(sum(p.stat().st_size for p in paths["files"].iterdir()) / 2**20, 1),
    }


def features_duckdb(size: int, directory: Path) -> dict[str, Any]:
    """Every entity's features as of AS_OF over the Parquet files; then the store's snapshot."""
    from features import snapshot
    from features.compute import compute
    from features.platform_files import duckdb_views

    paths = _paths(size, directory)
    with duckdb_views(_need(paths["files"], "generate")) as con:
        codes = snapshot._codes(con, None)
        pairs = pd.DataFrame({"uscc": codes, "as_of": AS_OF})
        frame, seconds, cpu = _cpu_timed(compute, con, pairs)
    with duckdb.connect(str(paths["store"])) as con:  # the offers stages read the snapshot
        _, snapshot_s = _timed(snapshot.build, con, AS_OF)
    return {"rows": len(frame), "seconds": seconds, "cpu": cpu, "snapshot_seconds": snapshot_s}


def features_spark(size: int, directory: Path) -> dict[str, Any]:
    """The same features on Spark (local[2]): session start, first run, warm run (<= 300k)."""
    from features import spark

    files = _need(_paths(size, directory)["files"], "generate")
    session, start_s, start_cpu = _cpu_timed(spark.session)
    try:
        frame, first_s, first_cpu = _cpu_timed(spark.compute, session, files, AS_OF)
        warm_s = warm_cpu = None
        if size <= SPARK_WARM_MAX:
            _, warm_s, warm_cpu = _cpu_timed(spark.compute, session, files, AS_OF)
    finally:
        session.stop()
    return {
        "rows": len(frame),
        "session_start_seconds": start_s,
        "first_seconds": first_s,
        "warm_seconds": warm_s,
        "cpu": {"session_start": start_cpu, "first": first_cpu, "warm": warm_cpu},
    }


def _home(directory: Path) -> Path:
    """The demo home with a registered, promoted platform model (built once, 20,000 entities)."""
    import bench_offers

    home = _paths(0, directory)["home"]
    if not (home / "mlflow.db").is_file():
        shutil.rmtree(home, ignore_errors=True)
        built, _ = bench_offers._demo_home(directory)
        if built != home:
            built.rename(home)
    return home


def _models(home: Path, scratch: Path) -> Any:
    from serving.config import Settings
    from serving.decision.model_store import ModelHolder

    settings = Settings(home=home)
    return ModelHolder(settings.mlflow_uri, settings.artifact_root, scratch / "models")


def offers_single(size: int, directory: Path) -> dict[str, Any]:
    """Offers with top-5 reasons for every entity (one machine, SQLite, events on), first run."""
    import bench_offers

    store = _need(_paths(size, directory)["store"], "features_duckdb")
    home = _home(directory)
    with tempfile.TemporaryDirectory(prefix="precredit-scale-") as tmp:
        scratch = Path(tmp)
        models = _models(home, scratch)
        sessions, tenant = bench_offers._service(None, scratch, True)
        con = bench_offers._snapshot(store, None)
        started = time.perf_counter()
        run = bench_offers._timed_run(sessions, models, con, tenant, scratch / "exports")
        run["run_seconds"] = round(time.perf_counter() - started, 2)
    return run


def offers_spark(size: int, directory: Path) -> dict[str, Any]:
    """The same offers on Spark (features on Spark, decisions in mapInPandas), one run."""
    import bench_offers

    from features import spark
    from serving.offer.run import OfferOptions
    from serving.offer.spark import SparkInputs, SparkSources, run_offers_spark

    files = _need(_paths(size, directory)["files"], "generate")
    home = _home(directory)
    with tempfile.TemporaryDirectory(prefix="precredit-scale-") as tmp:
        scratch = Path(tmp)
        models = _models(home, scratch)
        sessions, tenant = bench_offers._service(None, scratch, False)
        session, start_s = _timed(spark.session)
        try:
            sources = SparkSources(sessions, models, session)
            options = OfferOptions(out_dir=scratch / "exports")
            run, seconds = _timed(
                run_offers_spark, sources, tenant, SparkInputs(files, AS_OF), options
            )
            summary = bench_offers._summary(run, seconds)  # reads the exports: before cleanup
        finally:
            session.stop()
    return summary | {"session_start_seconds": start_s, "run_seconds": seconds}


def _frame(size: int, directory: Path) -> tuple[pd.DataFrame, float | None]:
    """The cold-start training frame (per date: 30% of the entities), built once per size."""
    from catalog import store
    from training.pipeline import PipelineConfig, build_frame

    paths = _paths(size, directory)
    if paths["frame"].is_file():
        return pd.read_parquet(paths["frame"]), None
    per_date = max(1, round(TRAIN_SHARE * size))
    config = PipelineConfig(
        paths["store"], "sqlite:///unused.db", Path("unused"), per_date=per_date
    )
    with store.connect(_need(paths["store"], "generate"), read_only=True) as con:
        frame, seconds = _timed(build_frame, con, "platform", "platform", config)
    frame.to_parquet(paths["frame"])
    return frame, seconds


def _train(size: int, directory: Path, dask: bool) -> dict[str, Any]:
    """One `PreapprovalModel.fit` on the out-of-time split, in this process or on 2 Dask workers."""
    import bench_train_dask

    from models.boosting import Boosting
    from training.dask_engine import DaskEngine, local_cluster
    from training.dataset import time_split

    frame, frame_s = _frame(size, directory)
    splits = time_split(frame)
    out: dict[str, Any] = {"rows": len(frame), "frame_seconds": frame_s}
    if not dask:
        seconds, model = bench_train_dask._fit(splits, None)
        return out | {"fit_seconds": round(seconds, 2)} | _quality(model, splits)
    started = time.perf_counter()
    with local_cluster(2, seed=SEED) as client:
        out["cluster_start_seconds"] = round(time.perf_counter() - started, 2)
        seconds, model = bench_train_dask._fit(splits, Boosting(engine=DaskEngine(client)))
    return out | {"fit_seconds": round(seconds, 2), "workers": 2} | _quality(model, splits)


def _quality(model: Any, splits: dict[str, pd.DataFrame]) -> dict[str, Any]:
    from training import metrics

    test = splits["test"]
    auc = metrics.auc(test["label"].to_numpy(), model.predict_proba(test))
    return {"auc": round(auc, 5), "best_iteration": model.classifier_.best_iteration_}


def train_single(size: int, directory: Path) -> dict[str, Any]:
    """Training in one process (LightGBM, 2 threads)."""
    return _train(size, directory, dask=False)


def train_dask(size: int, directory: Path) -> dict[str, Any]:
    """Training on a local Dask cluster of 2 worker processes."""
    return _train(size, directory, dask=True)


STEPS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "generate": generate,
    "features_duckdb": features_duckdb,
    "features_spark": features_spark,
    "offers_single": offers_single,
    "offers_spark": offers_spark,
    "train_single": train_single,
    "train_dask": train_dask,
}
