"""Hostile input against the real server: control characters, duplicate keys, slow clients.

Paths and bodies run on SQLite and PostgreSQL (`live_api`); the connection limits on a server
of their own with short timeouts. Everything stays on 127.0.0.1, every wait is bounded.
"""

from __future__ import annotations

import json
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_fixtures import ApiStacks, LiveApi
from sqlalchemy.pool import QueuePool

from catalog import uscc
from serving import http
from serving.db import make_engine, sqlite_url
from serving.db.engine import POOL_TIMEOUT_SECONDS, pool_size_for
from serving.http import Limits

VALID = uscc.build("9", "1", "441500", "MA5FXX01")
PATHS = [
    ("GET", "/v1/decisions/%00"),
    ("GET", "/v1/decisions/abc%00def"),
    ("POST", "/v1/decisions/%00/replay"),
    ("GET", "/v1/jobs/%00"),
    ("GET", "/v1/financing-requests/%00"),
    ("DELETE", "/v1/watchlist/%00"),
    ("GET", "/v1/decisions/a%0d%0aForged:%20line"),
    ("GET", "/v1/warnings?x=%00"),
]
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
KEEP_ALIVE = 1.0
MAX_HEADER_BYTES = 8_192


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_control_characters_in_paths_are_422(live_api: LiveApi, method: str, path: str) -> None:
    client = live_api.client(live_api.keys.admin_a)
    response = client.request(method, path)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/preapprovals", {"uscc": "\x00" * 18}),
        ("/v1/preapprovals", {"uscc": VALID, "product": "sme\x00credit"}),
        ("/v1/watchlist", {"codes": [VALID, "\x1b[31m"]}),
        ("/v1/outcomes", {"loan_id": "a\x00b", "uscc": VALID}),
        ("/v1/preapprovals", {"uscc\x00": VALID}),
    ],
)
def test_control_characters_in_body_strings_are_422(
    live_api: LiveApi, path: str, body: dict[str, object]
) -> None:
    before = live_api.counts()
    response = live_api.client(live_api.keys.bank_a).post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert live_api.counts() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"uscc": "%s", "uscc": "%s"}',
        b'{"uscc": "%s", "product": "sme_credit", "requested_amount_cny": 1, '
        b'"requested_amount_cny": 2, "x": "%s"}',
    ],
)
def test_duplicate_json_keys_are_422(live_api: LiveApi, raw: bytes) -> None:
    other = uscc.build("9", "1", "110101", "MA01YY00").encode()
    body = raw % (VALID.encode(), other)
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/preapprovals", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "same key twice" in response.json()["error"]["message"]


@pytest.fixture(scope="module")
def tight_api(api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """A server with short header, body and keep-alive timeouts and a small header limit."""
    url = sqlite_url(tmp_path_factory.mktemp("tight") / "service.db")
    api = LiveApi.start(
        "sqlite-tight",
        api_stacks.home,
        url,
        header_timeout_seconds=HEADER_TIMEOUT,
        body_timeout_seconds=BODY_TIMEOUT,
        keep_alive_seconds=KEEP_ALIVE,
        max_header_bytes=MAX_HEADER_BYTES,
    )
    yield api
    api.stop()


def connect(api: LiveApi) -> socket.socket:
    """A raw TCP connection to the server, with a bounded read timeout."""
    sock = socket.create_connection(("127.0.0.1", int(api.base_url.rsplit(":", 1)[1])), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (bounded by the socket's timeout)."""
    chunks = []
    while chunk := sock.recv(65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_headers_are_431(tight_api: LiveApi) -> None:
    response = httpx.get(
        f"{tight_api.base_url}/healthz", headers={"X-Big": "a" * (4 * MAX_HEADER_BYTES)}
    )
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    assert httpx.get(f"{tight_api.base_url}/healthz").status_code == 200


def test_half_sent_headers_are_cut_off(tight_api: LiveApi) -> None:
    with connect(tight_api) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_idle_connections_are_closed(tight_api: LiveApi) -> None:
    with connect(tight_api) as sock:
        started = time.monotonic()
        answer = read_all(sock)  # nothing sent at all
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_a_body_shorter_than_declared_is_cut_off(tight_api: LiveApi) -> None:
    with connect(tight_api) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/preapprovals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"uscc": '
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"request_timeout" in answer
    assert time.monotonic() - started < BODY_TIMEOUT + 5


def test_keep_alive_connections_close_when_idle(tight_api: LiveApi) -> None:
    with connect(tight_api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert time.monotonic() - started < KEEP_ALIVE + 5


@pytest.fixture(scope="module")
def crowded_api(
    api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """A server whose worker takes at most 3 concurrent connections."""
    url = sqlite_url(tmp_path_factory.mktemp("crowded") / "service.db")
    api = LiveApi.start("sqlite-crowded", api_stacks.home, url, max_connections=3)
    yield api
    api.stop()


def test_connections_over_the_worker_limit_get_503_in_our_shape(crowded_api: LiveApi) -> None:
    held = [connect(crowded_api) for _ in range(2)]
    try:
        for sock in held:  # two keep-alive connections, served and left open
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        with connect(crowded_api) as third:  # the third reaches uvicorn's limit of 3
            third.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = read_all(third)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 1" in head.lower()
        assert json.loads(body)["error"]["code"] == "server_busy"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)  # the server sees the held connections close
    assert httpx.get(f"{crowded_api.base_url}/healthz").status_code == 200


def test_the_server_config_carries_every_limit() -> None:
    limits = Limits(
        max_header_bytes=4_096, header_timeout_seconds=2, keep_alive_seconds=3, max_connections=7
    )
    served = http.config("serving.app:create_app", "127.0.0.1", 0, 2, limits, factory=True)
    assert (served.limit_concurrency, served.timeout_keep_alive) == (7, 3)
    assert served.h11_max_incomplete_event_size == 4_096
    assert pickle.loads(pickle.dumps(served)).http is http.Protocol  # reaches --workers N


def test_each_worker_pool_is_its_share_of_the_connections(tmp_path: Path) -> None:
    assert [pool_size_for(40, w) for w in (1, 2, 4, 64)] == [40, 20, 10, 2]
    engine = make_engine(sqlite_url(tmp_path / "service.db"), pool_size=pool_size_for(40, 2))
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool.timeout()) == (20, POOL_TIMEOUT_SECONDS)
    finally:
        engine.dispose()
