"""The HTTP server: uvicorn on httptools and uvloop, with refusals in the API's error shape.

`config` is the one uvicorn configuration (`precredit serve`, tests, simulation, benchmarks);
`ServerThread` serves an app with it on a free 127.0.0.1 port in a background thread until
stopped: the one harness the tests, the lending simulation and the benchmarks share.

The HTTP parser refuses a request that is not valid HTTP/1.1 (a control character in a header,
a malformed request line) before the app sees it; uvicorn answers those in plain text. Here
they get the one JSON error shape, with a fixed message that never echoes the request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from catalog.errors import PrecreditError
from serving.config import Settings
from serving.errors import error_body

INVALID_HTTP = json.dumps(
    error_body("invalid_http", "the request is not valid HTTP/1.1 (request line or a header)")
).encode()


# A worker imports pandas, LightGBM and the models before it first answers the supervisor's
# ping; on a busy 2-core machine that took longer than uvicorn's 5 s default, and the
# supervisor then killed and respawned its workers for ever.
WORKER_HEALTHCHECK_SECONDS = 60


HEADERS_TOO_LARGE = json.dumps(
    error_body("headers_too_large", "the request line and headers are over the limit")
).encode()
HEADER_TIMEOUT = json.dumps(
    error_body("request_timeout", "the request line and headers came too slowly")
).encode()
SERVER_BUSY = json.dumps(
    error_body("server_busy", "this worker holds as many connections as it may; retry shortly")
).encode()
BUSY_RETRY_AFTER_SECONDS = 1


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """uvicorn's over-the-limit answer (503), in the API's error shape with `Retry-After`."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(SERVER_BUSY)).encode()),
        (b"retry-after", str(BUSY_RETRY_AFTER_SECONDS).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": SERVER_BUSY, "more_body": False})


@dataclass(frozen=True)
class Limits:
    """What one connection may take: header bytes and the waits for headers and keep-alive."""

    max_header_bytes: int = 16_384
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: float = 5.0
    max_connections: int = 1_000

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits a service's settings ask for."""
        return cls(
            settings.max_header_bytes,
            settings.header_timeout_seconds,
            settings.keep_alive_seconds,
            settings.max_connections,
        )


LIMITS_ATTRIBUTE = "precredit_limits"


class _HeadersTooLarge(Exception):
    """Raised inside the parser's callbacks: stops parsing, answered 431."""


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with JSON refusals, a header size limit and a header timeout.

        A request line and headers over `limits.max_header_bytes` are 431; headers not complete
        within `limits.header_timeout_seconds` of the connection (or of the request's first byte)
        are 408; unparsable requests are 400 `invalid_http`; a request over the worker's
    `limits.max_connections` is 503 `server_busy` with `Retry-After`. Each answer closes the
    connection.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: Limits = getattr(config, LIMITS_ATTRIBUTE, Limits())
        self._header_bytes = 0
        self._too_large = False
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Serve the connection; its first request's headers must arrive in time."""
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and its header timer."""
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A new request: count its header bytes afresh, against the header timeout."""
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        """Count the request line against the header limit."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header against the limit."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The headers are in: no header timeout any more for this request."""
        self._disarm_header_timer()
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Start the request; over `limits.max_connections` uvicorn picked its plain-text 503:
        answer ours instead (JSON, `Retry-After`)."""
        super()._start_asgi_task(cycle, _busy if app is service_unavailable else app)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self._header_timeout
        )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:  # no request in the app
            self._refuse(408, HEADER_TIMEOUT)

    def send_400_response(self, msg: str) -> None:
        """Answer 400 `invalid_http` (431 for oversized headers) and close."""
        if self._too_large:
            self._refuse(431, HEADERS_TOO_LARGE)
            return
        self._refuse(400, INVALID_HTTP)

    def _refuse(self, status: int, body: bytes) -> None:
        if self.transport.is_closing():
            return
        head = [STATUS_LINE.get(status) or _status_line(status)]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(head))
        self.transport.close()


def _status_line(status: int) -> bytes:
    phrase = {408: "Request Timeout", 431: "Request Header Fields Too Large"}.get(status, "")
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def config(
    app: Any,
    host: str,
    port: int,
    workers: int = 1,
    limits: Limits | None = None,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration the CLI, the tests and the benchmarks all serve with."""
    chosen = limits or Limits()
    served = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        http=Protocol,
        log_level="warning",
        access_log=False,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        timeout_keep_alive=max(int(chosen.keep_alive_seconds), 1),
        limit_concurrency=chosen.max_connections,
        h11_max_incomplete_event_size=chosen.max_header_bytes,
        **options,
    )
    # The protocol reads its limits from the config: a config and its protocol class must
    # pickle (by name) into the worker processes of `--workers N`.
    setattr(served, LIMITS_ATTRIBUTE, chosen)
    return served


class ServerStartFailed(PrecreditError):
    """A server in a thread died or did not answer `/healthz` in time."""

    http_status = 503
    code = "server_start_failed"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """`app` served by uvicorn (the `config` above) on 127.0.0.1 in a daemon thread.

    `start` returns once `/healthz` answers 200; `stop` (or leaving the `with`) shuts it down.
    """

    def __init__(
        self,
        app: Any,
        name: str = "api",
        start_seconds: float = 60.0,
        limits: Limits | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.start_seconds = start_seconds
        self._server = uvicorn.Server(config(app, "127.0.0.1", self.port, limits=limits))
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self) -> ServerThread:
        """Start serving and wait until `/healthz` answers 200."""
        self._thread.start()
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise ServerStartFailed("the API server thread died during start-up")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise ServerStartFailed(f"the API did not answer /healthz within {self.start_seconds} s")

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
