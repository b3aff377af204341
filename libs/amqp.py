"""RabbitMQ: connect, declare the topology, publish with confirms.

Topology for queue Q: a durable direct exchange Q routes to the quorum queue Q, whose
dead-letter exchange Q.dlx routes to the queue Q.dlq. ``x-delivery-limit`` bounds how often a
message is delivered before it is dead-lettered, so a poison message never loops.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic

from libs import constants as c
from libs.errors import BrokerUnavailable, ConfigurationError
from libs.messages import Batch
from libs.settings import AmqpSettings, redact_text

CONNECT_TIMEOUT: Final = 10.0
BROKER_ERRORS: Final = (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException,
                        ConnectionError, OSError, TimeoutError, RuntimeError)


def _unavailable(exc: BaseException, settings: AmqpSettings) -> BrokerUnavailable:
    text = redact_text(f"{type(exc).__name__}: {exc}", settings.url)
    return BrokerUnavailable(f"RabbitMQ at {settings.safe_url}: {text}")


async def connect(settings: AmqpSettings, name: str) -> AbstractRobustConnection:
    """A robust connection (it restores channels and consumers after a broker restart)."""
    try:
        return await aio_pika.connect_robust(
            settings.url, timeout=CONNECT_TIMEOUT, client_properties={"connection_name": name})
    except BROKER_ERRORS as exc:
        raise _unavailable(exc, settings) from exc


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
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise ConfigurationError(
            f"queue or exchange {settings.queue!r} exists with other settings ({exc}); "
            "delete it or choose another INGEST_QUEUE") from exc
    except BROKER_ERRORS as exc:
        raise _unavailable(exc, settings) from exc
    return exchange, queue


def to_message(batch: Batch) -> aio_pika.Message:
    return aio_pika.Message(
        body=batch.body,
        headers=batch.headers(),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=batch.message_id,
        content_type=c.CONTENT_TYPE,
        type=f"{batch.dataset}.batch.v{c.SCHEMA_VERSION}",
        app_id="csv-ingest-producer",
    )


async def publish(exchange: AbstractExchange, settings: AmqpSettings,
                  message: aio_pika.Message, wait_s: float) -> None:
    """Publish and wait for the broker's ack; a nack, a return or a timeout raises."""
    try:
        async with asyncio.timeout(wait_s):
            result = await exchange.publish(message, routing_key=settings.queue,
                                            mandatory=True, timeout=wait_s)
    except BROKER_ERRORS as exc:
        raise _unavailable(exc, settings) from exc
    if not isinstance(result, Basic.Ack):
        raise BrokerUnavailable(f"publish of {message.message_id} not confirmed: {result!r}")
