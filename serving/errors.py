"""One place maps errors to HTTP: our error tree, validation errors, and anything unexpected.

Every error body is `{"error": {"code": ..., "message": ...}}` (validation errors add the
failing locations); never a stack trace, never the raw input echoed.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.errors import PrecreditError

log = logging.getLogger(__name__)
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_input", 429: "too_many_requests"}  # fmt: skip


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    """The one error shape."""
    return {"error": {"code": code, "message": message, **extra}}


class ApiError(PrecreditError):
    """An HTTP-level refusal with its own status (auth, scope, idempotency)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status, self.code = status, code


async def _ours(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PrecreditError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return JSONResponse(
        error_body(exc.code, exc.message), status_code=exc.http_status, headers=headers
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                 "type": str(e.get("type", ""))} for e in exc.errors()][:20]  # fmt: skip
    return JSONResponse(error_body("invalid_input", "the request does not match the schema", problems=problems),
                        status_code=422)  # fmt: skip


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, "http_error")
    message = (
        exc.detail
        if isinstance(exc.detail, str) and exc.status_code != 422
        else code.replace("_", " ")
    )
    return JSONResponse(error_body(code, message), status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal", "internal error; it has been logged"), status_code=500
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(PrecreditError, _ours)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
