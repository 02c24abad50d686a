"""Single pre-approvals waiting on one worker are answered together (dynamic batching).

A worker answers at most `max_running` groups at a time, each on one thread-pool hop. A
request that finds a slot free starts a group of its own at once (so a lone request waits for
nothing); requests that arrive while every slot is busy wait, and the next free slot takes all
of them (up to `max_items`) as one group: one thread-pool hop, the models run once per tenant
and served model (`decisions.evaluate_many`: TreeSHAP, the limit rule and the reasons cost
mostly per call, not per row), and one audit write. Nothing waits on a timer: a group forms
only from requests that would have queued anyway, so it adds no latency.

Each request is answered as if alone (`preapprovals.preapprove_many`): the same decision
(a row scores the same alone and in a batch), its own audited decision id, its own error.
`Settings.coalesce_max_items = 1` turns this off (each request on its own hop, as before).
The group sizes are the histogram `precredit_preapproval_group_size` of `/metrics`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from serving.api import preapprovals
from serving.schemas import PreapprovalIn
from serving.state import Services


@dataclass
class _Waiting:
    body: PreapprovalIn
    tenant: str
    answer: asyncio.Future[Response]


class Coalescer:
    """One worker's single pre-approvals, answered in groups (see the module's text)."""

    def __init__(self, services: Services, max_items: int, max_running: int) -> None:
        self.services = services
        self.max_items = max_items
        self.max_running = max_running
        self._waiting: deque[_Waiting] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def answer(self, body: PreapprovalIn, tenant: str) -> Response:
        """This request's response; raises its own error (the lane answers it)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(body, tenant, loop.create_future())
        self._waiting.append(waiting)
        if self._running < self.max_running:
            self._running += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await waiting.answer

    async def _drain(self) -> None:
        """Answer groups of waiting requests until none waits, then free the slot."""
        try:
            while self._waiting:
                size = min(len(self._waiting), self.max_items)
                group = [self._waiting.popleft() for _ in range(size)]
                self.services.metrics.preapproval_group(size)
                try:
                    outcomes: list[Response | Exception] = await run_in_threadpool(
                        preapprovals.preapprove_many,
                        self.services,
                        [(w.body, w.tenant) for w in group],
                    )
                except BaseException:  # cancelled on shutdown: no request left hanging
                    for waiting in group:
                        waiting.answer.cancel()
                    raise
                _settle(group, outcomes)
        finally:
            self._running -= 1


def _settle(group: list[_Waiting], outcomes: list[Any]) -> None:
    for waiting, outcome in zip(group, outcomes, strict=True):
        if waiting.answer.done():  # its request went away (cancelled)
            continue
        if isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome)
