"""The consumer loop: take batches, load each in one transaction, ack after COMMIT."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any, Final, TypeVar

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from consumer.applier import Applier
from consumer.datasets import Resolver, TableChanged
from consumer.stats import Stats
from libs import amqp, db, deadletters, faults, messages, registry
from libs import constants as c
from libs.errors import (
    ConfigurationError,
    IngestError,
    PermanentError,
    PoisonMessage,
    RetryBudgetExhausted,
    Stopped,
)
from libs.load import Loader, Outcome, mode_class
from libs.load.atomic import AtomicLoader
from libs.load.jobs import JobRef, Jobs
from libs.load.prepared import Prepared
from libs.load.target import Target
from libs.load.threshold import Threshold, is_threshold_error
from libs.retry import retry_transient
from libs.schema.model import Dataset
from libs.settings import ConsumerSettings
from libs.validate_vector import VALIDATORS

DELIVERY_COUNT_HEADER: Final = c.H_DELIVERY_COUNT  # set by quorum queues on redelivery
log = structlog.get_logger("consumer")
T = TypeVar("T")
BURST_POLL_S = 0.5
RECORD_DEAD_BUDGET_S = 5.0  # recording a dead-lettered batch is retried this long, then logged
RETURN_DELAY_S = 1.0  # a batch of a dataset this consumer does not load waits, then goes back
# A load that fails on these (undefined column, undefined table) checks the table again.
SCHEMA_CHANGED: Final = frozenset({"42703", "42P01"})


class NotMine(Exception):
    """A batch of a dataset outside this consumer's --dataset filter."""


