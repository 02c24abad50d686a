"""The FastAPI app: `create_app(settings)`; everything it holds is built in the lifespan."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from catalog.errors import PrecreditError
from serving import errors, logs
from serving.api import (
    consents,
    decisions,
    disputes,
    docs,
    entities,
    financing,
    meta,
    models,
    outcomes,
    platform,
    policies,
    preapprovals,
    table_models,
    watch,
    webhooks,
)
from serving.config import Settings, get_settings, registry_http_defaults
from serving.console import pages as console
from serving.db.engine import make_engine, make_read_engine, pool_size_for, session_factory
from serving.db.keys import KeyLookup
from serving.db.migrate import upgrade
from serving.db.notifications import PromotionListener, listens
from serving.decision.audit_process import AuditClient
from serving.decision.audit_writer import AuditSink, AuditWriter, lock_path_for
from serving.decision.consent import ConsentBook
from serving.decision.model_store import PLATFORM, ModelHolder
from serving.decision.policies import PolicyBook
from serving.decision.snapshot import Snapshot
from serving.decision.table_models import TableModelHolder
from serving.fastlane import PreapprovalLane
from serving.guard import RequestGuard
from serving.metrics import Metrics
from serving.retraining import JobRunner
from serving.state import Services

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    """Open the store, migrate the service database, load the models (failures degrade to 503)."""
    upgrade(settings.migration_db)
    snapshot = Snapshot(settings.store)
    try:
        snapshot.open()
    except PrecreditError as error:
        log.error("platform snapshot unavailable: %s", error.message)
    holder = ModelHolder(settings.mlflow_uri, settings.artifact_root, settings.model_cache)
    try:
        holder.get(PLATFORM)
    except PrecreditError as error:
        log.error("no model in service yet: %s", error.message)
    # The worker's share of the connections, half for writes and half for the request path's
    # reads (authentication, consents, policies), each its own pool; one read connection of
    # them is the event loop's own (below).
    pool_size = pool_size_for(settings.db_connections, settings.workers)
    engine = make_engine(settings.service_db, pool_size=max(pool_size // 2, 1))
    reads = make_read_engine(settings.service_db, pool_size=max(pool_size - pool_size // 2 - 1, 1))
    readers = session_factory(reads)
    # The event loop's own reads (async routes and dependencies: authentication, consents,
    # policies): one connection, never waited for (see serving.db.prepared).
    loop_reads = make_read_engine(settings.service_db, pool_size=1)
    sessions = session_factory(engine)
    audit: AuditSink
    if settings.audit_process:  # one writer for all workers: no turns, larger commits
        audit = AuditClient(settings.service_db)
        audit.start()
    else:
        audit = AuditWriter(sessions, lock_path_for(settings.service_db))
    return Services(
        settings,
        snapshot,
        sessions,
        readers,
        reads,
        holder,
        Metrics(),
        JobRunner(settings, sessions),
        audit,
        PolicyBook(readers, loop_readers=session_factory(loop_reads)),
        ConsentBook(reads, loop_reads=loop_reads),
        KeyLookup(reads, loop_reads),
        TableModelHolder(settings.mlflow_uri, settings.model_cache / "tables"),
    )


def _refresh_models(services: Services) -> None:
    """A promotion was recorded (by any process): re-read every alias in service now."""
    services.models.refresh()
    services.table_models.refresh()


class Poller:
    """A daemon thread calling `tasks` every `seconds` (none when seconds <= 0)."""

    def __init__(self, seconds: float, tasks: list[Callable[[], object]]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(seconds, tasks), name="poll", daemon=True
        )
        if seconds > 0:
            self._thread.start()

    def _loop(self, seconds: float, tasks: list[Callable[[], object]]) -> None:
        while not self._stop.wait(seconds):
            for task in tasks:
                try:
                    task()
                except Exception:
                    log.exception("background refresh failed")

    def stop(self) -> None:
        """Stop the thread (waits for a refresh in progress)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


class PrecreditAPI(FastAPI):
    """FastAPI that refuses a body declared over the limit (Content-Length) in our JSON shape.

    Bodies are read and limited once, by `serving.guard.RequestGuard` (chunked ones included);
    FastAPI's own `max_body_size` stays off, so no second limiter wraps every request.
    """

    body_limit: int | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        refusal = errors.too_large(scope, self.body_limit) if self.body_limit else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema, where validation errors have our body (our handler answers them)."""
        return errors.own_validation_schema(super().openapi())


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API with its error handlers, routers and metrics middleware."""
    settings = settings or get_settings()
    registry_http_defaults()
    logs.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        poller = Poller(
            settings.model_poll_seconds,
            [
                services.models.refresh,
                services.table_models.refresh,
                services.snapshot.reload_if_changed,
            ],
        )
        listener = (
            PromotionListener(settings.service_db, lambda _: _refresh_models(services)).start()
            if listens(settings.service_db)
            else None
        )
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector, whose full passes over it paused requests for ~0.2 s.
        gc.collect()
        gc.freeze()
        yield
        if listener is not None:
            listener.stop()
        poller.stop()
        services.jobs.stop()
        services.audit.close()
        services.snapshot.close()

    app = PrecreditAPI(
        title="precredit",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Explained pre-approved credit limits (预授信) for banks.",
    )
    app.body_limit = settings.max_body_bytes
    errors.install(app)
    docs.install(app)
    routers = (
        preapprovals,
        decisions,
        outcomes,
        policies,
        models,
        financing,
        disputes,
        entities,
        watch,
        webhooks,
        consents,
        platform,
        table_models,
        meta,
    )
    for router in (module.router for module in routers):
        app.include_router(router)
    console.install(app)
    app.add_middleware(PreapprovalLane)  # innermost: after the guard, inside the metrics
    app.add_middleware(
        RequestGuard,
        body_timeout_seconds=settings.body_timeout_seconds,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(Observe)
    return app


class Observe:
    """Pure ASGI middleware: request count and latency by route and status (Prometheus)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                path = getattr(scope.get("route"), "path", "unmatched")
                services.metrics.observe(path, status, time.perf_counter() - started)
