"""A pure-ASGI guard in front of the app: hostile paths and bodies never reach a route.

- A path or query string with a control character (NUL, CR, LF...) is 422 `invalid_input`:
  no database is asked about it (PostgreSQL refuses NUL in text with a 500 otherwise).
- A request body is read with a timeout between its parts: a client that declares more than it
  sends is answered 408 `request_timeout` instead of holding a worker for ever.
- A JSON body with a duplicate key is 422 (a proxy validating the first occurrence and this
  service reading the last would see two different requests), and so is a control character
  in any of its strings (tab, CR and LF excepted: free text may carry them).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse

from serving.errors import error_body

PATH_CONTROL = frozenset(range(0x20)) | {0x7F}
TEXT_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))) - set("\t\n\r")


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


class ControlCharacter(ValueError):
    """A JSON string carries a control character."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey
        if isinstance(value, str) and not TEXT_CONTROL.isdisjoint(value):
            raise ControlCharacter
        seen[key] = value
    if not TEXT_CONTROL.isdisjoint("".join(seen)):
        raise ControlCharacter
    return seen


def _list_strings(value: Any) -> None:
    """Control characters in strings inside arrays (object members are checked by `_pairs`)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and not TEXT_CONTROL.isdisjoint(item):
                raise ControlCharacter
            _list_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            _list_strings(item)


def body_problem(body: bytes) -> str | None:
    """Why a JSON body is refused (duplicate key, control character), or None."""
    try:
        parsed = json.loads(body, object_pairs_hook=_pairs)
    except DuplicateKey:
        return "a JSON object names the same key twice"
    except ControlCharacter:
        return "strings carry no control characters"
    except (ValueError, RecursionError):
        return None  # not JSON, or nested too deep: the route's own validation answers it
    if isinstance(parsed, str) and not TEXT_CONTROL.isdisjoint(parsed):
        return "strings carry no control characters"
    try:
        _list_strings(parsed)
    except RecursionError:
        return None
    except ControlCharacter:
        return "strings carry no control characters"
    return None


def path_problem(scope: Any) -> str | None:
    """Why a path or query string is refused (a control character), or None."""
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    for part in (raw, scope.get("query_string") or b""):
        if not PATH_CONTROL.isdisjoint(unquote_to_bytes(part)):
            return "paths and query strings carry no control characters"
    if not PATH_CONTROL.isdisjoint(scope.get("path", "").encode()):
        return "paths and query strings carry no control characters"
    return None


class RequestGuard:
    """Refuses control characters in paths, slow bodies and ambiguous JSON before the app."""

    def __init__(
        self, app: Any, body_timeout_seconds: float = 30.0, max_body_bytes: int = 1_000_000
    ) -> None:
        self.app = app
        self.body_timeout_seconds = body_timeout_seconds
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = path_problem(scope)
        if problem is not None:
            await _refusal(422, "invalid_input", problem)(scope, receive, send)
            return
        if scope["method"] not in {"POST", "PUT", "PATCH", "DELETE"}:
            await self.app(scope, receive, send)
            return
        await self._with_body(scope, receive, send)

    async def _with_body(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            messages = await self._read(receive)
        except TimeoutError:
            await _refusal(408, "request_timeout", "the body came too slowly")(scope, receive, send)
            return
        except _TooLarge:
            limit = f"request bodies are limited to {self.max_body_bytes} bytes"
            await _refusal(413, "payload_too_large", limit)(scope, receive, send)
            return
        body = b"".join(m.get("body", b"") for m in messages)
        problem = body_problem(body) if body and _is_json(scope) else None
        if problem is not None:
            await _refusal(422, "invalid_input", problem)(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Any:
            message = next(replay, None)
            return message if message is not None else await receive()

        await self.app(scope, replayed, send)

    async def _read(self, receive: Any) -> list[Any]:
        """Every message of the body, each awaited at most `body_timeout_seconds`."""
        messages, size = [], 0
        while True:
            async with asyncio.timeout(self.body_timeout_seconds):  # no task per message
                message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                raise _TooLarge
            if message["type"] != "http.request" or not message.get("more_body", False):
                return messages


class _TooLarge(Exception):
    """A chunked body went over the limit."""


def _is_json(scope: Any) -> bool:
    kind = dict(scope.get("headers") or []).get(b"content-type", b"application/json")
    return b"json" in kind.lower()


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    headers = {"Connection": "close"} if status == 408 else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)
