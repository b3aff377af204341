"""Exponential backoff with full jitter, bounded by a time budget, and ended by a stop event."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import structlog

from libs.errors import RetryBudgetExhausted, Stopped, TransientError

T = TypeVar("T")
log = structlog.get_logger(__name__)

# How long an interrupted attempt gets to unwind after its cancellation (closing a socket).
CANCEL_WAIT_S: Final = 1.0


@dataclass(frozen=True)
class Backoff:
    """Delays of min(cap, base * 2**attempt) with full jitter."""

    base: float = 0.2
    cap: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))


async def _cancel(task: asyncio.Future[T]) -> None:
    """Cancel ``task`` and give it CANCEL_WAIT_S to unwind; its outcome is dropped."""
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: it lost the race with the stop


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event | None, what: str) -> T:
    """``awaitable``'s result; if ``stop`` is set first it is cancelled and Stopped raised."""
    if stop is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            await _cancel(task)
    if task.cancelled() and stop.is_set():
        raise Stopped(f"{what}: stopped before it finished")
    return task.result()


async def retry_transient(
    func: Callable[[], Awaitable[T]],
    *,
    budget: float,
    what: str,
    backoff: Backoff = Backoff(),
    stop: asyncio.Event | None = None,
    finish_attempt: bool = False,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Call ``func`` until it succeeds; retry TransientError for at most ``budget`` seconds.

    Once ``stop`` is set no retry starts and the backoff pause ends at once (Stopped). An
    attempt in progress (the first one too, even if ``stop`` was set before it) is interrupted,
    unless ``finish_attempt``: then the caller bounds it (the consumer's shutdown timeout, the
    producer's confirm wait). ``on_retry(what)`` is called before each retry's pause (the
    consumer counts them in its metrics).
    """
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        if attempt and stop is not None and stop.is_set():
            raise Stopped(f"{what}: stopped before it succeeded")
        try:
            if finish_attempt:
                return await func()
            return await until_stopped(func(), stop, what)
        except TransientError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RetryBudgetExhausted(f"{what}: gave up after {budget:g}s: {exc}") from exc
            pause = min(backoff.delay(attempt), remaining)
            log.warning("retrying", what=what, attempt=attempt + 1, in_s=round(pause, 2),
                        error=str(exc))
            if on_retry is not None:
                on_retry(what)
            attempt += 1
            await until_stopped(asyncio.sleep(pause), stop, what)
