"""RabbitMQ: connect, declare the topology, publish with confirms, follow flow control.

Topology for queue Q: a durable direct exchange Q routes to the quorum queue Q, whose
dead-letter exchange Q.dlx routes to the queue Q.dlq. ``x-delivery-limit`` bounds how often a
message is delivered before it is dead-lettered, so a poison message never loops.

Errors: what retrying cannot fix (a refused login or virtual host, ACCESS_REFUSED, NOT_FOUND,
PRECONDITION_FAILED) becomes BrokerRefused; everything else BrokerUnavailable (retried).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Final, TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq import exceptions as mq
from pamqp.commands import Basic
from yarl import URL

from libs import constants as c
from libs.errors import BrokerBlocked, BrokerRefused, BrokerUnavailable, IngestError
from libs.messages import Batch, Seal
from libs.retry import until_stopped
from libs.settings import AmqpSettings, redact_text

T = TypeVar("T")
log = structlog.get_logger(__name__)
CONNECT_TIMEOUT: Final = 10.0
CLOSE_TIMEOUT: Final = 5.0
# A broker that blocks us does not read our Connection.Close (aiormq would wait 2 s for its
# Close-Ok): do not wait for the answer then.
CLOSE_WHILE_BLOCKED_TIMEOUT: Final = 0.2
BROKER_ERRORS: Final = (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException,
                        ConnectionError, OSError, TimeoutError, RuntimeError)


def _refusal_hint(exc: BaseException, settings: AmqpSettings) -> str | None:
    """What was refused and what to change, for what retrying cannot fix; None otherwise."""
    who = f"user {settings.user!r} on virtual host {settings.vhost!r}"
    if isinstance(exc, mq.AuthenticationError | mq.ProbableAuthenticationError):
        return f"login of {who} refused: check the user and password in AMQP_URL / --amqp-url"
    if isinstance(exc, mq.ConnectionNotAllowed) or (
            isinstance(exc, mq.InvalidFrameError) and "Connection.OpenOk" in str(exc)):
        return (f"virtual host {settings.vhost!r} refused to user {settings.user!r}: check that "
                f"it exists and that the user may use it (rabbitmqctl list_permissions -p "
                f"{settings.vhost})")
    if isinstance(exc, mq.ChannelPreconditionFailed) and "message size" in str(exc):
        return ("message larger than the broker's max_message_size: lower --batch-bytes / "
                "INGEST_BATCH_BYTES below it (or raise max_message_size in rabbitmq.conf)")
    if isinstance(exc, mq.ChannelPreconditionFailed):
        return (f"queue or exchange {settings.queue!r} exists with other settings: delete it "
                "or choose another INGEST_QUEUE / --queue")
    if isinstance(exc, mq.ChannelAccessRefused):
        names = "'^" + re.escape(settings.queue) + "'"
        return (f"permission refused to {who}: grant it configure, write and read on the "
                f"queue's names (rabbitmqctl set_permissions -p {settings.vhost} "
                f"{settings.user} {names} {names} {names})")
    if isinstance(exc, mq.ChannelNotFoundEntity):
        return (f"exchange or queue {settings.queue!r} not found (deleted while running?): "
                "rerun to declare it again")
    return None


def translate(exc: BaseException, settings: AmqpSettings, what: str = "") -> IngestError:
    """The project's error for an exception of aio_pika / aiormq / the network."""
    text = redact_text(f"{type(exc).__name__}: {exc}", settings.url)
    where = f"RabbitMQ at {settings.safe_url}" + (f", {what}" if what else "")
    hint = _refusal_hint(exc, settings)
    if hint is None:
        return BrokerUnavailable(f"{where}: {text}")
    return BrokerRefused(f"{where}: {hint} ({text})")


class _SaidByUs(logging.Filter):
    """aiormq records that repeat what we log ourselves: its error for each failed connection
    attempt (our 'retrying' line names the error) and its blocked / unblocked warnings (the
    producer says it once, with the reason)."""

    REPEATS: Final = ("error when creating transport", "Connection %r was blocked",
                      "Connection %r was unblocked")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.REPEATS)


_SAID_BY_US: Final = _SaidByUs()


