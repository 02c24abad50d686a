"""The HTTP server: uvicorn on httptools and uvloop, with refusals in the API's error shape.

`config` is the one uvicorn configuration (`precredit serve`, tests, simulation, benchmarks);
`ServerThread` serves an app with it on a free 127.0.0.1 port in a background thread until
stopped: the one harness the tests, the lending simulation and the benchmarks share.

The HTTP parser refuses a request that is not valid HTTP/1.1 (a control character in a header,
a malformed request line) before the app sees it; uvicorn answers those in plain text. Here
they get the one JSON error shape, with a fixed message that never echoes the request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from catalog.errors import PrecreditError
from serving.errors import error_body

INVALID_HTTP = json.dumps(
    error_body("invalid_http", "the request is not valid HTTP/1.1 (request line or a header)")
).encode()


# A worker imports pandas, LightGBM and the models before it first answers the supervisor's
# ping; on a busy 2-core machine that took longer than uvicorn's 5 s default, and the
# supervisor then killed and respawned its workers for ever.
WORKER_HEALTHCHECK_SECONDS = 60


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose 400 for unparsable requests is JSON."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 `invalid_http` and close (the request never reached the app)."""
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(INVALID_HTTP)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                INVALID_HTTP,
            ]
        )
        self.transport.write(b"".join(head))
        self.transport.close()


def config(app: Any, host: str, port: int, workers: int = 1, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration the CLI, the tests and the benchmarks all serve with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        http=Protocol,
        log_level="warning",
        access_log=False,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )


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

    def __init__(self, app: Any, name: str = "api", start_seconds: float = 60.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.start_seconds = start_seconds
        self._server = uvicorn.Server(config(app, "127.0.0.1", self.port))
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
