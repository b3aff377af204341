"""Prometheus metrics of the API (prometheus-client, a registry per app): HTTP requests by
route, method and status, their latency, and jobs by state (read when scraped)."""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs import jobstatus
from libs.db import Conn

METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED: Final = "unmatched"  # a path no route serves: never the path itself (cardinality)


class Metrics:
    """The app's collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ingest_api_http_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("ingest_api_http_request_duration_seconds",
                                 "Time to answer an HTTP request (streamed bodies included)",
                                 ["route", "method"], registry=self.registry)
        self.jobs = Gauge("ingest_jobs", "Jobs by state (dry runs left out)", ["state"],
                          registry=self.registry)

    async def render(self, conn: Conn) -> bytes:
        """The exposition text, jobs by state read now."""
        counts = await jobstatus.states_count(conn)
        for state in jobstatus.STATES:
            self.jobs.labels(state).set(counts.get(state, 0))
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route's template (``/v1/jobs/{job_id}``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