async def connect(settings: AmqpSettings, name: str) -> AbstractRobustConnection:
    """A robust connection (it restores channels and consumers after a broker restart).

    As aio_pika.connect_robust, but an attempt that fails or is cancelled (a stop) closes the
    connection: its reconnect task would otherwise keep going, swallowing the cancellation,
    and the process would never exit.
    """
    logging.getLogger("aiormq.connection").addFilter(_SAID_BY_US)  # once: the same filter
    connection = aio_pika.RobustConnection(URL(settings.url),
                                           client_properties={"connection_name": name})
    try:
        await connection.connect(timeout=CONNECT_TIMEOUT)
    except BaseException as exc:
        await asyncio.shield(close(connection))
        if isinstance(exc, BROKER_ERRORS):
            raise translate(exc, settings) from exc
        raise
    return connection


async def close(connection: AbstractRobustConnection, flow: FlowControl | None = None) -> None:
    """Close ``connection``, waiting a bounded time; errors are ignored (we are leaving)."""
    wait_s = CLOSE_WHILE_BLOCKED_TIMEOUT if flow is not None and flow.blocked else CLOSE_TIMEOUT
    with suppress(*BROKER_ERRORS):
        await asyncio.wait_for(connection.close(), wait_s)


async def declare(channel: AbstractChannel,
                  settings: AmqpSettings) -> tuple[AbstractExchange, AbstractQueue]:
    """Declare (idempotently) the exchanges and queues; return the main exchange and queue."""
    try:
        dlx = await channel.declare_exchange(
            settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
        dlq = await channel.declare_queue(
            settings.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        await dlq.bind(dlx, routing_key=settings.queue)
        exchange = await channel.declare_exchange(
            settings.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
        queue = await channel.declare_queue(settings.queue, durable=True, arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": settings.queue,
            "x-delivery-limit": settings.delivery_limit,
        })
        await queue.bind(exchange, routing_key=settings.queue)
    except BROKER_ERRORS as exc:
        raise translate(exc, settings, "declaring the queues") from exc
    return exchange, queue


def to_message(batch: Batch) -> aio_pika.Message:
    return aio_pika.Message(
        body=batch.body,
        headers=batch.headers(),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=batch.message_id,
        content_type=c.CONTENT_TYPE,
        type=f"{batch.dataset}.batch.v{batch.version}",
        app_id="csv-ingest-producer",
    )


def seal_message(seal: Seal) -> aio_pika.Message:
    return aio_pika.Message(body=b"", headers=seal.headers(),
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=seal.message_id, type="job.seal",
                            app_id="csv-ingest-producer")


def describe(message: aio_pika.Message) -> str:
    """``batch 3 (lines 2-5001, 612345 bytes)``, for error messages."""
    headers = message.headers or {}
    seq, first, last = (str(headers.get(name)) for name in (c.H_SEQ, c.H_FIRST_LINE,
                                                            c.H_LAST_LINE))
    return f"batch {seq} (lines {first}-{last}, {len(message.body)} bytes)"


async def publish(exchange: AbstractExchange, settings: AmqpSettings,
                  message: aio_pika.Message, wait_s: float,
                  flow: FlowControl | None = None) -> None:
    """Publish and wait for the broker's ack; a nack, a return or a timeout raises.

    With ``flow``, ``wait_s`` counts only while the broker does not block publishing.
    """
    flow = flow or FlowControl(limit_s=wait_s)
    try:
        result = await flow.unblocked_within(
            exchange.publish(message, routing_key=settings.queue, mandatory=True, timeout=None),
            wait_s)
    except BROKER_ERRORS as exc:
        raise translate(exc, settings, f"publishing {describe(message)}") from exc
    if not isinstance(result, Basic.Ack):
        raise BrokerUnavailable(f"publish of {message.message_id} not confirmed: {result!r}")


class FlowControl:
    """Whether RabbitMQ blocks this connection's publishers (``connection.blocked``).

    RabbitMQ blocks publishing connections while a memory or disk alarm is on
    (https://www.rabbitmq.com/docs/connection-blocked). That is not an outage: waits pause
    instead of timing out. A block is bounded by ``limit_s`` from its start (BrokerBlocked);
    ``stop`` ends every wait at once (Stopped). ``on_change`` gets the reason, or None when
    publishing is unblocked again.
    """

    def __init__(self, limit_s: float, stop: asyncio.Event | None = None,
                 on_change: Callable[[str | None], None] | None = None) -> None:
        self.limit_s = limit_s
        self.stop = stop
        self.on_change = on_change
        self.reason: str | None = None
        self._since = 0.0
        self._unblocked = asyncio.Event()
        self._unblocked.set()
        self._blocked = asyncio.Event()

    @property
    def blocked(self) -> bool:
        return self.reason is not None

    def set_blocked(self, reason: str) -> None:
        if self.blocked:
            return
        self.reason = reason or "resource alarm"
        self._since = time.monotonic()
        self._unblocked.clear()
        self._blocked.set()
        if self.on_change is not None:
            self.on_change(self.reason)

    def set_unblocked(self) -> None:
        if not self.blocked:
            return
        self.reason = None
        self._blocked.clear()
        self._unblocked.set()
        if self.on_change is not None:
            self.on_change(None)

    async def wait_unblocked(self) -> None:
        """Return once publishing is not blocked; BrokerBlocked after ``limit_s`` blocked."""
        while self.reason is not None:
            remaining = self._since + self.limit_s - time.monotonic()
            if remaining <= 0:
                raise BrokerBlocked(
                    f"RabbitMQ blocked publishing for {self.limit_s:g}s ({self.reason}): its "
                    "memory or disk alarm stayed on; free memory or disk on the broker, or "
                    "raise --blocked-timeout / PRODUCER_BLOCKED_TIMEOUT")
            try:
                async with asyncio.timeout(remaining):
                    await until_stopped(self._unblocked.wait(), self.stop,
                                        "wait for RabbitMQ to unblock publishing")
            except TimeoutError:
                continue

    async def unblocked_within(self, awaitable: Awaitable[T], wait_s: float) -> T:
        """``awaitable``'s result; TimeoutError after ``wait_s`` seconds without a block.

        The clock stops while blocked and restarts from zero once unblocked (the broker then
        reads what it held back and confirms it).
        """
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                await self.wait_unblocked()
                blocked = asyncio.ensure_future(self._blocked.wait())
                try:
                    await asyncio.wait({task, blocked}, timeout=wait_s,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    blocked.cancel()
                if task.done():
                    return task.result()
                if not self.blocked:
                    raise TimeoutError(f"no confirm within {wait_s:g}s")
        finally:
            task.cancel()


# aiormq handles Connection.Blocked / Unblocked in its reader loop with two private methods
# (aiormq/connection.py, Connection.__handle_connection_blocked / _unblocked: they log and
# toggle a private event); it has no public callback. These are the only two names we rely on;
# tests/test_flow_control.py checks they exist, so an aiormq upgrade that renames them fails
# the tests, not production.
BLOCKED_HOOKS: Final = ("_Connection__handle_connection_blocked",
                        "_Connection__handle_connection_unblocked")


def _hook(underlay: Any, flow: FlowControl) -> bool:
    """Wrap the two handlers on this aiormq connection instance; False if they are gone."""
    blocked_name, unblocked_name = BLOCKED_HOOKS
    on_blocked = getattr(underlay, blocked_name, None)
    on_unblocked = getattr(underlay, unblocked_name, None)
    if on_blocked is None or on_unblocked is None:
        return False

    async def blocked(frame: Any) -> None:
        flow.set_blocked(str(getattr(frame, "reason", "") or ""))
        await on_blocked(frame)

    async def unblocked(frame: Any) -> None:
        flow.set_unblocked()
        await on_unblocked(frame)

    setattr(underlay, blocked_name, blocked)
    setattr(underlay, unblocked_name, unblocked)
    return True


def watch_blocked(connection: AbstractRobustConnection, flow: FlowControl) -> None:
    """Feed ``flow`` from ``connection``'s blocked / unblocked notices, across reconnects."""

    def install(*_: Any) -> None:
        flow.set_unblocked()  # a new connection starts unblocked
        transport = connection.transport
        if transport is not None and not _hook(transport.connection, flow):
            log.warning(
                "cannot observe connection.blocked with this aiormq version: a resource alarm "
                "will look like publish timeouts")

    install()
    connection.reconnect_callbacks.add(install)
