"""Offers on Apache Spark: features from Spark, decisions in `mapInPandas`, the same offers.

`run_offers_spark` is `serving.offer.run.run_offers` with its two heavy stages on Spark:

1. the point-in-time features of every entity as of one day, from the platform's Parquet files
   (`features.spark.query`, the query `features build --engine spark` runs);
2. the decisions, in `mapInPandas` on Spark's Python workers, with the one decision path: each
   partition goes through `serving.offer.incremental.score_frame` (consent, carry-over of
   unchanged entities, `models.batch.preapprove_batch`), and leaves as the snapshot's rows plus
   each row's decision (`models.batch.to_frame`), written to Parquet in a scratch directory.

The driver reads the decided rows back file by file (`models.batch.from_frame`) and writes
offers, events, state and exports exactly as the single-machine run (`apply_steps`); the few
revocations that need a declined row's reasons explain it there, with the same code.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from features import spark as spark_features
from models.batch import batch_columns, from_frame, to_frame
from models.preapproval import PreapprovalModel
from serving.decision.model_store import ModelHolder
from serving.offer.incremental import Carried, LastRun, Step, score_frame
from serving.offer.run import OfferOptions, OfferRun, apply_steps, start

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

STEP = "offer_step"  # per row: scored, carried (unchanged since the last run) or outside consent
SPARK_TYPES = {"str": "string", "float": "double", "int": "bigint", "bool": "boolean"}


@dataclass(frozen=True)
class SparkSources:
    """What a Spark run reads and writes: the service database, the models, a Spark session."""

    sessions: sessionmaker[Session]
    models: ModelHolder
    spark: SparkSession


@dataclass(frozen=True)
class SparkInputs:
    """The platform's Parquet files (`platform export --format parquet`) and the as-of day."""

    directory: Path
    as_of: dt.date


def run_offers_spark(
    sources: SparkSources,
    tenant_id: str,
    inputs: SparkInputs,
    options: OfferOptions = OfferOptions(),
) -> OfferRun:
    """Offers for every entity of the Parquet platform as of `inputs.as_of`, decided on Spark."""
    started = time.perf_counter()
    ctx = start(sources.sessions, sources.models, tenant_id, options)
    last = ctx.last_run(options.full)
    with tempfile.TemporaryDirectory(prefix="precredit-offers-") as scratch:
        decided = Path(scratch) / "decided"
        frame = spark_features.query(sources.spark, inputs.directory, inputs.as_of)
        decide_on_spark(frame, ctx.served.model, ctx.codes(), last).write.parquet(str(decided))
        steps = read_steps(decided, ctx.served.model, last)
        return apply_steps(ctx, steps, options.out_dir, started, last)


def decide_on_spark(
    features: DataFrame,
    model: PreapprovalModel,
    consented: Collection[str] | None,
    last: LastRun | None,
) -> DataFrame:
    """Every feature row with its decision (`models.batch.to_frame` columns plus `STEP`)."""
    rows = features.drop("pair_id")
    return rows.mapInPandas(_decide(model, consented, last), _schema(rows.schema, model.top_n))


def _schema(snapshot: StructType, top_n: int) -> StructType:
    from pyspark.sql.types import StructType

    added = ", ".join(f"{name} {SPARK_TYPES[kind]}" for name, kind in batch_columns(top_n))
    extra = StructType.fromDDL(f"{added}, {STEP} string")
    if not isinstance(extra, StructType):
        raise TypeError("the decision columns must parse as a struct")
    return StructType(list(snapshot.fields) + list(extra.fields))


def _decide(
    model: PreapprovalModel, consented: Collection[str] | None, last: LastRun | None
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The function each Python worker runs over its partition's frames."""

    def decide(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for whole in frames:
            yield encode(score_frame(model, whole, consented, last), whole, model.top_n)

    return decide


def encode(step: Step, whole: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """A step as rows: the scored with their decisions, the others with only their `STEP`."""
    scored = to_frame(step.batch).assign(**{STEP: "scored"}) if step.batch else None
    done = set(scored["uscc"]) if scored is not None else set()
    carried = set(step.carried.codes)
    rest = whole[~whole["uscc"].isin(done)].reset_index(drop=True)
    blank: dict[str, str | float | bool] = {
        "str": "",
        "float": float("nan"),
        "int": 0,
        "bool": False,
    }
    # One frame of blank columns joined at once: a column at a time fragments the frame
    # (pandas' PerformanceWarning at ~100 columns).
    blanks: dict[str, object] = {name: blank[kind] for name, kind in batch_columns(top_n)}
    blanks[STEP] = ["carried" if code in carried else "outside" for code in rest["uscc"]]
    rest = pd.concat(
        [
            rest.drop(columns=[c for c in blanks if c in rest.columns]),
            pd.DataFrame(blanks, index=rest.index),
        ],
        axis=1,
    )
    parts = [part for part in (scored, rest) if part is not None and len(part)]
    return pd.concat(parts, ignore_index=True) if parts else rest


def read_steps(directory: Path, model: PreapprovalModel, last: LastRun | None) -> Iterator[Step]:
    """The decided rows Spark wrote, one Parquet file at a time, as the run's steps."""
    for path in sorted(directory.glob("part-*.parquet")):
        frame = pq.read_table(path).to_pandas()
        if len(frame):
            yield decode(frame, model, last)


def decode(frame: pd.DataFrame, model: PreapprovalModel, last: LastRun | None) -> Step:
    """The step `encode` wrote."""
    codes = frame["uscc"].astype(str).tolist()
    kept = frame.loc[frame[STEP] == "carried", "uscc"].astype(str).tolist()
    if last is not None:
        carried = Carried(
            kept, sum(c in last.offered for c in kept), {c: last.scored[c] for c in kept}
        )
    else:
        carried = Carried([], 0, {})
    scored = frame[frame[STEP] == "scored"].drop(columns=STEP)
    return Step(codes, from_frame(model, scored) if len(scored) else None, carried)
