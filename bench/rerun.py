"""Kill and rerun: SIGKILL the producer at --kill-at, drain, time the resumed producer."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from children import SAMPLE_S, Child, Children
from errors import BenchError
from pipeline import POLL_S, Run, producer_rows, verify
from report import result
from services import confirmed_rows
from settings import Urls

QUIET_S: Final = 1.0


async def wait_until(check: Callable[[], Awaitable[bool]], producer: Child,
                     deadline: float) -> None:
    while not await check():
        if not producer.running:
            raise BenchError("the producer finished before the kill point: "
                             "try a smaller --kill-at or --kill-on published")
        if time.monotonic() > deadline:
            raise BenchError("timeout before the kill point")
        await asyncio.sleep(SAMPLE_S)


async def wait_quiet(run: Run, deadline: float) -> int:
    """Wait until the queue is empty and nothing commits for QUIET_S; the committed count."""
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        run.check_consumers()
        now, state = await run.committed(), await run.ready_and_consumers()
        if now != last or (state is not None and state[0] > 0):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_S:
            return now
        await asyncio.sleep(POLL_S)
    raise BenchError("timeout waiting for the consumers to drain the queue after the kill")


async def kill_producer_at(run: Run, path: Path, threshold: int, kill_on: str,
                           deadline: float) -> dict[str, Any]:
    client = aioredis.Redis.from_url(run.urls.redis)
    try:
        async def reached() -> bool:
            if kill_on == "committed":
                return await run.committed() >= threshold
            if kill_on == "offset":
                return await confirmed_rows(client, run.name) >= threshold
            return await run.published() >= threshold

        producer = await run.start_producer("killed", path)
        started = time.monotonic()
        await wait_until(reached, producer, deadline)
        producer.signal(signal.SIGKILL)
        age = time.monotonic() - started
        await producer.proc.wait()
        return {"producer_age_at_kill_s": round(age, 3),
                "published_at_kill": await run.published(),
                "offset_rows_at_kill": await confirmed_rows(client, run.name),
                "committed_at_kill": await run.committed(), "killed_peak_rss_mb": producer.peak_mb}
    finally:
        await client.aclose()


async def bench_rerun(urls: Urls, children: Children, path: Path, args: argparse.Namespace,
                      name: str, total: int, full_s: float) -> dict[str, Any]:
    """Kill the producer at ``--kill-at``, let the consumers drain, time the rerun."""
    run = Run(urls, children, f"{name}-rerun", f"{args.db_prefix}_pipeline")
    threshold = max(1, round(total * args.kill_at))
    try:
        await run.setup(args.consumers)
        print(f"kill at {args.kill_at} ({args.kill_on}) and rerun ...", file=sys.stderr,
              flush=True)
        deadline = time.monotonic() + args.timeout
        killed = await kill_producer_at(run, path, threshold, args.kill_on, deadline)
        at_start = await wait_quiet(run, deadline)
        started = time.monotonic()
        producer = await run.start_producer("rerun", path)
        await run.wait_all_committed(producer, started + args.timeout, total)
        seconds = time.monotonic() - started
        await producer.proc.wait()
        producer_rows(producer)
        await run.finish()
        check = await verify(run, total)
    finally:
        await run.cleanup()
    if not check["ok"]:
        raise BenchError(f"wrong counts after the rerun: {check}")
    return result(f"rerun, kill at {args.kill_at} {args.kill_on}", total - at_start, seconds,
                  kill_at=args.kill_at, kill_on=args.kill_on, **killed,
                  committed_at_rerun_start=at_start, full_s=round(full_s, 3),
                  rerun_over_full=round(seconds / full_s, 3),
                  remaining_fraction=round((total - at_start) / total, 3),
                  producer=producer.result(), peak_rss_mb={"producer": producer.peak_mb},
                  verify=check)
