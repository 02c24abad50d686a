"""Single pre-approvals waiting on one worker are answered together (dynamic batching).

A worker answers at most `max_running` groups at a time, each on one thread-pool hop. A
request that finds a slot free starts a group of its own at once (so a lone request waits for
nothing); requests that arrive while every slot is busy wait, and the next free slot takes all
of them (up to `max_items`) as one group: one thread-pool hop, the models run once per tenant
and served model (`decisions.evaluate_many`: TreeSHAP, the limit rule and the reasons cost
mostly per call, not per row), and one audit write. Nothing waits on a timer: a group forms
only from requests that would have queued anyway, so it adds no latency.

Each request is answered as if alone (`answer_group`, then `preapprovals.preapprove_many`):
its key checked (401, 403 without the `score` scope; each distinct key read once per group),
the same decision (a row scores the same alone and in a batch), its own audited decision id,
its own error.
`Settings.coalesce_max_items = 1` turns this off (each request on its own hop, as before).
The group sizes are the histogram `precredit_preapproval_group_size` of `/metrics`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from serving.api import preapprovals
from serving.deps import with_scope
from serving.errors import ApiError
from serving.schemas import PreapprovalIn
from serving.state import Services

SCOPE = "score"  # what a key needs for pre-approvals (`serving.api.preapprovals`)


@dataclass
class _Waiting:
    body: PreapprovalIn
    key: str | None  # the bearer credentials (None: none given)
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

    async def answer(self, body: PreapprovalIn, key: str | None) -> Response:
        """This request's response; raises its own error (the lane answers it): 401 without a
        valid `key`, 403 when the key lacks the `score` scope, else the route's answer."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(body, key, loop.create_future())
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
                        answer_group, self.services, [(w.body, w.key) for w in group]
                    )
                except BaseException:  # cancelled on shutdown: no request left hanging
                    for waiting in group:
                        waiting.answer.cancel()
                    raise
                _settle(group, outcomes)
        finally:
            self._running -= 1


def answer_group(
    services: Services, asked: Sequence[tuple[PreapprovalIn, str | None]]
) -> list[Response | Exception]:
    """Each (body, key) request's response or error, as the route would answer it alone.

    Each distinct key is looked up once for the group: a key revoked before a request arrived
    is refused, as on the route, since the group is read after all its requests arrived.
    """
    keys = {key for _, key in asked if key is not None}
    principals = {key: services.keys.authenticate(key) for key in keys}
    out: dict[int, Response | Exception] = {}
    allowed: list[tuple[int, PreapprovalIn, str]] = []
    for index, (body, key) in enumerate(asked):
        try:
            principal = with_scope(None if key is None else principals[key], SCOPE)
        except ApiError as error:
            out[index] = error
        else:
            allowed.append((index, body, principal.tenant_id))
    answers = preapprovals.preapprove_many(services, [(b, t) for _, b, t in allowed])
    out.update(zip((i for i, _, _ in allowed), answers, strict=True))
    return [out[i] for i in range(len(asked))]


def _settle(group: list[_Waiting], outcomes: list[Any]) -> None:
    for waiting, outcome in zip(group, outcomes, strict=True):
        if waiting.answer.done():  # its request went away (cancelled)
            continue
        if isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome)
