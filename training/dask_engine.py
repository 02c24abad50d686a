"""Grow a PD model's trees with `lightgbm.dask` on a Dask cluster (`precredit train --engine dask`).

The job is the single-process one (`models.boosting.BoostingJob`: the same parameters, monotone
constraints, rounds and out-of-time validation rows); only where the trees grow changes.
`DaskLGBMClassifier` trains data-parallel: each worker holds a slice of the training rows and
the workers sum their histograms over LightGBM's own network.

Two differences from `lightgbm.train`, both handled here:

- **Early stopping.** lightgbm.dask has none (an `early_stopping_rounds` hangs the workers, and
  its `eval_set` scores each worker's slice alone). The cluster grows all `rounds` trees; the
  best iteration is then chosen here on the whole validation set, by the rule of
  `lightgbm.early_stopping` (the first minimum of the binary log-loss, stopping after `patience`
  rounds without a better one), and the model is cut there as in the single-process path.
- **Determinism.** lightgbm.dask promises nothing across runs: the scheduler decides which
  worker holds which partition, and each worker's rows shape the bins and the bagging. Here the
  training rows are dealt to the workers in turn (row i to worker i mod n), and each slice is
  placed on its worker (workers in address order), so the same rows, seed and number of workers
  grow the same trees. Dealt, not cut: each worker bins its share of the features from its own
  rows, and the frame's rows run in date order, so a contiguous slice would bin half the
  features from the older dates only (with 116 features the out-of-time AUC then fell 0.0067
  below one process's on the test platform).

The fitted booster is a plain `lightgbm.Booster`: the model, its artifacts and its serving are
those of the single-process path.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np

from catalog.errors import PrecreditError
from models.boosting import BoostingJob

if TYPE_CHECKING:
    from distributed import Client

# Parameters the Dask interface sets itself: threads follow each worker's, machines its list.
DASK_OWNED = ("num_threads", "num_machines")
# The run's network addresses, which lightgbm.dask leaves in the model's parameter section:
# dropped, so the saved model names no host or port and the same run gives the same bytes.
ADDRESS_LINES = ("[machines: ", "[local_listen_port: ")


class DaskUnavailable(PrecreditError):
    """The Dask engine cannot run here: the optional `dask` extra is not installed."""

    http_status = 503
    code = "dask_unavailable"


def require_dask() -> None:
    """Raise `DaskUnavailable` with the install line unless dask and distributed import."""
    try:
        import dask.array  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as error:
        raise DaskUnavailable(
            f"the Dask engine needs the optional extra 'dask' ({error.name} is missing): "
            "pip install 'precredit[dask]'"
        ) from error


@contextmanager
def local_cluster(workers: int, seed: int) -> Iterator[Client]:
    """A local Dask cluster of `workers` processes, one thread each, loopback only; its client."""
    require_dask()
    import dask
    from distributed import LocalCluster

    from training.dask_client import PartOrderClient

    with (
        dask.config.set({"distributed.scheduler.work-stealing": False}),  # keep slices in place
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # the scheduler's HTTP routes: loopback, any port
            env={"PYTHONHASHSEED": str(seed), "OMP_NUM_THREADS": "1"},
        ) as cluster,
        PartOrderClient(cluster) as client,
    ):
        client.wait_for_workers(workers)
        client.run(_worker_output_to_stderr)
        client.run(quiet_lightgbm)
        quiet_lightgbm()
        yield client


class _KnownNotices(logging.Filter):
    """Drops the notice that the sklearn wrapper's `n_jobs` gives way to each worker's threads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Parameter n_jobs will be ignored" not in record.getMessage()


def quiet_lightgbm() -> None:
    """LightGBM's Python-side messages to the `lightgbm` logger, warnings and up, not stdout."""
    logger = logging.getLogger("lightgbm")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _KnownNotices) for f in logger.filters):
        logger.addFilter(_KnownNotices())
    lgb.register_logger(logger)


