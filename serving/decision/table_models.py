"""Models of banks' own tables in service: each `precredit-<bank>-table-<slug>@champion`.

A table model (`precredit train --table ... --tenant T`, docs/table_models.md) reads the bank's
own columns, so it is served by its own route (`POST /v1/table-models/{table}/scores`), never by
`/v1/preapprovals`. It is served only once promoted by the one promotion rule (gate passed or
overridden, approved by another person): the `@challenger` a training registers is never served.

Loaded like the platform models: the version behind `@champion` is downloaded into the cache,
verified (the SHA-256 manifest of `training.table_model`) and kept; every poll or promotion
notice re-reads the aliases of the names in service; with the registry unreachable the verified
local copy serves; with neither, 503.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from catalog.errors import ModelUnavailable, NotFound
from serving.decision.model_store import (
    ABSENT_CODES,
    ABSENT_RECHECK_SECONDS,
    REGISTRY_DOWN,
    cache_download,
    remember_current,
)
from training import tracking
from training.table_model import TableModel
from training.table_pyfunc import ARTIFACT_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedTable:
    """One loaded, verified table-model version."""

    name: str
    version: str
    run_id: str
    model: TableModel = field(repr=False)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", self.model.fingerprint())


class TableModelHolder:
    """Champions of banks' table models by registered name, hot-swapped when an alias moves."""

    def __init__(self, tracking_uri: str, cache_dir: Path) -> None:
        self.tracking_uri, self.cache_dir = tracking_uri, cache_dir
        self._served: dict[str, ServedTable] = {}
        self._absent: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, slug: str) -> ServedTable:
        """The bank's champion for table `slug`; 404 when it has none (or another bank has it)."""
        name = tracking.table_model_name(tenant, slug)
        served = self._served.get(name)
        if served is None and not self._known_absent(name):
            served = self._load(name)
        if served is None:
            raise NotFound(
                "no promoted model for this table: train it with precredit train --table "
                "--tenant, then promote it (precredit models promote --table)"
            )
        return served

    def refresh(self) -> list[str]:
        """Re-read the alias of every name asked for; the names whose version changed."""
        changed = []
        for name in {*self._served, *self._absent}:
            before = self._served.get(name)
            after = self._load(name)
            if after is not None and (before is None or before.version != after.version):
                log.info("table model %s now serves version %s", name, after.version)
                changed.append(name)
        return changed

    def _known_absent(self, name: str) -> bool:
        seen = self._absent.get(name)
        return seen is not None and time.monotonic() - seen < ABSENT_RECHECK_SECONDS

    def _load(self, name: str) -> ServedTable | None:
        try:
            served = self._from_registry(name)
        except REGISTRY_DOWN as error:
            log.warning(
                "model registry unreachable for %s (%s); using the local copy",
                name,
                type(error).__name__,
            )
            served = self._from_cache(name)
        with self._lock:
            if served is None:
                self._absent[name] = time.monotonic()
                self._served.pop(name, None)  # an alias removed stops serving
                return None
            self._absent.pop(name, None)
            current = self._served.get(name)
            if current is None or current.version != served.version:
                self._served[name] = served
            return self._served[name]

    def _from_registry(self, name: str) -> ServedTable | None:
        client = MlflowClient(self.tracking_uri, self.tracking_uri)
        try:
            version = client.get_model_version_by_alias(name, tracking.CHAMPION)
        except MlflowException as error:
            if error.error_code not in ABSENT_CODES:
                raise
            return None  # no such model, or never promoted
        current = self._served.get(name)
        if current is not None and current.version == str(version.version):
            return current
        directory = self.cache_dir / name / str(version.version)
        if not (directory / "manifest.json").exists():
            self._download(client, str(version.run_id), directory)
        return self._verified(name, str(version.version), str(version.run_id), directory)

    def _download(self, client: MlflowClient, run_id: str, directory: Path) -> None:
        """Fetch a version's files into the cache (see `model_store.cache_download`)."""

        def fetch(staging: Path) -> Path:
            try:
                return Path(client.download_artifacts(run_id, ARTIFACT_KEY, str(staging)))
            except MlflowException as error:
                raise ModelUnavailable(f"artifacts of run {run_id} cannot be downloaded") from error

        cache_download(directory, fetch)

    def _from_cache(self, name: str) -> ServedTable | None:
        pointer = self.cache_dir / name / "current.json"
        if not pointer.exists():
            return None
        data = json.loads(pointer.read_text())
        directory = self.cache_dir / name / data["version"]
        return self._verified(name, data["version"], data["run_id"], directory, pointer=False)

    def _verified(
        self, name: str, version: str, run_id: str, directory: Path, pointer: bool = True
    ) -> ServedTable:
        """Load (the manifest's SHA-256 checked by `TableModel.load`) and remember as current."""
        served = ServedTable(name, version, run_id, TableModel.load(directory))
        if pointer:
            remember_current(directory, version, run_id)
        return served