class Worker:
    def __init__(self, settings: ConsumerSettings) -> None:
        self.s = settings
        self.stats = Stats()
        self.stop = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self._pool: asyncpg.Pool | None = None
        self._connection: AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None
        self._exchange: AbstractExchange | None = None
        self._resolver: Resolver | None = None
        self._jobs: Jobs | None = None
        self._applier: Applier | None = None
        self._scanner: asyncio.Task[None] | None = None
        self._loaders: dict[str, Loader] = {}
        self._atomic: dict[str, Loader] = {}
        self._deliveries = 0
        self._returning = 0  # in-flight tasks that only send a batch back
        self.stats.metrics.in_flight.set_function(lambda: len(self.in_flight))
        self._name = db.consumer_name()
        self._prepare = VALIDATORS[settings.validation]  # the row or the vector validator

    async def main(self) -> Stats:
        started = time.monotonic()
        try:
            await self._startup()
            await self._consume_until_stopped()
        except Stopped:
            log.info("stopped before consuming")
        except BaseException:
            self.stats.status = "failed"
            raise
        finally:
            await self.close()
            self.stats.elapsed_s = round(time.monotonic() - started, 3)
            if self.stats.elapsed_s:
                self.stats.rows_per_s = round(self.stats.records / self.stats.elapsed_s, 1)
            log.info("consumer stopped", **self.stats.as_dict())
        return self.stats

    async def _startup(self) -> None:
        """Connect (retrying within retry_timeout) and start consuming; a signal ends it at
        once (Stopped)."""
        budget = self.s.retry_timeout
        self._pool = await retry_transient(
            lambda: db.create_pool(self.s.postgres, self.s.parallel), budget=budget,
            what="connect to PostgreSQL", stop=self.stop)
        pool = self._pool  # a connection cut while checking is retried like the connect
        await retry_transient(lambda: db.check_schema(pool), budget=budget,
                              what="check the database schema", stop=self.stop)
        self._resolver = Resolver(self._pool, self.s.postgres.url, self.s.datasets_dir,
                                  self.s.max_record_bytes)
        self._jobs = Jobs(self._pool, self.s.postgres.url)
        self._applier = Applier(self._pool, self.s.postgres.url, self._resolver, self._loader,
                                self._retry, self.stats.applied)
        self._connection = await retry_transient(
            lambda: amqp.connect(self.s.amqp, "csv-ingest-consumer"), budget=budget,
            what="connect to RabbitMQ", stop=self.stop)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.s.parallel)
        self._exchange, self._queue = await amqp.declare(channel, self.s.amqp)
        self._tag = await self._queue.consume(self._on_message)
        log.info("consuming", queue=self.s.amqp.queue, parallel=self.s.parallel,
                 burst=self.s.burst, validation=self.s.validation,
                 database=self.s.postgres.safe_url,
                 datasets=list(self.s.datasets) or "all")
        self._mark_ready(True)
        self._applier.busy += 1  # until the first scan is done (burst mode waits for it)
        self._scanner = asyncio.create_task(self._scan())

    def _mark_ready(self, ready: bool) -> None:
        """Create (connected and consuming) or remove the ``--ready-file``, if one is set."""
        path = self.s.ready_file
        if path is None:
            return
        if ready:
            path.write_text(f"{os.getpid()}\n")
        else:
            path.unlink(missing_ok=True)

    async def _consume_until_stopped(self) -> None:
        if self.s.burst:
            watcher = asyncio.create_task(self._stop_when_idle())
            await self.stop.wait()
            watcher.cancel()
        else:
            await self.stop.wait()
        await self._drain()

    async def _stop_when_idle(self) -> None:
        """Burst mode: stop once the queue is empty and nothing is in flight, twice running."""
        assert self._queue is not None
        idle_checks, seen, returned = 0, -1, self.stats.returned
        while not self.stop.is_set():
            await asyncio.sleep(BURST_POLL_S)
            ours = self._deliveries - self.stats.returned
            busy = self._applier is not None and self._applier.busy > 0
            if len(self.in_flight) > self._returning or seen != ours or busy:
                idle_checks, seen, returned = 0, ours, self.stats.returned
                continue
            # Only batches of other datasets keep coming back: nothing left for this one.
            others_only = self.stats.returned > returned
            returned = self.stats.returned
            with suppress(*amqp.BROKER_ERRORS):
                declared = await self._queue.declare()
                idle = declared.message_count == 0 or others_only
                idle_checks = idle_checks + 1 if idle else 0
            if idle_checks >= 2:
                log.info("queue empty: burst mode done")
                self.stop.set()

    async def _drain(self) -> None:
        """Stop taking messages; let in-flight batches finish within the shutdown bound."""
        connected = self._connection is not None and self._connection.connected.is_set()
        if self._queue is not None and connected:  # else the cancel would wait for a reconnect
            with suppress(*amqp.BROKER_ERRORS):
                await asyncio.wait_for(self._queue.cancel(self._tag), 5)
        if self.in_flight:
            log.info("waiting for in-flight batches", count=len(self.in_flight))
            _, pending = await asyncio.wait(self.in_flight, timeout=self.s.shutdown_timeout)
            for task in pending:  # not committed: rolled back, the broker redelivers them
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._scanner is not None:  # an apply under way gets the same bound, then rolls back
            _, late = await asyncio.wait([self._scanner], timeout=self.s.shutdown_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(self._scanner, return_exceptions=True)

    async def _scan(self) -> None:
        """At start, then every --apply-scan seconds: apply complete atomic jobs left over."""
        applier = self._applier
        assert applier is not None
        try:
            await applier.scan_safely(self.s.datasets)
        finally:
            applier.busy -= 1
        await applier.scan_forever(self.s.datasets, self.s.apply_scan, self.stop)

    async def close(self) -> None:
        self._mark_ready(False)
        if self._connection is not None:
            with suppress(*amqp.BROKER_ERRORS):
                await asyncio.wait_for(self._connection.close(), 5)
        if self._pool is not None:
            await db.wait_closed(self._pool, 5)

    def handle_signal(self, signum: int) -> None:
        """Stop taking work and stop retrying now; in-flight batches get shutdown_timeout."""
        log.info("signal received: stopping; in-flight batches finish or go back to the queue",
                 signal=signal.Signals(signum).name)
        self.stop.set()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._deliveries += 1
        self.stats.metrics.delivered(message.redelivered, message.headers)
        if self.stop.is_set():
            with suppress(*amqp.BROKER_ERRORS):
                await message.nack(requeue=True)
            return
        task = asyncio.create_task(self._handle(message))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        started = time.monotonic()
        batch: messages.Batch | None = None  # None: not decoded (no job to record it in)
        try:
            faults.hit("consumer.received", message.message_id)
            if messages.is_seal(message.headers):
                await self._on_seal(message)
                return
            batch = messages.decode(message.headers, message.body)
            with structlog.contextvars.bound_contextvars(job_id=batch.job_id, batch=batch.seq,
                                                         line=batch.first_line):
                last = last_delivery(message.headers, self.s.amqp.delivery_limit)
                outcome, job = await self._process(batch, last)
                await self._settle(message, ack=True)
                self.stats.add(outcome, time.monotonic() - started)
                counts = {} if outcome.duplicate else outcome.counts()
                log.info("batch done" if not outcome.duplicate else "duplicate delivery: acked",
                         **counts, pending=outcome.pending,
                         ms=round((time.monotonic() - started) * 1000, 1))
                if outcome.crossed:
                    log.warning("error threshold crossed: later batches are skipped",
                                error=outcome.crossed)
                if job is not None and not outcome.duplicate:
                    assert self._applier is not None
                    await self._applier.after_commit(batch.job_id, job)
        except NotMine as exc:
            log.warning("batch of another dataset: returned to the queue", dataset=str(exc),
                        loads=list(self.s.datasets))
            self.stats.settled("returned")
            self._returning += 1
            try:
                await asyncio.sleep(RETURN_DELAY_S)
                await self._return(message)
            finally:
                self._returning -= 1
        except (PoisonMessage, PermanentError) as exc:
            if isinstance(exc, ConfigurationError):
                log.error("configuration error: requeued, stopping", error=str(exc))
                await self._settle(message, requeue=True)
                self.stats.status = "failed"
                self.stop.set()
                return
            log.error("poison message: dead-lettered", error=str(exc),
                      message_id=message.message_id)
            self.stats.dead_letter()
            await self._record_dead(batch, f"poison message: {exc}")
            await self._settle(message, requeue=False)
        except Stopped:  # a signal during a retry: not committed, back to the queue
            await self._settle(message, requeue=True)
        except RetryBudgetExhausted as exc:
            await self._give_back(message, batch, "database unavailable too long", str(exc))
        except Exception as exc:  # a bug, not the data: requeue; x-delivery-limit bounds the loop
            log.exception("unexpected error", message_id=message.message_id)
            await self._give_back(message, batch, "unexpected error",
                                  f"{type(exc).__name__}: {exc}")

    async def _give_back(self, message: AbstractIncomingMessage, batch: messages.Batch | None,
                         why: str, error: str) -> None:
        """Requeue a batch that failed for a reason other than its data; on its last allowed
        delivery, dead-letter it ourselves so that this consumer says so (status, exit code)
        instead of the broker doing it silently on the requeue."""
        if last_delivery(message.headers, self.s.amqp.delivery_limit):
            log.error(f"{why}: dead-lettered (delivery limit reached)", error=error,
                      message_id=message.message_id)
            self.stats.dead_letter()
            await self._record_dead(batch, f"delivery limit reached: {why}: {error}")
            await self._settle(message, requeue=False)
            return
        log.error(f"{why}: requeued", error=error)
        self.stats.settled("requeued")
        await self._settle(message, requeue=True)

    async def _record_dead(self, batch: messages.Batch | None, reason: str) -> None:
        """Record a dead-lettered batch in ``ingest_dead_letters`` (its job then fails once
        the rest is done); best effort: PostgreSQL unavailable is logged. An undecoded
        message (``batch`` None) has no job: its log line is all."""
        if batch is None:
            return
        try:
            await retry_transient(lambda: self._record(batch, reason), what="record a dead letter",
                                  budget=min(RECORD_DEAD_BUDGET_S, self.s.retry_timeout))
        except IngestError as exc:
            log.warning("could not record the dead-lettered batch", error=str(exc))

    async def _record(self, batch: messages.Batch, reason: str) -> None:
        assert self._pool is not None
        async with db.translated(self.s.postgres.url), self._pool.acquire() as conn:
            await deadletters.record(conn, batch, reason, self._name)

    async def _on_seal(self, message: AbstractIncomingMessage) -> None:
        """The producer sealed a job: ack, then apply it if it is a complete atomic job (or
        check its error ratio)."""
        seal = messages.decode_seal(message.headers)
        if self.s.datasets and seal.dataset not in self.s.datasets:
            raise NotMine(seal.dataset)
        await self._settle(message, ack=True)
        log.info("seal message", job_id=seal.job_id)
        assert self._applier is not None
        await self._applier.after_seal(seal.job_id)

    async def _process(self, batch: messages.Batch,
                       last: bool = False) -> tuple[Outcome, JobRef | None]:
        """Load ``batch`` (or skip it, or see it done already). ``last``: its last allowed
        delivery: it is recorded dead-lettered first (``libs.deadletters.LAST_DELIVERY``), in
        case this consumer dies on it; its batch-done record wins over that."""
        if self.s.datasets and batch.dataset not in self.s.datasets:
            raise NotMine(batch.dataset)
        assert self._resolver is not None
        resolver = self._resolver
        dataset = await self._retry(lambda: resolver.dataset(batch), "resolve dataset")
        jobs = self._jobs
        assert jobs is not None
        job = await self._retry(lambda: jobs.get(batch, dataset.load.mode), "look up the job")
        loader = self._atomic_loader(job.mode) if job.atomic else self._loader(job.mode)
        # Republished and redelivered batches skip validation, the costly part.
        # After a signal an attempt under way finishes (_drain bounds it); none is retried.
        status = await self._retry(lambda: loader.status(batch), "look up batch")
        if status.finished:
            return Outcome(duplicate=True), job
        if is_threshold_error(status.job_error) or status.job_error == registry.ABORTED:
            outcome = await self._retry(lambda: loader.skip(batch), "skip batch")
            return outcome, None
        if status.job_error is not None:
            raise PoisonMessage(f"job {batch.job_id} was stopped: {status.job_error}")
        if status.applied:  # a batch cut otherwise (another --batch-size) after the apply
            log.warning("batch of an atomic job applied already: ignored")
            return Outcome(duplicate=True), None
        if last:
            await self._retry(lambda: self._record(batch, deadletters.LAST_DELIVERY),
                              "record the last delivery")
        return await self._validate_and_load(batch, dataset, job, loader), job

    async def _validate_and_load(self, batch: messages.Batch, dataset: Dataset, job: JobRef,
                                 loader: Loader) -> Outcome:
        resolver = self._resolver
        assert resolver is not None
        threshold = None if job.atomic else job.threshold
        plan = resolver.plan(dataset, batch.columns)
        try:
            target = await self._retry(lambda: resolver.target(batch, dataset, plan),
                                       "check the table")
            prepared = self._prepare(batch, plan, resolver.reader(dataset),
                                     first_wins=self._loader(job.mode).first_wins)
            if hold := faults.hold_s("consumer.hold", str(batch.seq)):
                await asyncio.sleep(hold)
            try:
                return await self._load(loader, batch, prepared, target, job.seq, threshold)
            except ConfigurationError as exc:
                if getattr(exc.__cause__, "sqlstate", None) not in SCHEMA_CHANGED:
                    raise
                log.warning("the table changed: checking it again", error=str(exc))
                target = await self._retry(
                    lambda: resolver.target(batch, dataset, plan, recheck=True),
                    "check the table")
                return await self._load(loader, batch, prepared, target, job.seq, threshold)
        except TableChanged as exc:
            resolver.forget(batch.job_id)
            error = str(exc)
            kept = await self._retry(lambda: loader.fail_job(batch, error), "stop the job")
            raise TableChanged(kept) from exc

    async def _load(self, loader: Loader, batch: messages.Batch, prepared: Prepared,
                    target: Target, job_seq: int, threshold: Threshold | None) -> Outcome:
        return await self._retry(
            lambda: loader.load(batch, prepared, target, job_seq, threshold), "load batch")

    async def _retry(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        return await retry_transient(attempt, budget=self.s.retry_timeout, what=what,
                                     stop=self.stop, finish_attempt=True,
                                     on_retry=self.stats.metrics.retried)

    def _loader(self, mode: str) -> Loader:
        """The Loader of a load mode, looked up (libs.load.MODES), one per mode."""
        found = self._loaders.get(mode)
        if found is None:
            assert self._pool is not None
            found = self._loaders[mode] = mode_class(mode)(self._pool, self.s.postgres.url)
        return found

    def _atomic_loader(self, mode: str) -> Loader:
        """The Loader that stages the batches of atomic jobs of a load mode."""
        found = self._atomic.get(mode)
        if found is None:
            assert self._pool is not None
            found = self._atomic[mode] = AtomicLoader(self._pool, self.s.postgres.url,
                                                      self._loader(mode))
        return found

    async def _return(self, message: AbstractIncomingMessage) -> None:
        """Publish a copy (confirmed) and ack the delivery: a nack with requeue would count
        toward the quorum queue's x-delivery-limit and dead-letter a good batch. A crash in
        between leaves two copies; the batch-done record makes the second a no-op."""
        assert self._exchange is not None
        copy = aio_pika.Message(body=message.body, headers=message.headers,
                                content_type=message.content_type,
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                message_id=message.message_id)
        try:
            await amqp.publish(self._exchange, self.s.amqp, copy, 10)
        except Exception as exc:  # not republished: requeue instead (counts a delivery)
            log.warning("could not republish: requeued", error=str(exc))
            await self._settle(message, requeue=True)
            return
        await self._settle(message, ack=True)

    async def _settle(self, message: AbstractIncomingMessage, *, ack: bool = False,
                      requeue: bool = False) -> None:
        """Ack / nack; if the channel is gone the broker redelivers, and dedupe absorbs it."""
        try:
            if ack:
                await message.ack()
            elif requeue:
                await message.nack(requeue=True)
            else:
                await message.reject(requeue=False)
        except amqp.BROKER_ERRORS as exc:
            log.warning("could not settle the message (it will be redelivered)",
                        error=str(exc))


def last_delivery(headers: Mapping[str, Any] | None, delivery_limit: int) -> bool:
    """True if a requeue would make the quorum queue dead-letter the message: it counts the
    failed deliveries so far in ``x-delivery-count`` (absent on the first delivery) and
    dead-letters once they exceed ``x-delivery-limit`` (RabbitMQ, quorum queues: poison
    message handling)."""
    count = (headers or {}).get(DELIVERY_COUNT_HEADER, 0)
    failed = count if isinstance(count, int) and not isinstance(count, bool) else 0
    return failed + 1 > delivery_limit
