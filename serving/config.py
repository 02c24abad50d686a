"""The one Settings class: every `PRECREDIT_*` variable, read at the edges (CLI, API) only."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where precredit keeps its state, how it reaches its parts, and the API's limits."""

    model_config = SettingsConfigDict(env_prefix="PRECREDIT_", extra="ignore")

    home: Path = Path(".precredit")
    store_path: Path | None = None
    tracking_uri: str | None = None
    database_url: str | None = None
    migration_database_url: str | None = None  # the schema owner's; default: database_url
    max_batch: int = 100
    max_body_bytes: int = 1_000_000
    workers: int = 1  # worker processes serving the API (`precredit serve --workers` sets it)
    db_connections: int = 40  # database connections all workers together may hold
    max_header_bytes: int = 16_384  # request line and headers; more: 431
    header_timeout_seconds: float = 10.0  # to receive the request line and headers
    body_timeout_seconds: float = 30.0  # between two parts of a request body
    keep_alive_seconds: float = 5.0  # an idle keep-alive connection is closed after this
    max_connections: int = 1_000  # concurrent connections per worker; more: 503
    fast_preapprovals: bool = True  # single pre-approvals on the ASGI lane (serving.fastlane)
    # single pre-approvals waiting on a worker answered together (serving.coalesce): at most
    # this many in one group (1: each alone), at most `coalesce_running` groups at a time
    coalesce_max_items: int = 32
    coalesce_running: int = 2
    # who commits the decisions audit: one writer process for all workers, a group-commit
    # thread in each worker, or "auto": the process with 2 or more workers, else the thread
    # (serving.decision.audit_process; docs/speed.md, round 4)
    audit_writer: Literal["auto", "process", "thread"] = "auto"
    webhook_key: str | None = None  # Fernet key that encrypts webhook secrets at rest
    webhook_allow_private: bool = False  # development only: http and loopback/private targets
    model_poll_seconds: float = 30.0
    retrain_min_own_defaults: int = 200  # fewer: boost from the platform model
    retrain_min_new_outcomes: int = 500  # matured loans since the last retraining
    retrain_drift_psi: float = 0.25  # PSI of served PDs against the training reference
    retrain_every_days: int = 90  # the schedule trigger
    retrain_seed: int = 42
    retrain_max_ece: float = 0.02  # the promotion gate's calibration limit
    # declined applicants in training: none, fuzzy augmentation or the platform's label proxy
    retrain_reject_inference: Literal["none", "fuzzy", "platform"] = "platform"
    # loans younger than 12 months: left out, trained through censoring weights, or those
    # weights sharpened by early delinquency (30+ DPD at 3 or 6 months)
    retrain_maturing: Literal["none", "censoring", "early_delinquency"] = "none"
    monitor_psi_warn: float = 0.10  # PSI at or above: a moderate shift, investigate
    monitor_psi_alert: float = 0.25  # PSI at or above: a significant shift, act
    monitor_window_days: int = 30  # the recent decisions compared with the training reference
    monitor_min_rows: int = 200  # fewer rows in a population: no PSI (too noisy to read)
    monitor_max_rows: int = 100_000  # newest decisions read per run
    monitor_mix_period: Literal["week", "month"] = "month"  # the decision mix's period
    monitor_retrain_feature_alerts: int = 3  # feature alerts that call for a retraining (0: off)
    monitor_max_age_days: int = 35  # an older monitoring result no longer drives the trigger

    @field_validator("max_batch")
    @classmethod
    def _batch_bounds(cls, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise ValueError("PRECREDIT_MAX_BATCH must be between 1 and 10000")
        return value

    @field_validator(
        "workers",
        "db_connections",
        "max_connections",
        "max_header_bytes",
        "coalesce_max_items",
        "coalesce_running",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("workers, connections, header and coalescing limits are at least 1")
        return value

    @model_validator(mode="after")
    def _monitor_levels(self) -> Settings:
        if not 0 < self.monitor_psi_warn < self.monitor_psi_alert:
            raise ValueError(
                "PRECREDIT_MONITOR_PSI_WARN must be above 0 and below PRECREDIT_MONITOR_PSI_ALERT"
            )
        return self

    @property
    def audit_process(self) -> bool:
        """Whether one writer process commits the audit (else a writer thread per worker)."""
        return self.audit_writer == "process" or (self.audit_writer == "auto" and self.workers > 1)

    @property
    def store(self) -> Path:
        """The platform store (DuckDB file)."""
        return self.store_path or self.home / "platform.duckdb"

    @property
    def mlflow_uri(self) -> str:
        """MLflow tracking and registry URI (SQLite under home unless set)."""
        return self.tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        """Where MLflow stores run artifacts for the local tracking store."""
        return self.home / "mlartifacts"

    @property
    def service_db(self) -> str:
        """The service database URL (SQLite under home unless set)."""
        return self.database_url or f"sqlite:///{(self.home / 'service.db').resolve()}"

    @property
    def migration_db(self) -> str:
        """The URL migrations run with: the schema owner's, while the API may run least-privileged."""
        return self.migration_database_url or self.service_db

    @property
    def model_cache(self) -> Path:
        """Last-known-good copies of the models in service."""
        return self.home / "model-cache"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


# A scoring process must not hang on a registry that is down: one quick try, then the model
# cache. MLflow reads these only from the environment; operators may still set their own.
REGISTRY_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}  # fmt: skip


def registry_http_defaults() -> None:
    """Called by the entry points (API factory, CLI) before any registry request."""
    for name, value in REGISTRY_HTTP.items():
        os.environ.setdefault(name, value)
