"""The bank's client survives a server that drops a keep-alive connection as it is reused.

The real API runs in uvicorn; between it and the client sits a TCP relay that lets each
connection carry one request and closes it, without an answer, when the client sends another
on it: what happens when the server's keep-alive timer fires just as the client reuses an idle
connection (a `httpx.RemoteProtocolError` that stopped a simulation in 2026-12).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from simulation.api import BankClient, BankKeys, local_api, provision
from simulation.lending import BankPolicy
from simulation.run import SimulationConfig, prepare_home, settings_for

BANK = BankPolicy("bank_a")


class OneRequestRelay:
    """A TCP relay to `port` that drops a connection when a second request arrives on it."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> OneRequestRelay:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        answered = threading.Event()
        threading.Thread(target=self._back, args=(server, client, answered), daemon=True).start()
        with client, server:
            while chunk := client.recv(65_536):
                if answered.is_set():  # a second request on this connection: drop it unanswered
                    self.dropped += 1
                    return
                server.sendall(chunk)

    @staticmethod
    def _back(server: socket.socket, client: socket.socket, answered: threading.Event) -> None:
        try:
            while chunk := server.recv(65_536):
                client.sendall(chunk)
                answered.set()
        except OSError:
            return


@pytest.fixture(scope="module")
def api_and_keys(
    tiny_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, BankKeys]]:
    """The real API on a tiny platform with one provisioned bank (no model trained)."""
    home = tmp_path_factory.mktemp("client") / "home"
    prepare_home(home, tiny_store, 0, 1)
    settings = settings_for(home, SimulationConfig((BANK,), rounds=1))
    keys = provision(settings, (BANK,), pooling=False)
    with local_api(settings) as api:
        yield api.port, keys[BANK.bank_id]


def test_a_plain_client_fails_on_the_dropped_connection(api_and_keys: tuple[int, BankKeys]) -> None:
    port, keys = api_and_keys
    with OneRequestRelay(port) as relay:
        auth = {"Authorization": f"Bearer {keys.maker}"}
        with httpx.Client(base_url=relay.url, headers=auth) as plain:
            assert plain.post("/v1/models/refresh").status_code == 200
            with pytest.raises(httpx.TransportError):
                plain.post("/v1/models/refresh")
    assert relay.dropped == 1


def test_the_bank_client_retries_idempotent_calls_on_a_new_connection(
    api_and_keys: tuple[int, BankKeys],
) -> None:
    port, keys = api_and_keys
    with OneRequestRelay(port) as relay:
        client = BankClient(relay.url, keys, batch=10)
        try:
            answers = [client.refresh() for _ in range(3)]
        finally:
            client.close()
    assert len(answers) == 3
    assert relay.dropped == 2  # the 2nd and 3rd calls each met a dropped connection first
