"""One place maps errors to HTTP: our error tree, validation errors, and anything unexpected.

Every error body is `{"error": {"code": ..., "message": ...}}` (validation errors add the
failing locations, naming only our own fields); never a stack trace, never the raw input.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import PrecreditError
from serving import schemas

log = logging.getLogger(__name__)
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_input", 429: "too_many_requests"}  # fmt: skip
KNOWN_NAMES = frozenset(
    {
        "body",
        "query",
        "header",
        "path",
        "authorization",
        "idempotency-key",
        "decision_id",
        "job_id",
        "request_id",
        "code",
    }
    | {name for model in schemas.MODELS for name in model.model_fields}
)


class Problem(BaseModel):
    """One schema violation: where (our own field names only), what, and its kind."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str]
    msg: str
    type: str


class ErrorDetail(BaseModel):
    """A stable machine code and a human message; never the raw input or a stack trace."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    reason: str | None = None
    problems: list[Problem] | None = None


class ErrorBody(BaseModel):
    """The one error shape: `{"error": {"code": ..., "message": ...}}`."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


EXAMPLES: dict[int, tuple[str, ErrorDetail]] = {
    401: ("No or an unknown API key", ErrorDetail(code="unauthorized",
          message="a valid API key is required: Authorization: Bearer <key>")),
    403: ("The API key lacks the scope", ErrorDetail(code="forbidden",
          message="this API key lacks the 'admin' scope")),
    404: ("Not found (another bank's resource is answered the same)",
          ErrorDetail(code="not_found", message="no such decision")),
    409: ("Conflicts with work in progress", ErrorDetail(code="conflict",
          message="a retrain job is already queued or running for this tenant")),
    413: ("The body is over the limit", ErrorDetail(code="payload_too_large",
          message="request bodies are limited to 1000000 bytes")),
    422: ("The input is invalid", ErrorDetail(code="invalid_input",
          message="the request does not match the schema", problems=[Problem(
          loc=["body", "application_date"], msg="a date is a string in the form YYYY-MM-DD",
          type="value_error")])),
    503: ("A model, the platform snapshot or the database is unavailable (database_busy "
          "comes with Retry-After)", ErrorDetail(
          code="model_unavailable", message="no model in service for this bank")),
}  # fmt: skip
RETRY_AFTER_SECONDS = 1


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can return, with our body."""
    return {
        status: {
            "model": ErrorBody,
            "description": EXAMPLES[status][0],
            "content": {
                "application/json": {
                    "example": ErrorBody(error=EXAMPLES[status][1]).model_dump(exclude_none=True)
                }
            },
        }
        for status in statuses
    }


def own_validation_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` without FastAPI's default 422 (`HTTPValidationError`), which we never answer.

    Routes that can fail validation declare our 422 (`documented`); FastAPI adds its own only to
    routes with parameters that did not, and those (plain string path parameters) never fail it.
    """
    default = "#/components/schemas/HTTPValidationError"
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            declared = operation.get("responses", {}).get("422", {})
            if default in json.dumps(declared):
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema


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
    reason = getattr(exc, "reason", None)
    extra = {"reason": reason} if isinstance(reason, str) else {}
    return JSONResponse(
        error_body(exc.code, exc.message, **extra), status_code=exc.http_status, headers=headers
    )


def _location(parts: tuple[object, ...]) -> list[str]:
    """Where the problem is, naming only our own fields (a client's key is never echoed)."""
    return [str(p) if isinstance(p, int) or p in KNOWN_NAMES else "(other)" for p in parts]


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": _location(tuple(e.get("loc", ()))),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ][:20]
    body = error_body("invalid_input", "the request does not match the schema", problems=problems)
    return JSONResponse(body, status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, "http_error")
    message = (
        exc.detail
        if isinstance(exc.detail, str) and exc.status_code != 422
        else code.replace("_", " ")
    )
    return JSONResponse(error_body(code, message), status_code=exc.status_code)


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    """A lock wait or the connection pool ran out (or the database went away): retry shortly."""
    log.warning("database busy on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    body = error_body("database_busy", "the database is busy; retry after a moment")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(body, status_code=503, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal", "internal error; it has been logged"), status_code=500
    )


def too_large(scope: Any, max_bytes: int) -> JSONResponse | None:
    """The JSON 413 for a declared Content-Length over the limit (checked before reading)."""
    if scope["type"] != "http":
        return None
    declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > max_bytes:
        body = error_body("payload_too_large", f"request bodies are limited to {max_bytes} bytes")
        return JSONResponse(body, status_code=413)
    return None


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(PrecreditError, _ours)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(Exception, _unexpected)
