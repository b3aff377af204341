"""libs/retry.py: a stop event ends the backoff pause and the attempt; budgets still bound."""

from __future__ import annotations

import asyncio

import pytest

from libs.errors import BrokerUnavailable, RetryBudgetExhausted, Stopped
from libs.retry import Backoff, retry_transient, until_stopped

pytestmark = pytest.mark.unit


async def test_until_stopped_cancels_the_attempt() -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def attempt() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    asyncio.get_running_loop().call_later(0.05, stop.set)
    with pytest.raises(Stopped):
        await until_stopped(attempt(), stop, "attempt")
    assert cancelled.is_set()


async def test_until_stopped_returns_the_result_when_no_stop() -> None:
    assert await until_stopped(asyncio.sleep(0, result=7), asyncio.Event(), "x") == 7


async def test_stop_ends_the_backoff_pause() -> None:
    stop = asyncio.Event()
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        stop.set()  # the signal arrives during the first attempt
        raise BrokerUnavailable("down")

    with pytest.raises(Stopped):
        await retry_transient(failing, budget=600, what="connect", stop=stop,
                              backoff=Backoff(base=60, cap=60))
    assert calls == 1


async def test_finish_attempt_lets_the_attempt_end_but_does_not_retry() -> None:
    stop = asyncio.Event()
    calls = 0

    async def slow_then_fail() -> None:
        nonlocal calls
        calls += 1
        stop.set()
        await asyncio.sleep(0.05)
        raise BrokerUnavailable("down")

    with pytest.raises(Stopped):
        await retry_transient(slow_then_fail, budget=600, what="load", stop=stop,
                              finish_attempt=True)
    assert calls == 1

    async def slow_ok() -> int:
        await asyncio.sleep(0.05)
        return 3

    assert await retry_transient(slow_ok, budget=1, what="load", stop=stop,
                                 finish_attempt=True) == 3


async def test_budget_still_bounds_retries() -> None:
    async def failing() -> None:
        raise BrokerUnavailable("down")

    with pytest.raises(RetryBudgetExhausted):
        await retry_transient(failing, budget=0.2, what="connect", stop=asyncio.Event(),
                              backoff=Backoff(base=0.01, cap=0.05))
