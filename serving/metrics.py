"""Prometheus metrics of one app: requests, latency, decisions, models in service, monitoring."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from serving.monitor.result import ModelMonitoring, MonitoringResult

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """The app's own registry (so several apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "precredit_requests_total", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "precredit_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "precredit_decisions_total",
            "Decisions by outcome",
            ["decision"],
            registry=self.registry,
        )
        self.preapproval_groups = Histogram(
            "precredit_preapproval_group_size",
            "Single pre-approvals answered together in one group (serving.coalesce)",
            buckets=GROUP_BUCKETS,
            registry=self.registry,
        )
        self.flagged_codes = Counter(
            "precredit_flagged_codes_total",
            "Registered pilot-era credit codes scored despite a failed check, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.model = Gauge(
            "precredit_model_info",
            "Models in service (value 1)",
            ["name", "version"],
            registry=self.registry,
        )
        self.psi = Gauge(
            "precredit_psi",
            "PSI against the training reference, from the latest monitoring result",
            ["tenant", "model", "model_version", "scope", "feature"],
            registry=self.registry,
        )
        self.monitor_alerts = Gauge(
            "precredit_monitor_alerts",
            "Monitoring findings by level, from the latest monitoring result",
            ["tenant", "level"],
            registry=self.registry,
        )
        self.monitor_time = Gauge(
            "precredit_monitor_timestamp_seconds",
            "When the latest monitoring result was generated",
            ["tenant"],
            registry=self.registry,
        )

    def decision(self, outcome: str) -> None:
        """Count one decision."""
        self.decisions.labels(outcome).inc()

    def preapproval_group(self, size: int) -> None:
        """Count one group of single pre-approvals answered together."""
        self.preapproval_groups.observe(size)

    def flagged_code(self, reason: str) -> None:
        """Count one pilot-era code scored with its flag."""
        self.flagged_codes.labels(reason).inc()

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count and time one request."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def models(self, served: list[tuple[str, str]]) -> None:
        """Publish which model versions are in service."""
        self.model.clear()
        for name, version in served:
            self.model.labels(name, version).set(1)

    def monitoring(self, results: list[MonitoringResult]) -> None:
        """Publish the latest monitoring result of each tenant (PSIs, findings by level)."""
        for gauge in (self.psi, self.monitor_alerts, self.monitor_time):
            gauge.clear()
        for result in results:
            tenant = result.tenant
            for level, count in result.summary.model_dump().items():
                self.monitor_alerts.labels(tenant, level).set(count)
            generated = dt.datetime.fromisoformat(result.generated_at)
            self.monitor_time.labels(tenant).set(generated.timestamp())
            for model in result.models:
                self._psis(tenant, model)

    def _psis(self, tenant: str, model: ModelMonitoring) -> None:
        for scope, found in model.scopes.items():
            for row in ([found.score] if found.score else []) + found.features:
                labels = (tenant, model.name, model.version, scope, row.feature)
                self.psi.labels(*labels).set(row.psi)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return bytes(generate_latest(self.registry))
