"""Exponential backoff with full jitter, bounded by a time budget."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from libs.errors import RetryBudgetExhausted, TransientError

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays of min(cap, base * 2**attempt) with full jitter."""

    base: float = 0.2
    cap: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))


async def retry_transient(
    func: Callable[[], Awaitable[T]],
    *,
    budget: float,
    what: str,
    backoff: Backoff = Backoff(),
) -> T:
    """Call ``func`` until it succeeds; retry TransientError for at most ``budget`` seconds."""
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        try:
            return await func()
        except TransientError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RetryBudgetExhausted(f"{what}: gave up after {budget:g}s: {exc}") from exc
            pause = min(backoff.delay(attempt), remaining)
            log.warning("retrying", what=what, attempt=attempt + 1, in_s=round(pause, 2),
                        error=str(exc))
            attempt += 1
            await asyncio.sleep(pause)
