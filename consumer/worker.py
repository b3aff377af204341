"""The consumer loop: take batches, load each in one transaction, ack after COMMIT."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from consumer.load import Loader, Outcome
from consumer.parse import prepare
from libs import amqp, dataset, db, faults, messages
from libs.dataset import FieldPlan
from libs.errors import (
    ConfigurationError,
    PermanentError,
    PoisonMessage,
    RetryBudgetExhausted,
    Stopped,
    UserError,
)
from libs.retry import retry_transient
from libs.settings import ConsumerSettings

log = structlog.get_logger("consumer")
BURST_POLL_S = 0.5


@dataclass
class Stats:
    """A consumer's counters (README, "Counters"). Over every consumer of a job:
    records = rows_inserted + rows_replaced + rows_rejected."""

    batches_done: int = 0
    records: int = 0
    rows_inserted: int = 0
    rows_replaced: int = 0
    rows_rejected: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    duplicate_deliveries: int = 0
    dead_lettered: int = 0
    requeued: int = 0
    elapsed_s: float = 0.0
    rows_per_s: float = 0.0
    status: str = "ok"

    def add(self, outcome: Outcome) -> None:
        if outcome.duplicate:
            self.duplicate_deliveries += 1
            return
        self.batches_done += 1
        self.records += outcome.records
        self.rows_inserted += outcome.inserted
        self.rows_replaced += outcome.replaced
        self.rows_rejected += sum(outcome.rejected.values())
        self.rejects_by_reason.update(outcome.rejected)

    def dead_letter(self) -> None:
        """A message went to the dead-letter queue: the run did not load everything."""
        self.dead_lettered += 1
        if self.status == "ok":
            self.status = "dead_lettered"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rejects_by_reason": dict(self.rejects_by_reason)}


class Worker:
    def __init__(self, settings: ConsumerSettings, dataset_name: str) -> None:
        self.s = settings
        self.spec = dataset.get(dataset_name)
        self.stats = Stats()
        self.stop = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self._plans: dict[tuple[str, ...], FieldPlan] = {}
        self._pool: asyncpg.Pool | None = None
        self._connection: AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None
        self._loader: Loader | None = None
        self._deliveries = 0

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
        await db.check_schema(self._pool, self.spec)
        self._loader = Loader(self._pool, self.spec, self.s.postgres.url)
        self._connection = await retry_transient(
            lambda: amqp.connect(self.s.amqp, "csv-ingest-consumer"), budget=budget,
            what="connect to RabbitMQ", stop=self.stop)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.s.parallel)
        _, self._queue = await amqp.declare(channel, self.s.amqp)
        self._tag = await self._queue.consume(self._on_message)
        log.info("consuming", queue=self.s.amqp.queue, parallel=self.s.parallel,
                 burst=self.s.burst, database=self.s.postgres.safe_url)
        self._mark_ready(True)

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
        idle_checks, seen = 0, -1
        while not self.stop.is_set():
            await asyncio.sleep(BURST_POLL_S)
            if self.in_flight or seen != self._deliveries:
                idle_checks, seen = 0, self._deliveries
                continue
            with suppress(*amqp.BROKER_ERRORS):
                declared = await self._queue.declare()
                idle_checks = idle_checks + 1 if declared.message_count == 0 else 0
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
        if self.stop.is_set():
            with suppress(*amqp.BROKER_ERRORS):
                await message.nack(requeue=True)
            return
        task = asyncio.create_task(self._handle(message))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        started = time.monotonic()
        try:
            faults.hit("consumer.received", message.message_id)
            batch = messages.decode(message.headers, message.body)
            with structlog.contextvars.bound_contextvars(job_id=batch.job_id, batch=batch.seq,
                                                         line=batch.first_line):
                outcome = await self._process(batch)
                await self._settle(message, ack=True)
                self.stats.add(outcome)
                log.info("batch done" if not outcome.duplicate else "duplicate delivery: acked",
                         rows=outcome.inserted, replaced=outcome.replaced,
                         rejects=sum(outcome.rejected.values()),
                         ms=round((time.monotonic() - started) * 1000, 1))
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
            await self._settle(message, requeue=False)
        except Stopped:  # a signal during a retry: not committed, back to the queue
            await self._settle(message, requeue=True)
        except RetryBudgetExhausted as exc:
            log.error("database unavailable too long: requeued", error=str(exc))
            self.stats.requeued += 1
            await self._settle(message, requeue=True)
        except Exception:  # a bug, not the data: requeue; x-delivery-limit bounds the loop
            log.exception("unexpected error: requeued", message_id=message.message_id)
            self.stats.requeued += 1
            await self._settle(message, requeue=True)

    async def _process(self, batch: messages.Batch) -> Outcome:
        plan = self._plan(batch)
        assert self._loader is not None
        loader = self._loader
        # Republished and redelivered batches skip validation, the costly part.
        # After a signal an attempt under way finishes (_drain bounds it); none is retried.
        if await retry_transient(lambda: loader.finished(batch), budget=self.s.retry_timeout,
                                 what="look up batch", stop=self.stop, finish_attempt=True):
            return Outcome(duplicate=True)
        prepared = prepare(batch, plan, self.s.max_record_bytes)
        return await retry_transient(lambda: loader.load(batch, prepared),
                                     budget=self.s.retry_timeout, what="load batch",
                                     stop=self.stop, finish_attempt=True)

    def _plan(self, batch: messages.Batch) -> FieldPlan:
        if batch.dataset != self.spec.name:
            raise PoisonMessage(f"batch for dataset {batch.dataset!r}, this consumer loads "
                                f"{self.spec.name!r}")
        plan = self._plans.get(batch.columns)
        if plan is None:
            try:
                plan = self.spec.plan(batch.columns)
            except UserError as exc:
                raise PoisonMessage(str(exc)) from exc
            self._plans[batch.columns] = plan
        return plan

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
