"""Prometheus metrics of one app: requests, latency, decisions by outcome, models in service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """The app's own registry (so several apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "precredit_requests_total", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram("precredit_request_seconds", "HTTP request latency", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.decisions = Counter(
            "precredit_decisions_total",
            "Decisions by outcome",
            ["decision"],
            registry=self.registry,
        )
        self.model = Gauge(
            "precredit_model_info",
            "Models in service (value 1)",
            ["name", "version"],
            registry=self.registry,
        )

    def decision(self, outcome: str) -> None:
        """Count one decision."""
        self.decisions.labels(outcome).inc()

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count and time one request."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def models(self, served: list[tuple[str, str]]) -> None:
        """Publish which model versions are in service."""
        self.model.clear()
        for name, version in served:
            self.model.labels(name, version).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return bytes(generate_latest(self.registry))
