"""Models in service: each tenant's `@champion`, with a verified last-known-good local copy.

At start and on every poll the holder asks MLflow which version each alias points at. A new
version is downloaded into the cache, verified (SHA-256 manifest) and smoke-scored before it
replaces the one in service; requests hold a reference to the `ServedModel` they started with,
so a swap never changes an answer halfway. If MLflow is unreachable the cached copy serves;
with neither, `ModelUnavailable` (503) — never a default model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from requests.exceptions import RequestException
from sqlalchemy.exc import SQLAlchemyError

from catalog.errors import ModelUnavailable
from features.definitions import REGISTRY
from models.preapproval import PreapprovalModel
from training import tracking

log = logging.getLogger(__name__)
PLATFORM = "platform"
PUBLIC = tracking.PUBLIC_OWNER  # the public-records-only platform model's owner
ABSENT_RECHECK_SECONDS = 5.0
ABSENT_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
# What an unreachable or failing registry raises: MLflow's own errors, and the transport's
# (connection refused, timeouts, a broken SQLite file) beneath them.
REGISTRY_DOWN = (MlflowException, OSError, SQLAlchemyError, RequestException)


@dataclass(frozen=True)
class ServedModel:
    """One loaded, verified model version."""

    name: str
    version: str
    run_id: str
    fingerprint: str
    model: PreapprovalModel = field(repr=False)
    data_scope: tuple[str, ...] = ()  # the consent scopes its inputs read (set when loaded)

    def __post_init__(self) -> None:
        if not self.data_scope:
            object.__setattr__(self, "data_scope", REGISTRY.data_scopes(self.model.spec.names))


class ModelHolder:
    """Champion models by registered name, hot-swapped when an alias moves."""

    def __init__(self, tracking_uri: str, artifact_root: Path, cache_dir: Path) -> None:
        self.tracking_uri, self.artifact_root, self.cache_dir = (
            tracking_uri,
            artifact_root,
            cache_dir,
        )
        self._served: dict[str, ServedModel] = {}
        self._versions: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._absent: dict[str, float] = {}  # name -> when the registry last had no champion

    def get(self, tenant: str) -> ServedModel:
        """The tenant's own champion, else the platform model; 503 when neither is loaded.

        A tenant without a champion of its own is asked about again only after
        `ABSENT_RECHECK_SECONDS` (or at the next `refresh`), not on every request.
        """
        for name in (tracking.model_name(tenant), tracking.model_name(PLATFORM)):
            served = self._served.get(name)
            if served is None and not self._known_absent(name):
                served = self._load_name(name)
            if served is not None:
                return served
        raise ModelUnavailable("no verified model is available for this tenant; try again later")

    def public(self) -> ServedModel:
        """The public-records-only platform model (consents without tax or social insurance)."""
        name = tracking.model_name(PUBLIC)
        served = self._served.get(name)
        if served is None and not self._known_absent(name):
            served = self._load_name(name)
        if served is None:
            raise ModelUnavailable(
                "the public-records-only model is not available; try again later"
            )
        return served

    def _known_absent(self, name: str) -> bool:
        seen = self._absent.get(name)
        return seen is not None and time.monotonic() - seen < ABSENT_RECHECK_SECONDS

    def version(self, name: str, version: str) -> ServedModel:
        """A specific registered version (for replays), from the cache or the registry."""
        served = self._served.get(name)
        if served is not None and served.version == version:
            return served
        key = f"{name}@{version}"
        if key not in self._versions:
            directory = self.cache_dir / name / version
            if not (directory / "manifest.json").exists():
                client = MlflowClient(self.tracking_uri, self.tracking_uri)
                try:
                    run_id = str(client.get_model_version(name, version).run_id)
                except REGISTRY_DOWN as error:
                    raise ModelUnavailable(
                        f"{name} version {version} cannot be loaded now"
                    ) from error
                self._download(client, run_id, directory)
            self._versions[key] = self._verified(name, version, "", directory, pointer=False)
        return self._versions[key]

    def _download(self, client: MlflowClient, run_id: str, directory: Path) -> None:
        """Fetch a version into the cache (see `cache_download`)."""

        def fetch(staging: Path) -> Path:
            tracking.load_native(client, run_id, staging)
            return staging / tracking.NATIVE_DIR

        cache_download(directory, fetch)

    def loaded(self) -> list[ServedModel]:
        """Models currently in service."""
        return list(self._served.values())

    def refresh(self) -> list[str]:
        """Re-read every known alias; returns the names whose version changed."""
        changed = []
        for name in {*self._served, *self._absent, tracking.model_name(PLATFORM)}:
            before = self._served.get(name)
            after = self._load_name(name)
            if after is not None and (before is None or before.version != after.version):
                log.info("model %s now serves version %s", name, after.version)
                changed.append(name)
        return changed

    def _load_name(self, name: str) -> ServedModel | None:
        try:
            served = self._from_registry(name)
        except REGISTRY_DOWN as error:  # MLflow down or misconfigured: fall back to the cache
            log.warning(
                "model registry unreachable for %s (%s); using the local copy",
                name,
                type(error).__name__,
            )
            served = self._from_cache(name)
        if served is None:
            self._absent[name] = time.monotonic()
            return None
        with self._lock:
            self._absent.pop(name, None)
            current = self._served.get(name)
            if current is None or current.version != served.version:
                self._served[name] = served
        return self._served.get(name)

    def _from_registry(self, name: str) -> ServedModel | None:
        client = MlflowClient(self.tracking_uri, self.tracking_uri)
        try:
            version = client.get_model_version_by_alias(name, tracking.CHAMPION)
        except MlflowException as error:
            if error.error_code not in ABSENT_CODES:
                raise
            return self._from_cache(name)  # no such model or alias yet
        current = self._served.get(name)
        if current is not None and current.version == str(version.version):
            return current
        directory = self.cache_dir / name / str(version.version)
        if not (directory / "manifest.json").exists():
            self._download(client, str(version.run_id), directory)
        return self._verified(name, str(version.version), str(version.run_id), directory)

    def _from_cache(self, name: str) -> ServedModel | None:
        pointer = self.cache_dir / name / "current.json"
        if not pointer.exists():
            return None
        data = json.loads(pointer.read_text())
        return self._verified(
            name, data["version"], data["run_id"], self.cache_dir / name / data["version"]
        )

    def _verified(
        self, name: str, version: str, run_id: str, directory: Path, pointer: bool = True
    ) -> ServedModel:
        model = PreapprovalModel.load(directory)  # SHA-256 checked against the manifest
        probe = pd.DataFrame(
            [np.full(len(model.spec.names), np.nan)], columns=list(model.spec.names)
        )
        if not np.isfinite(model.predict_proba(probe)).all():
            raise ModelUnavailable(f"{name} version {version} fails its smoke test")
        if pointer:
            remember_current(directory, version, run_id)
        return ServedModel(name, version, run_id, model.fingerprint(), model)


def cache_download(directory: Path, fetch: Callable[[Path], Path]) -> None:
    """Put a version's files at `directory`: `fetch(staging)` downloads them under a staging
    directory and returns where they are. Workers of one host share the cache and refresh at the
    same moment after a promotion: each stages on its own and the first rename wins."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.download-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        staging.mkdir()
        fetched = fetch(staging)
        try:
            fetched.rename(directory)
        except OSError:  # another process put it there first: theirs is the same version
            if not (directory / "manifest.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remember_current(directory: Path, version: str, run_id: str) -> None:
    """Record the last known good version of the name (`current.json` beside the versions),
    replaced atomically: other workers read it when the registry is down."""
    staged = directory.parent / f".current.json.{os.getpid()}-{uuid.uuid4().hex}"
    staged.write_text(json.dumps({"version": version, "run_id": run_id}))
    staged.replace(directory.parent / "current.json")
