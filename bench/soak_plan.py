"""The soak's pure parts: the seeded request mix, open-loop send times, per-minute figures.

No I/O here, so the mix and the aggregation are tested on their own (tests/bench/...).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

# kind -> share of requests (issue 15: 70 / 10 / 10 / 5 / 5)
MIX: dict[str, float] = {
    "preapproval": 0.70,
    "batch": 0.10,
    "outcome": 0.10,
    "watch": 0.05,
    "financing": 0.05,
}
BATCH_SIZE = 5
PATHS = {
    "preapproval": "/v1/preapprovals",
    "batch": "/v1/preapprovals/batch",
    "outcome": "/v1/outcomes",
    "watch": "/v1/watchlist",
    "financing": "/v1/financing-requests",
}
Json = dict[str, object]


@dataclass(frozen=True)
class Planned:
    """One request of the soak: its number, kind, body and (outcomes) idempotency key."""

    index: int
    kind: str
    body: Json
    idempotency_key: str | None = None

    @property
    def path(self) -> str:
        """The route it is sent to."""
        return PATHS[self.kind]


def plan(codes: list[str], seed: int, today: dt.date) -> Iterator[Planned]:
    """The endless, seeded sequence of requests: same codes, seed and day -> same requests.

    Outcome loan ids are unique (`soak-<seed>-<index>`); their dates lie before `today`.
    """
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    index = 0
    while True:
        kind = rng.choices(kinds, weights)[0]
        yield Planned(index, kind, *_body(kind, index, rng, codes, seed, today))
        index += 1


def _body(
    kind: str, index: int, rng: random.Random, codes: list[str], seed: int, today: dt.date
) -> tuple[Json, str | None]:
    code = rng.choice(codes)
    if kind == "preapproval":
        return {"uscc": code, "requested_amount_cny": 500_000}, None
    if kind == "batch":
        items = [
            {"uscc": c, "requested_amount_cny": 500_000} for c in rng.sample(codes, BATCH_SIZE)
        ]
        return {"items": items}, None
    if kind == "watch":
        return {"codes": [code], "source": "borrower"}, None
    if kind == "financing":
        body: Json = {
            "uscc": code,
            "amount_cny": float(rng.randrange(100_000, 2_000_000, 10_000)),
            "term_months": rng.choice([6, 12, 24, 36]),
            "purpose": "working capital",
        }
        return body, None
    return _outcome(index, rng, code, seed, today), f"soak-{seed}-{index}"


def _outcome(index: int, rng: random.Random, code: str, seed: int, today: dt.date) -> Json:
    applied = today - dt.timedelta(days=rng.randrange(200, 700))
    granted = float(rng.randrange(100_000, 1_000_000, 10_000))
    return {
        "loan_id": f"soak-{seed}-{index}",
        "uscc": code,
        "application_date": applied.isoformat(),
        "granted_amount_cny": granted,
        "drawn_amount_cny": round(granted * rng.uniform(0.2, 1.0), 2),
        "default_flag": False,
        "max_dpd": 0,
        "observation_date": (today - dt.timedelta(days=2)).isoformat(),
    }


def send_times(rate: float, seconds: float) -> Iterator[float]:
    """Open-loop send offsets (s from the start): one every 1/rate, never waiting on answers."""
    step, n = 1.0 / rate, 0
    while n * step < seconds:
        yield n * step
        n += 1


@dataclass
class Minute:
    """What happened to the requests scheduled in one minute of the soak."""

    sent: int = 0
    ok: int = 0
    client_4xx: int = 0
    server_5xx: int = 0
    transport_errors: int = 0
    client_overloaded: int = 0
    latencies_s: list[float] = field(default_factory=list)
    send_lags_s: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    kinds_ok: dict[str, int] = field(default_factory=dict)

    def record(self, kind: str, status: int | None, latency_s: float, lag_s: float) -> None:
        """One answer (status None: the connection failed or timed out)."""
        self.latencies_s.append(latency_s)
        self.send_lags_s.append(lag_s)
        key = str(status) if status is not None else "transport_error"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if status is None:
            self.transport_errors += 1
        elif status >= 500:
            self.server_5xx += 1
        elif status >= 400:
            self.client_4xx += 1
        else:
            self.ok += 1
            self.kinds_ok[kind] = self.kinds_ok.get(kind, 0) + 1

    def figures(self, number: int, seconds: float, rss_kb: dict[int, int]) -> dict[str, object]:
        """The minute's row: counts, achieved rate, p50/p99 (ms), server RSS (MB)."""
        ms = np.asarray(self.latencies_s) * 1e3
        lag = np.asarray(self.send_lags_s) * 1e3
        return {
            "minute": number,
            "sent": self.sent,
            "answered": len(ms),
            "ok": self.ok,
            "4xx": self.client_4xx,
            "5xx": self.server_5xx,
            "transport_errors": self.transport_errors,
            "client_overloaded": self.client_overloaded,
            "sent_per_second": round(self.sent / seconds, 1),
            "ok_per_second": round(self.ok / seconds, 1),
            "p50_ms": _pct(ms, 50),
            "p99_ms": _pct(ms, 99),
            "max_ms": round(float(ms.max()), 1) if len(ms) else None,
            "send_lag_p99_ms": _pct(lag, 99),
            "statuses": dict(sorted(self.statuses.items())),
            "ok_by_kind": dict(sorted(self.kinds_ok.items())),
            "rss_mb": round(sum(rss_kb.values()) / 1024, 1),
            "rss_mb_per_process": {str(p): round(kb / 1024, 1) for p, kb in sorted(rss_kb.items())},
        }


def _pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def memory_growth_pct(minutes: list[dict[str, object]]) -> float | None:
    """Last minute's server RSS against the first minute's (warm-up), in percent."""
    if len(minutes) < 2:
        return None
    first, last = float(str(minutes[0]["rss_mb"])), float(str(minutes[-1]["rss_mb"]))
    return round(100 * (last - first) / first, 2) if first > 0 else None
