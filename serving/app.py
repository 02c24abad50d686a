"""The FastAPI app: `create_app(settings)`; everything it holds is built in the lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from features.errors import PrecreditError
from serving import errors
from serving.api import decisions, meta, outcomes, preapprovals
from serving.config import Settings, get_settings
from serving.db.engine import make_engine, session_factory
from serving.db.migrate import upgrade
from serving.metrics import Metrics
from serving.model_store import PLATFORM, ModelHolder
from serving.state import Services, Snapshot

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    """Open the store, migrate the service database, load the models (failures degrade to 503)."""
    upgrade(settings.service_db)
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
    return Services(
        settings, snapshot, session_factory(make_engine(settings.service_db)), holder, Metrics()
    )


class PrecreditAPI(FastAPI):
    """FastAPI whose oversized-body answer (declared Content-Length) has our JSON error shape.

    FastAPI's `max_body_size` answers those in plain text before any handler can see them;
    chunked bodies still meet that limit inside, where our handlers shape the answer.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        refusal = errors.too_large(scope, self.max_body_size) if self.max_body_size else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API with its error handlers, routers and metrics middleware."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        if settings.model_poll_seconds > 0:
            services.models.start_polling(settings.model_poll_seconds)
        yield
        services.models.stop()
        services.snapshot.close()

    app = PrecreditAPI(title="precredit", version="1", lifespan=lifespan, max_body_size=settings.max_body_bytes,
                  description="Explained pre-approved credit limits (预授信) for banks.")  # fmt: skip
    errors.install(app)
    for router in (preapprovals.router, decisions.router, outcomes.router, meta.router):
        app.include_router(router)
    app.middleware("http")(_observe)
    return app


async def _observe(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    path = getattr(route, "path", "unmatched")
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.metrics.observe(path, response.status_code, time.perf_counter() - started)
    return response
