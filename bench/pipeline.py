"""The pipeline: consumers running and idle, the producer timed until every record commits."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
from children import DROPPED_ENV, Child, Children, child_env
from cpu import CpuMeter, per_million
from errors import BenchError
from inputs import FIELDS
from report import result
from services import (
    COMMITTED_SQL,
    QueueProbe,
    content_digest,
    delete_redis_keys,
    delete_topology,
    fresh_db,
    table_counts,
)
from settings import Urls

from libs import constants as c

# Set by the bench for each child, so not tuning: left out of tuning_env().
SET_BY_BENCH: Final = ("INGEST_QUEUE", "INGEST_REDIS_PREFIX")
TUNING_PREFIXES: Final = ("CONSUMER_", "PRODUCER_", "INGEST_")
POLL_S: Final = 0.05
FALLBACK_BATCH_ROWS: Final = c.DEFAULT_BATCH_SIZE  # the producer's default, until a batch commits


@dataclass
class Run:
    """One pipeline set-up: a fresh database, queue and Redis prefix, consumers running."""

    urls: Urls
    children: Children
    name: str
    database: str
    consumers: list[Child] = field(default_factory=list)
    db_url: str = ""
    conn: asyncpg.Connection | None = None
    probe: QueueProbe | None = None

    @property
    def queue(self) -> str:
        return self.name

    @property
    def env(self) -> dict[str, str]:
        return child_env(self.urls, self.db_url, self.queue, self.name)

    async def setup(self, consumers: int) -> None:
        self.db_url = await fresh_db(self.urls, self.database)
        self.conn = await asyncpg.connect(self.db_url)
        self.probe = QueueProbe(self.urls.amqp)
        for i in range(1, consumers + 1):
            self.consumers.append(await self.children.start(
                f"{self.name}-consumer-{i}", [sys.executable, "-m", "consumer"], self.env))
        await self.wait_consuming(consumers)

    async def wait_consuming(self, count: int, wait_s: float = 60.0) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            self.check_consumers()
            state = await self.ready_and_consumers()
            if state is not None and state[1] >= count:
                return
            await asyncio.sleep(0.1)
        raise BenchError(f"{count} consumers not consuming from {self.queue} after {wait_s} s")

    def check_consumers(self) -> None:
        for child in self.consumers:
            if not child.running:
                raise BenchError(f"{child.name} exited {child.proc.returncode}: "
                                 f"{child.stderr_tail()}")

    async def committed(self) -> int:
        assert self.conn is not None
        return int(await self.conn.fetchval(COMMITTED_SQL))

    async def ready_and_consumers(self, suffix: str = "") -> tuple[int, int] | None:
        assert self.probe is not None
        return await self.probe.state(self.queue + suffix)

    async def published(self) -> int:
        """Rows published so far, estimated as the rows committed plus the messages ready
        (times the mean records per committed batch); batches held unacked by consumers
        are missed, so this lags by at most consumers x prefetch batches."""
        assert self.conn is not None
        row = await self.conn.fetchrow(
            "SELECT coalesce(sum(records), 0)::bigint AS rows, count(*) AS n FROM ingest_batches")
        assert row is not None
        state = await self.ready_and_consumers()
        ready = state[0] if state else 0
        per_batch = row["rows"] / row["n"] if row["n"] else FALLBACK_BATCH_ROWS
        return int(row["rows"] + ready * per_batch)

    async def start_producer(self, name: str, path: Path, mode: str = "insert",
                             atomic: bool = False) -> Child:
        cmd = [sys.executable, "-m", "producer", "--file", str(path), "--no-progress",
               "--mode", mode, *(["--atomic"] if atomic else [])]
        return await self.children.start(f"{self.name}-{name}", cmd, self.env)

    async def wait_all_committed(self, producer: Child, deadline: float,
                                 total: int | None = None) -> int:
        """Wait for the producer to finish and ``total`` (else its rows_read) committed."""
        while True:
            self.check_consumers()
            done = not producer.running
            if done and total is None:
                total = producer_rows(producer)
            if done and total is not None and await self.committed() >= total:
                return total
            if time.monotonic() > deadline:
                raise BenchError(f"timeout: {await self.committed()} records committed, "
                                 f"expected {total if total is not None else '?'}")
            await asyncio.sleep(POLL_S)

    async def finish(self) -> list[dict[str, Any]]:
        """SIGTERM the consumers; their summaries."""
        await self.children.stop(self.consumers)
        return [child.result() or {"status": f"no summary, exit {child.proc.returncode}"}
                for child in self.consumers]

    async def cleanup(self) -> None:
        await self.children.stop([c for c in self.consumers if c.running])
        if self.conn is not None:
            await self.conn.close()
        if self.probe is not None:
            await self.probe.close()
        with contextlib.suppress(Exception):
            await delete_topology(self.urls.amqp, self.queue)
        with contextlib.suppress(Exception):
            await delete_redis_keys(self.urls.redis, self.name)


def producer_rows(producer: Child) -> int:
    summary = producer.result()
    if producer.proc.returncode != 0 or summary is None:
        raise BenchError(f"producer exited {producer.proc.returncode}: {producer.stderr_tail()}")
    return int(summary["rows_read"])


async def verify(run: Run, total: int, mode: str = "insert") -> dict[str, Any]:
    """Every record committed, none dead-lettered; in insert mode each one a row or a reject
    (upsert and merge also supersede: their records are in the batches' counters)."""
    counts = await table_counts(run.db_url)
    state = await run.ready_and_consumers(c.DLQ_SUFFIX)
    counts["dead_lettered"] = state[0] if state else 0
    rows_or_rejects = counts["customers"] + counts["rejects"] == total or mode != "insert"
    counts["ok"] = (rows_or_rejects and counts["committed"] == total
                    and counts["dead_lettered"] == 0)
    return counts


async def bench_pipeline(urls: Urls, children: Children, path: Path, args: argparse.Namespace,
                         name: str, content: bool) -> dict[str, Any]:
    """Time the pipeline on ``path`` (``args``: consumers, mode, atomic, timeout, db_prefix);
    ``content``: also record the loaded table's content digest (a clean file)."""
    run = Run(urls, children, name, f"{args.db_prefix}_pipeline")
    try:
        await run.setup(args.consumers)
        assert run.conn is not None
        meter = CpuMeter(urls.db("postgres"), run.database, [run.conn.get_server_pid()])
        await meter.start({"consumers": run.consumers})
        print(f"pipeline ({args.consumers} consumers) ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        producer = await run.start_producer("producer", path, args.mode, args.atomic)
        meter.add("producer", [producer])
        total = await run.wait_all_committed(producer, started + args.timeout)
        seconds = time.monotonic() - started
        cpu = await meter.stop()
        await producer.proc.wait()
        summaries = await run.finish()
        check = await verify(run, total, args.mode)
        digest = await content_digest(run.db_url, FIELDS) if content else None
    finally:
        await run.cleanup()
    summary = producer.result() or {}
    rss = {"producer": producer.peak_mb} | {
        c.name.removeprefix(run.name + "-"): c.peak_mb for c in run.consumers}
    if not check["ok"]:
        raise BenchError(f"wrong counts after the pipeline: {check}")
    shown = ("" if args.mode == "insert" else f", {args.mode}") + (
        ", atomic" if args.atomic else "")
    label = f"pipeline ({args.consumers} consumers{shown})"
    return result(label, total, seconds, peak_rss_mb=rss, cpu_s=cpu,
                  cpu_s_per_1m_rows=per_million(cpu, total), content=digest,
                  verify=check, producer=summary, consumers=summaries,
                  publish=publish_rate(summary), tuning_env=tuning_env())


def publish_rate(summary: dict[str, Any]) -> dict[str, Any]:
    elapsed = float(summary.get("elapsed_s") or 0)
    rows, batches = int(summary.get("rows_read") or 0), int(summary.get("batches_total") or 0)
    return {"elapsed_s": elapsed, "rows": rows, "batches": batches,
            "rows_per_s": round(rows / elapsed) if elapsed else None,
            "batches_per_s": round(batches / elapsed, 1) if elapsed else None}


def tuning_env() -> dict[str, str]:
    return {k: v for k, v in sorted(os.environ.items())
            if k.startswith(TUNING_PREFIXES) and k not in DROPPED_ENV + SET_BY_BENCH}
