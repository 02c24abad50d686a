"""What one API process holds: settings, the snapshot store, the service database, models."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from serving.audit_writer import AuditWriter
from serving.config import Settings
from serving.metrics import Metrics
from serving.model_store import ModelHolder
from serving.retraining import JobRunner
from serving.snapshot import Snapshot


@dataclass
class Services:
    """Everything the routes depend on, built once in the app's lifespan."""

    settings: Settings
    snapshot: Snapshot
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]  # autocommit reads: never take SQLite's write lock
    reads: Engine  # the same autocommit engine, for Core reads on the hot path
    models: ModelHolder
    metrics: Metrics
    jobs: JobRunner
    audit: AuditWriter  # group commit of decision rows (see serving.audit_writer)
