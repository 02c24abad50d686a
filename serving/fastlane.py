"""A pure-ASGI lane for the hot route: POST /v1/preapprovals without FastAPI's request machinery.

The FastAPI route (`serving.api.preapprovals.preapprove`) stays the definition: its OpenAPI
entry, its dependencies and its error answers. This lane, innermost of the middleware (so the
metrics, the request guard and the body limit see every request as before), answers the
requests with a well-formed body the way the route would, at less cost. A body the lane does
not accept as is (no JSON content type, not JSON, a validation error) goes to the FastAPI
route unchanged, which answers it as it always did, in its own order (a JSON decode error
before the key, a schema error after it). On the lane the body is parsed and validated in one
step (`model_validate_json`, the same strict model), and the request answered by
`serving.coalesce` with the requests waiting beside it: its key checked once per distinct key
of the group, then `preapprovals.preapprove_many`, each request answered as the route's
endpoint `preapprove` answers it alone. With `Settings.coalesce_max_items = 1` the key is
checked in the event loop (as the route's async dependency does) and `preapprove` itself runs
on one thread-pool hop, as FastAPI calls it. No routing, dependency resolution, `Request`
object or exception-middleware wrappers. Its refusals are the app's own: a missing or unknown
key (401) and a key without the `score` scope (403) are raised as `ApiError`, and they and the
decision's refusals (404, 403 consent, 422 product, 503 audit or database busy) are answered
by the handler the app registered.

`Settings.fast_preapprovals=False` sends every request down the FastAPI route (the A/B of
`bench/bench_asgi_path.py` and the equality test in `tests/serving/test_fastlane.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from catalog.errors import PrecreditError
from serving.api import preapprovals
from serving.coalesce import SCOPE, Coalescer
from serving.deps import authenticated, with_scope
from serving.schemas import PreapprovalIn
from serving.state import Services

PATH = "/v1/preapprovals"
JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
HANDLED = (PrecreditError, OperationalError, PoolTimeout)  # the app's handlers answer these
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
ROUTE: BaseRoute = next(
    r for r in preapprovals.router.routes if getattr(r, "path", None) == PATH
)  # the route whose endpoint the lane calls


class PreapprovalLane:
    """Answers well-formed, authorised single pre-approvals; passes everything else to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._coalescer: Coalescer | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        services: Services | None = getattr(scope["app"].state, "services", None)
        if services is None or not services.settings.fast_preapprovals:
            await self.app(scope, receive, send)
            return
        messages = await _body_messages(receive)
        body = _parsed(scope, b"".join(m.get("body", b"") for m in messages))
        if body is None:  # the route answers it: its JSON, content-type or validation error
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = ROUTE  # the metrics label the request by the route's path
        credentials = _credentials(scope)
        try:
            if services.settings.coalesce_max_items > 1:
                response = await self._coalescer_of(services).answer(
                    body, None if credentials is None else credentials.credentials
                )
            else:
                principal = with_scope(authenticated(services, credentials), SCOPE)
                response = await run_in_threadpool(
                    preapprovals.preapprove, body, principal, services
                )
        except HANDLED as error:
            response = await _handled(scope, error)
        await response(scope, receive, send)

    def _coalescer_of(self, services: Services) -> Coalescer:
        if self._coalescer is None or self._coalescer.services is not services:
            settings = services.settings
            self._coalescer = Coalescer(
                services, settings.coalesce_max_items, settings.coalesce_running
            )
        return self._coalescer


def _parsed(scope: Any, body: bytes) -> PreapprovalIn | None:
    """The body as the route's model, or None (the route decides: not JSON, or invalid).

    FastAPI reads a body as JSON only under a JSON content type (none given: not JSON).
    """
    kind = _header(scope, b"content-type")
    if kind is None or kind.lower() not in JSON_TYPES:
        return None
    try:
        return PreapprovalIn.model_validate_json(body)
    except ValidationError:
        return None


def _credentials(scope: Any) -> HTTPAuthorizationCredentials | None:
    """The bearer credentials as FastAPI's `HTTPBearer(auto_error=False)` reads them."""
    authorization = _header(scope, b"authorization")
    scheme, credentials = get_authorization_scheme_param(
        None if authorization is None else authorization.decode("latin-1")
    )
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def _header(scope: Any, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _handled(scope: Any, error: Exception) -> Response:
    """The app's own answer to `error` (the handler `serving.errors.install` registered)."""
    handlers = scope["app"].exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers and kind is not Exception:
            response: Response = await handlers[kind](Request(scope), error)
            return response
    raise error


async def _body_messages(receive: Any) -> list[Any]:
    """Every message of the request body (the guard has read them already: no waiting)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Any], receive: Any) -> Any:
    replay = iter(messages)

    async def replayed() -> Any:
        message = next(replay, None)
        return message if message is not None else await receive()

    return replayed