def _worker_output_to_stderr() -> None:
    """A worker's standard output goes to standard error, so the command's stdout is its answer.

    LightGBM's network start-up prints a dozen lines per worker whatever `verbosity` says (its
    log callback is per thread, and a worker trains outside the thread that loaded it).
    """
    sys.stdout.flush()
    os.dup2(2, 1)


@dataclass(frozen=True)
class DaskEngine:
    """Grow the job's trees on the cluster behind `client` (one data slice per worker)."""

    client: Client

    def boost(self, job: BoostingJob) -> tuple[lgb.Booster, int]:
        """All `job.rounds` trees on the cluster, then the best iteration on the validation rows."""
        from lightgbm.dask import DaskLGBMClassifier

        params = {k: v for k, v in job.params.items() if k not in DASK_OWNED}
        model = DaskLGBMClassifier(client=self.client, n_estimators=job.rounds, **params)
        (X, y, init, weight), held = self._placed(job)  # `held`: slices stay on their workers
        fit: dict[str, Any] = {} if init is None else {"init_score": init}
        if weight is not None:
            fit["sample_weight"] = weight
        with warnings.catch_warnings():  # the sklearn wrapper's n_jobs: each worker's one thread
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored", UserWarning)
            model.fit(
                X, y, feature_name=list(job.names), categorical_feature=list(job.categorical), **fit
            )
        del held  # fitted: the workers may drop the slices
        booster = without_addresses(model.booster_)
        return booster, best_iteration(booster, job)

    def describe(self) -> dict[str, str | int]:
        """What MLflow records about the engine."""
        return {"engine": "dask", "dask_workers": len(self._workers())}

    def _workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def _placed(self, job: BoostingJob) -> tuple[tuple[Any, Any, Any, Any], list[Any]]:
        """Dask arrays of the training rows, every n-th row from the i-th on worker i; their futures.

        The arrays name the scattered slices only by key: the caller holds the futures until
        the fit is done, or the scheduler forgets the data. Keys are unique (`hash=False`): a
        slice equal to one of an earlier fit must not share its key while that one is released.
        """
        import dask.array as da

        workers = self._workers()
        n = len(workers)
        columns: list[tuple[np.ndarray | None, tuple[int, ...]]] = [
            (job.X, (job.X.shape[1],)),
            (job.y, ()),
            (job.init, ()),
            (job.weight, ()),
        ]
        arrays: list[Any] = []
        held: list[Any] = []
        for values, tail in columns:
            if values is None:
                arrays.append(None)
                continue
            parts = []
            for i, worker in enumerate(workers):
                chunk = values[i::n]  # every n-th row: each slice spans every date
                if not len(chunk):
                    continue
                future = self.client.scatter(chunk, workers=[worker], direct=True, hash=False)
                held.append(future)
                parts.append(da.from_delayed(future, shape=(len(chunk), *tail), dtype=chunk.dtype))
            arrays.append(da.concatenate(parts))
        return (arrays[0], arrays[1], arrays[2], arrays[3]), held


def without_addresses(booster: lgb.Booster) -> lgb.Booster:
    """The same trees, without the cluster's addresses in the parameter section."""
    lines = booster.model_to_string().split("\n")
    return lgb.Booster(model_str="\n".join(x for x in lines if not x.startswith(ADDRESS_LINES)))


def best_iteration(booster: lgb.Booster, job: BoostingJob) -> int:
    """The iteration `lightgbm.early_stopping(job.patience)` would keep, on the validation rows."""
    raw = np.zeros(len(job.y_valid)) if job.init_valid is None else job.init_valid.copy()
    best, best_at = math.inf, 0
    for i in range(booster.current_iteration()):
        raw += booster.predict(job.X_valid, raw_score=True, start_iteration=i, num_iteration=1)
        losses = np.logaddexp(0.0, raw) - job.y_valid * raw  # binary log-loss, weighted as
        loss = float(np.average(losses, weights=job.weight_valid))  # LightGBM weighs it
        if loss < best:
            best, best_at = loss, i + 1
        elif i + 1 - best_at >= job.patience:
            break
    return best_at
