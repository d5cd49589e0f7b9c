"""Prometheus metrics (prometheus-client): requests by route and status, latency, batch sizes, rows scored."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

PREFIX = "wdbc_serve"
#: Seconds: from 100 us (a single row on an idle server) to 10 s.
LATENCY_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROW_BUCKETS = tuple(float(2**i) for i in range(0, 17))
REQUEST_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The server's metrics in their own registry (with the process's CPU, memory and file descriptors)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(f"{PREFIX}_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(f"{PREFIX}_request_duration_seconds", "time from a request's start to its answer",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_rows = Histogram(f"{PREFIX}_batch_rows", "rows per runtime call", buckets=ROW_BUCKETS,
                                    registry=self.registry)
        self.batch_requests = Histogram(f"{PREFIX}_batch_requests", "requests joined into one runtime call",
                                        buckets=REQUEST_BUCKETS, registry=self.registry)
        self.rows = Counter(f"{PREFIX}_rows_scored", "rows scored", registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labels() costs more than inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(method, route, str(status)),
                                              self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, rows: int, requests: int) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)
        self.rows.inc(rows)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
