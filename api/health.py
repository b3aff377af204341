"""``/healthz`` (alive), ``/readyz`` (PostgreSQL, RabbitMQ and Redis answer), ``/metrics``.

The probes take no token: orchestrators' probes carry none, and they tell only whether the
process is up and which of the three services answers (never an address or an error text).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aio_pika
import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import problems
from api.problems import Problem
from libs.settings import ApiSettings

PROBE_TIMEOUT_S: Final = 3.0
probes = APIRouter(tags=["health"], responses=problems.RESPONSES)
metrics = APIRouter(tags=["health"], responses=problems.RESPONSES)


@probes.get("/healthz", summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _postgres(request: Request) -> None:
    async with request.app.state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")


async def _rabbitmq(request: Request) -> None:
    settings: ApiSettings = request.app.state.settings
    connection = await aio_pika.connect(settings.amqp.url, timeout=PROBE_TIMEOUT_S)
    await connection.close()


async def _redis(request: Request) -> None:
    settings: ApiSettings = request.app.state.settings
    client = aioredis.Redis.from_url(settings.redis.url, socket_timeout=PROBE_TIMEOUT_S,
                                     socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        await client.ping()
    finally:
        await client.aclose()


CHECKS: Final[dict[str, Callable[[Request], Awaitable[None]]]] = {
    "postgresql": _postgres, "rabbitmq": _rabbitmq, "redis": _redis}


async def _answers(check: Callable[[Request], Awaitable[None]], request: Request) -> bool:
    try:
        await asyncio.wait_for(check(request), PROBE_TIMEOUT_S)
    except Exception:  # any failure means "does not answer"
        return False
    return True


@probes.get("/readyz", summary="PostgreSQL, RabbitMQ and Redis answer")
async def readyz(request: Request) -> dict[str, Any]:
    """``{"status": "ready", "services": {...: "up"}}``; a 503 problem naming the services
    that do not answer."""
    results = await asyncio.gather(*(_answers(check, request) for check in CHECKS.values()))
    services = {name: "up" if ok else "down" for name, ok in zip(CHECKS, results, strict=True)}
    down = [name for name, state in services.items() if state == "down"]
    if down:
        raise Problem(503, f"not answering: {', '.join(down)}", "not-ready", services=services)
    return {"status": "ready", "services": services}


@metrics.get("/metrics", summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain; version=0.0.4": {}},
                              "description": "The exposition format."}})
async def get_metrics(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        body = await request.app.state.metrics.render(conn)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
