"""Each bank's own product policies applied to the model in service.

A model decides PD, grade and reasons; the bank's product policy (uploaded through
`PUT /v1/policies/{product}`) decides the limit, gates and rate band. `PolicyBook.served`
gives the served model with the bank's policy for the product asked (the model's own policy
for a bank that has uploaded none). Policies are read through a short-lived cache per bank:
an upload is in force at once in the process that took it and within `TTL_SECONDS` elsewhere.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import InvalidInput
from models.policy import ProductPolicy
from serving.db import policies
from serving.db.prepared import in_event_loop
from serving.decision.model_store import ServedModel

TTL_SECONDS = 2.0


def with_policy(served: ServedModel, policy: ProductPolicy) -> ServedModel:
    """`served` deciding limits under `policy` (the trees, calibrator and scale are shared)."""
    if policy == served.model.policy_:
        return served
    model = copy.copy(served.model)
    model.policy = policy
    return dataclasses.replace(served, model=model)


def default_product(bank: dict[str, policies.StoredPolicy], model_product: str) -> str:
    """The product a request without one uses: the model's product if the bank has it, else
    the bank's first product by name, else the model's."""
    if not bank or model_product in bank:
        return model_product
    return min(bank)


class PolicyBook:
    """Banks' policies in force, cached per bank, and served models under them."""

    def __init__(
        self,
        readers: sessionmaker[Session],
        ttl: float = TTL_SECONDS,
        loop_readers: sessionmaker[Session] | None = None,
    ) -> None:
        self._readers = readers
        self._loop_readers = loop_readers or readers  # for event loops (serving.db.prepared)
        self._ttl = ttl
        self._banks: dict[str, tuple[float, dict[str, policies.StoredPolicy]]] = {}
        self._models: dict[tuple[str, str, str], ServedModel] = {}
        self._lock = threading.Lock()

    def products(self, tenant: str) -> dict[str, policies.StoredPolicy]:
        """The bank's policies in force by product (cached for `ttl` seconds)."""
        cached = self._banks.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        readers = self._loop_readers if in_event_loop() else self._readers
        with readers() as session:
            current = policies.latest(session, tenant)
        self._banks[tenant] = (time.monotonic(), current)
        return current

    def invalidate(self, tenant: str) -> None:
        """Forget the bank's cached policies (after an upload)."""
        self._banks.pop(tenant, None)

    def served(self, served: ServedModel, tenant: str, product: str | None) -> ServedModel:
        """`served` under the bank's policy for `product` (None: its default product).

        InvalidInput (422) for a product the bank does not have.
        """
        bank = self.products(tenant)
        model_product = served.model.policy_.product
        wanted = default_product(bank, model_product) if product is None else product
        if not bank:
            if wanted != model_product:
                raise InvalidInput(f"unknown product for this bank (known: {model_product})")
            return served
        stored = bank.get(wanted)
        if stored is None:
            raise InvalidInput(f"unknown product for this bank (known: {', '.join(bank)})")
        return self.under(served, stored.policy, stored.fingerprint)

    def under(self, served: ServedModel, policy: ProductPolicy, fingerprint: str) -> ServedModel:
        """`served` under `policy` (whose fingerprint is `fingerprint`), built once per pair."""
        key = (served.name, served.version, fingerprint)
        found = self._models.get(key)
        if found is None or found.fingerprint != served.fingerprint:
            found = with_policy(served, policy)
            with self._lock:
                self._models[key] = found
        return found
