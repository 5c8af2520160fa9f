"""Prometheus metrics of the app, at ``GET /metrics``, when Gunicorn runs it with the
collection's ``gunicorn_metrics`` (``PROMETHEUS_MULTIPROC_DIR`` set, a fresh directory per
start): every worker writes its values to files there, and ``/metrics``, answered by any one
worker, adds up all of them (``prometheus_client``'s multiprocess mode). Gunicorn's
``child_exit`` hook marks a dead worker, so the live gauges count live workers only.

| metric                           | type      | what                                         |
|----------------------------------|-----------|----------------------------------------------|
| app_requests_total{method,status}| counter   | HTTP requests answered (``/metrics`` aside)  |
| app_request_duration_seconds     | histogram | their duration in the app                    |
| app_requests_in_progress         | gauge     | requests being handled now, all workers      |
| app_workers_busy                 | gauge     | workers handling at least one request now    |
| app_workers                      | gauge     | live workers                                 |

``/metrics`` is outside ``/api``: the gateway never proxies it (a GET of ``/metrics``
through nginx gets the SPA). It is reached where Gunicorn listens: on the app server's
private address, or on the host's unix socket.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"


def enabled() -> bool:
    """Whether the app serves metrics: only in multiprocess mode (one file set per worker)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The app's metrics; registry=None: in multiprocess mode the values go to files, and
    /metrics reads them all through a MultiProcessCollector of its own."""

    def __init__(self) -> None:
        self.requests = Counter(
            "app_requests_total",
            "HTTP requests answered by the app, by method and status",
            ["method", "status"],
            registry=None,
        )
        self.duration = Histogram(
            "app_request_duration_seconds",
            "Time the app took to answer an HTTP request",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=None,
        )
        self.in_progress = Gauge(
            "app_requests_in_progress",
            "HTTP requests being handled now, all workers",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.busy = Gauge(
            "app_workers_busy",
            "Gunicorn workers handling at least one HTTP request now",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.workers = Gauge(
            "app_workers",
            "Live Gunicorn workers",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.workers.set(1)
        self._active = 0

    def started(self) -> None:
        self._active += 1
        self.in_progress.inc()
        if self._active == 1:
            self.busy.set(1)

    def finished(self, method: str, status: int, seconds: float) -> None:
        self._active -= 1
        self.in_progress.dec()
        if self._active == 0:
            self.busy.set(0)
        self.requests.labels(method, str(status)).inc()
        self.duration.observe(seconds)

    @staticmethod
    def exposition() -> bytes:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


class MetricsMiddleware:
    """Counts every HTTP request but the scrape itself, and answers ``GET /metrics``.
    Pure ASGI, like the app's other middlewares."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = Metrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and scope["method"] == "GET":
            body = self.metrics.exposition()
            headers = [
                (b"content-type", CONTENT_TYPE_LATEST.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.started()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.finished(scope["method"], status, time.perf_counter() - started)
