"""What one API process holds: settings, the snapshot store, the service database, models."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from serving.config import Settings
from serving.db.keys import KeyLookup
from serving.decision.audit_writer import AuditSink
from serving.decision.consent import ConsentBook
from serving.decision.model_store import ModelHolder
from serving.decision.policies import PolicyBook
from serving.decision.snapshot import Snapshot
from serving.decision.table_models import TableModelHolder
from serving.metrics import Metrics
from serving.retraining import JobRunner


@dataclass
class Services:
    """Everything the routes depend on, built once in the app's lifespan."""

    settings: Settings
    snapshot: Snapshot
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]  # autocommit reads: never take SQLite's write lock
    reads: Engine  # its own pool of autocommit, read-only connections: Core reads per request
    models: ModelHolder
    metrics: Metrics
    jobs: JobRunner
    audit: AuditSink  # group commit of decision rows (serving.decision.audit_writer, _process)
    policies: PolicyBook  # banks' product policies in force (see serving.decision.policies)
    consents: ConsentBook  # which model may score an entity (see serving.decision.consent)
    keys: KeyLookup  # authentication on the request path (see serving.db.keys)
    table_models: TableModelHolder  # banks' own-table models (see serving.decision.table_models)
