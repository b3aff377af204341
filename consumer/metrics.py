"""The consumer's Prometheus metrics (README, "Metrics"): defined here, fed by the worker's
Stats events (so they count what its JSON summary counts), served by :func:`serve`.

Counters only go up. A commit that changes the fate of another batch's record (insert mode's
displacement, an atomic job's apply) moves a count in the summary; here it is counted in
``records_moved_total{from_outcome, to_outcome}``, so that for each outcome
``records_total + moved in - moved out`` is the summary's count."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from typing import Any, Final

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from libs.constants import H_DELIVERY_COUNT
from libs.errors import UserError
from libs.load.base import COUNTERS, Outcome

NAMESPACE: Final = "ingest_consumer"
BATCH_OUTCOMES: Final = ("done", "duplicate", "skipped", "dead_lettered", "requeued", "returned")
RECORD_OUTCOMES: Final = (*COUNTERS, "pending")
JOB_OUTCOMES: Final = ("applied", "failed")
# Seconds: a batch of 20000 records takes about 0.2-2 s; retries stretch it to minutes.
DURATION_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                           300.0)
log = structlog.get_logger("consumer")


class Metrics:
    """One consumer's metrics in a registry of their own (``registry``). Each method is one
    Stats event and costs a few counter increments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        kw: dict[str, Any] = {"namespace": NAMESPACE, "registry": self.registry}
        batches = Counter("batches", "Batch messages handled, by outcome: done (loaded and "
                          "committed), duplicate (done before: acked without writing), skipped "
                          "(committed unloaded: the job crossed its threshold or was aborted), "
                          "dead_lettered, requeued, returned (another dataset's).",
                          ["outcome"], **kw)
        records = Counter("records", "Records of the committed batches, by outcome at commit.",
                          ["outcome"], **kw)
        self._batches = {name: batches.labels(name) for name in BATCH_OUTCOMES}
        self._records = {name: records.labels(name) for name in RECORD_OUTCOMES}
        self._moved = Counter("records_moved", "Records of other batches whose outcome a "
                              "commit or an atomic job's apply changed.",
                              ["from_outcome", "to_outcome"], **kw)
        self._rejects = Counter("rejects", "Rejected records by reason code (README, "
                                "\"Reject reasons\").", ["reason"], **kw)
        self._duration = Histogram("batch_duration_seconds", "Seconds from delivery to ack of "
                                   "the committed batches (done and skipped).",
                                   buckets=DURATION_BUCKETS, **kw)
        self.in_flight = Gauge("batches_in_flight", "Deliveries being handled now.", **kw)
        self._redeliveries = Counter("redeliveries", "Deliveries flagged as redelivered by "
                                     "the broker (or with an x-delivery-count).", **kw)
        self._retries = Counter("database_retries", "Retries of a database operation after a "
                                "transient error, by operation.", ["operation"], **kw)
        jobs = Counter("atomic_jobs", "Atomic jobs this consumer applied, or whose apply "
                       "failed.", ["outcome"], **kw)
        self._jobs = {name: jobs.labels(name) for name in JOB_OUTCOMES}

    def committed(self, outcome: Outcome, seconds: float) -> None:
        """A batch acked after its commit (or a duplicate delivery); its handling time."""
        if outcome.duplicate:
            self._batches["duplicate"].inc()
            return
        skipped = outcome.records > 0 and outcome.skipped == outcome.records
        self._batches["skipped" if skipped else "done"].inc()
        self._duration.observe(seconds)
        for name, value in outcome.counts().items():
            if value:
                self._records[name].inc(value)
        if outcome.pending:
            self._records["pending"].inc(outcome.pending)

    def moved(self, moves: Mapping[tuple[str, str], int], rejected: Mapping[str, int]) -> None:
        """Counts moved between outcomes, and the rejects (by reason) of a commit or apply."""
        for (source, dest), n in moves.items():
            self._moved.labels(source, dest).inc(n)
        for reason, n in rejected.items():
            self._rejects.labels(reason).inc(n)

    def settled(self, outcome: str) -> None:
        """A batch not committed: dead_lettered, requeued or returned."""
        self._batches[outcome].inc()

    def applied(self, ok: bool) -> None:
        self._jobs["applied" if ok else "failed"].inc()

    def delivered(self, redelivered: bool | None, headers: Mapping[str, Any] | None) -> None:
        """A delivery: counted if the broker flags it redelivered (or counts deliveries)."""
        if redelivered or (headers or {}).get(H_DELIVERY_COUNT):
            self._redeliveries.inc()

    def retried(self, operation: str) -> None:
        """A database operation is retried (libs.retry.retry_transient's ``on_retry``)."""
        self._retries.labels(operation).inc()


def serve(metrics: Metrics, host: str, port: int) -> Callable[[], None]:
    """Serve ``metrics`` at http://HOST:PORT/metrics from a daemon thread; port 0: not at all.
    Returns the function that stops serving. UserError (one line) if the address cannot be
    bound: the port is in use, or HOST is not an address of this machine."""
    if not port:
        return lambda: None
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--metrics-port {port}: {host}:{port} is in use (each consumer on "
                            "a host needs a port of its own)") from exc
        raise UserError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    log.info("serving metrics", url=f"http://{host}:{port}/metrics")

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
