"""Promotions reach every API process at once: PostgreSQL NOTIFY at commit, LISTEN in each.

`notify_promotion` runs in the transaction that records a promotion; PostgreSQL delivers the
notification to every listening connection when, and only if, that transaction commits. Each
API process on PostgreSQL runs a `PromotionListener` thread that refreshes its models when one
arrives (and once after every (re)connection, for what it may have missed meanwhile). The
registry poll (`PRECREDIT_MODEL_POLL_SECONDS`) stays the fallback: on SQLite, while the listener
reconnects, and for an alias moved outside the service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
CHANNEL = "precredit_promotions"
WAIT_SECONDS = 0.5  # how long one wait for notifications lasts (the stop flag's latency)
RECONNECT_SECONDS = 5.0


def notify_promotion(session: Session, model_name: str) -> None:
    """Tell every listening API process, at commit, that `model_name` has a new champion."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :name)"), {"channel": CHANNEL, "name": model_name}
        )


def listens(database_url: str) -> bool:
    """Whether a service database can carry promotion notifications (PostgreSQL)."""
    return make_url(database_url).get_backend_name() == "postgresql"


class PromotionListener:
    """A daemon thread on its own PostgreSQL connection calling `on_promotion(model_name)`."""

    def __init__(
        self,
        database_url: str,
        on_promotion: Callable[[str], object],
        reconnect_seconds: float = RECONNECT_SECONDS,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._on_promotion = on_promotion
        self._reconnect_seconds = reconnect_seconds
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in force
        self._thread = threading.Thread(target=self._run, name="promotion-listener", daemon=True)

    def start(self) -> PromotionListener:
        """Start listening in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (within `WAIT_SECONDS`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=WAIT_SECONDS + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                self.listening.clear()
                log.warning(
                    "promotion notifications unavailable (%s); the registry poll covers, "
                    "reconnecting in %.0f s",
                    type(error).__name__,
                    self._reconnect_seconds,
                )
                self._stop.wait(self._reconnect_seconds)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            self._deliver("*")  # whatever was promoted while nobody listened
            while not self._stop.is_set():
                for notification in connection.notifies(timeout=WAIT_SECONDS):
                    self._deliver(notification.payload)
        self.listening.clear()

    def _deliver(self, model_name: str) -> None:
        try:
            self._on_promotion(model_name)
        except Exception:  # a failed refresh must not end the listener; the poll retries
            log.exception("refresh after the promotion of %s failed", model_name)
