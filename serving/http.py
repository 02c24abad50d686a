"""The HTTP server: uvicorn on httptools and uvloop, with refusals in the API's error shape.

The HTTP parser refuses a request that is not valid HTTP/1.1 (a control character in a header,
a malformed request line) before the app sees it; uvicorn answers those in plain text. Here
they get the one JSON error shape, with a fixed message that never echoes the request.
"""

from __future__ import annotations

import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

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
