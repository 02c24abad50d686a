"""An event loop's own connection to the audit writer process: rows written without a thread.

`AuditClient.write` blocks its calling thread until the commit, so a request scored on the
thread pool pays a hand-over to a thread and back, and shares the GIL with every other
request's thread. Awaited from the event loop (`AuditClient.write_async`), a request's rows go
out on the loop's one connection and the request waits on a future instead: requests are
pipelined on that connection, and the writer answers a connection's frames in the order they
came (`Writer._read` queues them, `Writer._answer` replies in that order), so the replies
resolve the futures first in, first out.

Same invariants as the blocking client: an id is answered only once its row committed; a
writer that dies, hangs past `REPLY_SECONDS` or answers out of shape fails every request in
flight on the connection with `AuditUnavailable` (503) and drops it, so none is answered
without its row; the next request connects again (the keeper thread starts a new writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from serving.decision.audit_process import _HEAD, OK, REPLY_SECONDS, _frame, _unavailable


class LoopLink(asyncio.Protocol):
    """One event loop's pipelined connection to the writer: `ask` sends a frame, awaits its reply."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.broken = False
        self._buffer = bytearray()
        self._waiting: deque[asyncio.Future[tuple[bytes, bytes]]] = deque()

    @classmethod
    async def open(cls, address: bytes) -> LoopLink:
        """A link connected to the writer at `address` (OSError if none listens)."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(address)  # a Unix socket: answered at once, or refused
            sock.setblocking(False)
            link = cls(loop)
            await loop.create_unix_connection(lambda: link, sock=sock)
        except BaseException:
            sock.close()
            raise
        return link

    async def ask(self, kind: bytes, payload: bytes) -> bytes:
        """The writer's OK reply to one frame; AuditUnavailable if it fails or never comes."""
        if self.broken or self.transport is None:
            raise _unavailable()
        reply: asyncio.Future[tuple[bytes, bytes]] = self.loop.create_future()
        self._waiting.append(reply)
        self.transport.write(_frame(kind, payload))
        try:
            answer, body = await asyncio.wait_for(reply, REPLY_SECONDS)
        except TimeoutError:  # a hung writer: nothing in flight is known to be stored
            self.close()
            raise _unavailable() from None
        if answer != OK:
            raise _unavailable()
        return body

    def close(self) -> None:
        """Fail every request in flight and close the connection."""
        self.broken = True
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_exception(_unavailable())
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _HEAD.size:
            kind, size = _HEAD.unpack_from(self._buffer)
            if len(self._buffer) < _HEAD.size + size:
                return
            body = bytes(self._buffer[_HEAD.size : _HEAD.size + size])
            del self._buffer[: _HEAD.size + size]
            if not self._waiting:  # a reply nobody asked for: the stream is out of step
                self.close()
                return
            waiting = self._waiting.popleft()
            if not waiting.done():  # a cancelled request's reply is read and dropped
                waiting.set_result((kind, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()


class LoopLinks:
    """The link of each event loop that writes (a worker has one loop; tests may run several)."""

    def __init__(self, address: bytes, on_unreachable: Callable[[], None]) -> None:
        self._address = address
        self._on_unreachable = on_unreachable  # starts a writer (the blocking client's `_spawn`)
        self._links: dict[asyncio.AbstractEventLoop, LoopLink] = {}
        self.closed = False

    async def ask(self, kind: bytes, payload: bytes) -> bytes:
        """`kind`+`payload` answered by the writer over this loop's link."""
        link = await self._link()
        return await link.ask(kind, payload)

    async def _link(self) -> LoopLink:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None and not link.broken:
            return link
        if self.closed:
            raise _unavailable()
        try:
            link = await LoopLink.open(self._address)
        except OSError:
            self._on_unreachable()
            raise _unavailable() from None
        self._links[loop] = link
        return link

    def close(self) -> None:
        """Close every loop's link (from its own loop, or handed to it)."""
        self.closed = True
        links, self._links = self._links, {}
        for loop, link in links.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nothing in flight
                if loop.is_closed():
                    continue
                if asyncio._get_running_loop() is loop:
                    link.close()
                else:
                    loop.call_soon_threadsafe(link.close)
