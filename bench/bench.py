"""Benchmark: the same customers CSV loaded by psql \\copy, by the pipeline and by pgloader.

Run from the repository root (``make bench`` does), with the services of env/*.env:

    python bench/bench.py --rows 1000000 [--dirty] [--kill-at 0.5]

The pipeline is timed from the producer's start until every record is committed (the sum of
``ingest_batches.records`` equals the producer's ``rows_read``), with ``--consumers`` consumers
already running and idle. Figures are printed as a table and written as JSON under --out-dir.
Exit codes: 0 done; 1 the pipeline failed, timed out or loaded a wrong count; 2 user error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
import asyncpg
import redis.asyncio as aioredis

ROOT: Final = Path(__file__).resolve().parent.parent
DBMATE: Final = Path(sys.executable).parent / "dbmate"
GENDATA: Final = ROOT / "scripts" / "gendata.py"
CACHE: Final = ROOT / "data" / "generated"
MIGRATIONS: Final = ROOT / "migrations"
TABLE: Final = "customers"
COLUMNS: Final = frozenset({"email", "first_name", "last_name", "phone", "birth_date", "city",
                            "country", "signup_at", "balance"})
DEFAULTS: Final = {"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
                   "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/ingest",
                   "REDIS_URL": "redis://127.0.0.1:6379/0"}
# Variables a child must not inherit: fault injection, and the names the bench sets itself.
DROPPED_ENV: Final = ("INGEST_FAULT", "INGEST_FAULT_AFTER", "INGEST_FAULT_KEY", "INGEST_FILE")
SET_BY_BENCH: Final = ("INGEST_QUEUE", "INGEST_REDIS_PREFIX")
TUNING_PREFIXES: Final = ("CONSUMER_", "PRODUCER_", "INGEST_")
POLL_S: Final = 0.05
FALLBACK_BATCH_ROWS: Final = 5000  # the producer's default batch size, until a batch commits
SAMPLE_S: Final = 0.02
QUIET_S: Final = 1.0
STOP_TIMEOUT_S: Final = 60.0
COMMITTED_SQL: Final = "SELECT coalesce(sum(records), 0)::bigint FROM ingest_batches"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class BenchError(Exception):
    """The pipeline failed, timed out or loaded a wrong count: exit 1."""


class UsageError(Exception):
    """Something the user can fix (missing generator, bad option): exit 2."""


# ---------------------------------------------------------------- options and settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Load one customers CSV with psql \\copy, the pipeline and pgloader; "
                    "print rows/s, the ratio to psql and peak RSS; write JSON.")
    p.add_argument("--rows", type=int, default=1_000_000, help="records to generate")
    p.add_argument("--dirty", action="store_true", help="generate dirty data (bad records)")
    p.add_argument("--seed", type=int, default=1, help="generator seed")
    p.add_argument("--consumers", type=int, default=2, help="consumer processes")
    p.add_argument("--skip-psql", action="store_true", help="skip the psql \\copy baseline")
    p.add_argument("--out-dir", type=Path, default=Path("volumes/bench"))
    p.add_argument("--kill-at", type=float, default=None, metavar="FRACTION",
                   help="also SIGKILL the producer at this fraction and time the rerun")
    p.add_argument("--kill-on", choices=("published", "offset", "committed"),
                   default="published",
                   help="what the kill fraction counts: rows published (committed + queued), "
                        "rows in the producer's saved resume offset, or rows committed")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the pipeline gets to commit everything "
                        "(default max(300, rows/2000))")
    p.add_argument("--file", type=Path, default=None,
                   help="use this CSV instead of generating one (--dirty labels it)")
    args = p.parse_args(argv)
    if args.rows < 1 or args.consumers < 1:
        p.error("--rows and --consumers must be at least 1")
    if args.kill_at is not None and not 0 < args.kill_at < 1:
        p.error("--kill-at must be a fraction between 0 and 1")
    if args.timeout is None:
        args.timeout = max(300.0, args.rows / 2000)
    return args


@dataclass(frozen=True)
class Urls:
    amqp: str
    database: str
    redis: str

    @classmethod
    def from_env(cls) -> Urls:
        get = lambda name: os.environ.get(name) or DEFAULTS[name]  # noqa: E731
        return cls(get("AMQP_URL"), get("DATABASE_URL"), get("REDIS_URL"))

    def db(self, name: str) -> str:
        """DATABASE_URL pointing at database ``name`` on the same server."""
        return urlunsplit(urlsplit(self.database)._replace(path="/" + name))


def dbmate_url(url: str) -> str:
    parts = urlsplit(url)
    if "sslmode=" in parts.query:
        return url
    query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
    return urlunsplit(parts._replace(query=query))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# ---------------------------------------------------------------- data files


def generated_file(rows: int, seed: int, dirty: bool) -> Path:
    """The cached generated file for (rows, seed, dirty); generate it if absent."""
    path = CACHE / f"customers-{rows}-seed{seed}-{'dirty' if dirty else 'clean'}.csv"
    if path.exists():
        return path
    if not GENDATA.exists():
        raise UsageError(f"{GENDATA.relative_to(ROOT)} not found: cannot generate data")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.part")
    cmd = [sys.executable, str(GENDATA), "--rows", str(rows), "--seed", str(seed),
           "--out", str(tmp)] + (["--dirty"] if dirty else [])
    print(f"generating {path.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise UsageError(f"scripts/gendata.py failed (exit {done.returncode})")
    tmp.rename(path)
    print(f"generated in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return path


def header_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def plain_header(path: Path) -> list[str] | None:
    """The header's columns if plain COPY can load the file (no BOM, only table columns)."""
    with path.open("rb") as f:
        bom = f.read(3) == b"\xef\xbb\xbf"
    columns = header_columns(path)
    return columns if columns and not bom and set(columns) <= COLUMNS else None


# ---------------------------------------------------------------- child processes


@dataclass
class Child:
    """A child process with its output files and its sampled peak RSS (VmHWM)."""

    name: str
    proc: asyncio.subprocess.Process
    out: Path
    err: Path
    hwm_kb: int = 0

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def sample(self) -> None:
        if self.running:
            self.hwm_kb = max(self.hwm_kb, read_hwm_kb(self.proc.pid))

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def result(self) -> dict[str, Any] | None:
        """The last JSON line of the child's stdout (its summary)."""
        return last_json_line(self.out)

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.err.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def peak_mb(self) -> float:
        return round(self.hwm_kb / 1024, 1)


def read_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def last_json_line(path: Path) -> dict[str, Any] | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict):
                return data
    return None


def open_logs(log_dir: Path, name: str) -> tuple[Path, Path, TextIO, TextIO]:
    log_dir.mkdir(parents=True, exist_ok=True)
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    return out, err, out.open("w"), err.open("w")


class Children:
    """Every child the bench starts: sampled in the background, killed on error."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.all: list[Child] = []

    async def start(self, name: str, cmd: list[str], env: dict[str, str]) -> Child:
        out, err, out_f, err_f = open_logs(self.log_dir, name)
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f)
        finally:
            out_f.close()
            err_f.close()
        child = Child(name, proc, out, err)
        child.sample()
        self.all.append(child)
        return child

    async def sample_forever(self) -> None:
        while True:
            for child in self.all:
                child.sample()
            await asyncio.sleep(SAMPLE_S)

    async def stop(self, children: list[Child], signum: int = signal.SIGTERM) -> None:
        """Signal ``children`` and wait for them (SIGKILL after STOP_TIMEOUT_S)."""
        for child in children:
            child.signal(signum)
        for child in children:
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                child.signal(signal.SIGKILL)
                await child.proc.wait()

    def kill_all(self) -> None:
        for child in self.all:
            child.signal(signal.SIGKILL)


def child_env(urls: Urls, database_url: str, queue: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(AMQP_URL=urls.amqp, DATABASE_URL=database_url, REDIS_URL=urls.redis,
               INGEST_QUEUE=queue, INGEST_REDIS_PREFIX=prefix, LOG_FORMAT="json",
               PYTHONUNBUFFERED="1")
    return env


async def run_timed(children: Children, name: str, cmd: list[str],
                    env: dict[str, str]) -> tuple[float, Child]:
    started = time.monotonic()
    child = await children.start(name, cmd, env)
    await child.proc.wait()
    return time.monotonic() - started, child


# ---------------------------------------------------------------- databases, broker, redis


async def fresh_db(urls: Urls, name: str) -> str:
    """Drop database ``name``, create and migrate it with dbmate; return its URL."""
    admin = await asyncpg.connect(urls.db("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    url = urls.db(name)
    proc = await asyncio.create_subprocess_exec(
        str(DBMATE), "--url", dbmate_url(url), "--migrations-dir", str(MIGRATIONS),
        "--no-dump-schema", "up", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"dbmate up {name} failed: {err.decode(errors='replace').strip()}")
    return url


async def table_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM customers) AS customers,"
            " (SELECT count(*) FROM ingest_rejects) AS rejects,"
            " (SELECT count(*) FROM ingest_batches) AS batches,"
            f" ({COMMITTED_SQL}) AS committed")
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


class QueueProbe:
    """Passive declares on one connection: a queue's ready messages and consumers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def state(self, queue: str) -> tuple[int, int] | None:
        """(messages ready, consumers) of ``queue``, or None if it does not exist."""
        if self._connection is None:
            self._connection = await aio_pika.connect(self.url)
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel()
        try:
            declared = await self._channel.declare_queue(queue, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return None
        result = declared.declaration_result
        return result.message_count or 0, result.consumer_count or 0

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()


async def delete_topology(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        for name in (queue, queue + ".dlq"):
            channel = await connection.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.queue_delete(name)
        for name in (queue, queue + ".dlx"):
            channel = await connection.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.exchange_delete(name)
    finally:
        await connection.close()


async def delete_redis_keys(url: str, prefix: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


async def confirmed_rows(client: aioredis.Redis, prefix: str) -> int:
    """Rows the producer has saved as confirmed (its resume offset), 0 if none yet."""
    best = 0
    async for key in client.scan_iter(match=f"{prefix}:offset:*"):
        raw = await client.get(key)
        with contextlib.suppress(ValueError, TypeError, KeyError):
            best = max(best, int(json.loads(raw)["rows"]))
    return best


async def machine_facts(urls: Urls) -> dict[str, Any]:
    conn = await asyncpg.connect(urls.db("postgres"))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "postgres": pg_version,
        "mem_total_mb": mem_total_mb(), "git_commit": git_commit()}
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(urls.amqp)
        props = connection.transport.connection.server_properties
        facts["rabbitmq"] = str(props.get("version", ""))
        await connection.close()
    with contextlib.suppress(Exception):
        client = aioredis.Redis.from_url(urls.redis)
        facts["redis"] = (await client.info("server")).get("redis_version")
        await client.aclose()
    return facts


def mem_total_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) // 1024
    return None


def git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    return None


# ---------------------------------------------------------------- baselines


def result(method: str, rows: int | None, seconds: float | None, **extra: Any) -> dict[str, Any]:
    rate = round(rows / seconds) if rows and seconds else None
    return {"method": method, "rows": rows, "seconds": round(seconds, 3) if seconds else seconds,
            "rows_per_s": rate, **extra}


async def bench_psql(urls: Urls, children: Children, path: Path, note: str) -> dict[str, Any]:
    columns = plain_header(path)
    if columns is None:
        return result("psql \\copy", None, None, status="not applicable",
                      note="header is not plain customers columns")
    url = await fresh_db(urls, "bench_copy")
    literal = str(path).replace("'", "''")
    copy = (f"\\copy {TABLE}({', '.join(columns)}) FROM '{literal}' "
            "WITH (FORMAT csv, HEADER true)")
    cmd = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copy]
    print("psql \\copy ...", file=sys.stderr, flush=True)
    seconds, child = await run_timed(children, "psql", cmd, dict(os.environ))
    if child.proc.returncode != 0:
        raise BenchError(f"psql \\copy failed: {child.stderr_tail()}")
    loaded = (await table_counts(url))["customers"]
    return result("psql \\copy", loaded, seconds, file=str(path), note=note,
                  peak_rss_mb={"psql": child.peak_mb})


async def bench_pgloader(urls: Urls, children: Children, path: Path) -> dict[str, Any]:
    exe = shutil.which("pgloader")
    if exe is None:
        return result("pgloader", None, None, status="not installed")
    columns = plain_header(path)
    if columns is None:
        return result("pgloader", None, None, status="not applicable",
                      note="header is not plain customers columns")
    url = await fresh_db(urls, "bench_pgloader")
    target = urlunsplit(urlsplit(url)._replace(query=f"tablename={TABLE}"))
    cmd = [exe, "--type", "csv", "--field", ",".join(columns),
           "--with", "skip header = 1", "--with", "fields terminated by ','",
           "--with", "fields optionally enclosed by '\"'", str(path), target]
    print("pgloader ...", file=sys.stderr, flush=True)
    seconds, child = await run_timed(children, "pgloader", cmd, dict(os.environ))
    loaded = (await table_counts(url))["customers"]
    status = "ok" if child.proc.returncode == 0 else f"exit {child.proc.returncode}"
    return result("pgloader", loaded, seconds, status=status,
                  peak_rss_mb={"pgloader": child.peak_mb})


# ---------------------------------------------------------------- the pipeline


@dataclass
class Run:
    """One pipeline set-up: a fresh database, queue and Redis prefix, consumers running."""

    urls: Urls
    children: Children
    name: str
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
        self.db_url = await fresh_db(self.urls, "bench_pipeline")
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

    async def start_producer(self, name: str, path: Path) -> Child:
        cmd = [sys.executable, "-m", "producer", "--file", str(path), "--no-progress"]
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


async def verify(run: Run, total: int) -> dict[str, Any]:
    counts = await table_counts(run.db_url)
    state = await run.ready_and_consumers(".dlq")
    counts["dead_lettered"] = state[0] if state else 0
    counts["ok"] = (counts["customers"] + counts["rejects"] == total
                    and counts["committed"] == total and counts["dead_lettered"] == 0)
    return counts


async def bench_pipeline(urls: Urls, children: Children, path: Path, consumers: int,
                         limit_s: float) -> dict[str, Any]:
    run = Run(urls, children, f"bench-{os.getpid()}")
    try:
        await run.setup(consumers)
        print(f"pipeline ({consumers} consumers) ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        producer = await run.start_producer("producer", path)
        total = await run.wait_all_committed(producer, started + limit_s)
        seconds = time.monotonic() - started
        await producer.proc.wait()
        summaries = await run.finish()
        check = await verify(run, total)
    finally:
        await run.cleanup()
    summary = producer.result() or {}
    rss = {"producer": producer.peak_mb} | {
        c.name.removeprefix(run.name + "-"): c.peak_mb for c in run.consumers}
    if not check["ok"]:
        raise BenchError(f"wrong counts after the pipeline: {check}")
    return result(f"pipeline ({consumers} consumers)", total, seconds, peak_rss_mb=rss,
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


# ---------------------------------------------------------------- kill and rerun


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
                      total: int, full_s: float) -> dict[str, Any]:
    """Kill the producer at ``--kill-at``, let the consumers drain, time the rerun."""
    run = Run(urls, children, f"bench-{os.getpid()}-rerun")
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


# ---------------------------------------------------------------- report


def fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    res = report["results"]
    psql_rate = (res.get("psql") or {}).get("rows_per_s")
    lines = [f"{'method':<34} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'vs psql':>8}  "
             "peak RSS MB"]
    for key in ("psql", "pipeline", "pgloader", "rerun"):
        r = res.get(key)
        if r is None:
            continue
        if r.get("status") in ("not installed", "not applicable", "skipped"):
            lines.append(f"{r['method']:<34} {r['status']}")
            continue
        ratio = (f"{r['rows_per_s'] / psql_rate:.2f}x"
                 if psql_rate and r.get("rows_per_s") and key != "rerun" else "-")
        rss = ", ".join(f"{k} {v:.0f}" for k, v in (r.get("peak_rss_mb") or {}).items())
        lines.append(f"{r['method']:<34} {fmt(r['rows']):>10} {fmt(r['seconds'], '.2f'):>8} "
                     f"{fmt(r['rows_per_s']):>9} {ratio:>8}  {rss}")
    lines += notes(res)
    return "\n".join(lines)


def notes(res: dict[str, Any]) -> list[str]:
    out = []
    if res.get("psql", {}).get("note"):
        out.append(f"psql: {res['psql']['note']}")
    pub = res.get("pipeline", {}).get("publish")
    if pub:
        out.append(f"producer alone: {fmt(pub['rows_per_s'])} rows/s, "
                   f"{fmt(pub['batches_per_s'])} batches/s ({pub['batches']} batches in "
                   f"{pub['elapsed_s']:.2f} s)")
    rerun = res.get("rerun")
    if rerun:
        pub = rerun.get("producer") or {}
        out.append(f"rerun / full run: {rerun['rerun_over_full']:.2f} (target <= 0.55); killed "
                   f"with ~{rerun['published_at_kill']} rows published, "
                   f"{rerun['offset_rows_at_kill']} in the saved offset, "
                   f"{rerun['committed_at_kill']} committed, "
                   f"{rerun['producer_age_at_kill_s']:.2f} s after the producer's start; "
                   "rerun started with "
                   f"{rerun['committed_at_rerun_start']} committed, resumed from line "
                   f"{pub.get('resumed_from_line')}, republished {pub.get('rows_read')} rows")
    return out


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "dirty" if report["dirty"] else "clean"
    path = out_dir / f"bench-{report['rows']}-{kind}-{stamp}.json"
    text = json.dumps(report, indent=2, default=str) + "\n"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path


# ---------------------------------------------------------------- main


def input_files(args: argparse.Namespace) -> tuple[Path, Path | None, str]:
    """The file to load, the file psql loads (None: skip) and a note on the psql figure."""
    if args.file is not None:
        if not args.file.is_file():
            raise UsageError(f"file not found: {args.file}")
        path = args.file.resolve()
        return path, (None if args.skip_psql or args.dirty else path), ""
    path = generated_file(args.rows, args.seed, args.dirty)
    if args.skip_psql:
        return path, None, ""
    if not args.dirty:
        return path, path, ""
    note = ("dirty records cannot load with \\copy: timed on the clean file of the same "
            "rows and seed")
    return path, generated_file(args.rows, args.seed, False), note


async def bench(args: argparse.Namespace, children: Children) -> dict[str, Any]:
    urls = Urls.from_env()
    path, psql_path, psql_note = input_files(args)
    report: dict[str, Any] = {
        "rows": args.rows, "dirty": args.dirty, "seed": args.seed, "file": str(path),
        "file_bytes": path.stat().st_size, "consumers": args.consumers,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "services": {k: redact(v) for k, v in vars(urls).items()},
        "machine": await machine_facts(urls), "results": {}}
    res = report["results"]
    res["psql"] = (await bench_psql(urls, children, psql_path, psql_note)
                   if psql_path else result("psql \\copy", None, None, status="skipped"))
    res["pipeline"] = await bench_pipeline(urls, children, path, args.consumers, args.timeout)
    res["pgloader"] = await bench_pgloader(urls, children, psql_path or path)
    if args.kill_at is not None:
        res["rerun"] = await bench_rerun(urls, children, path, args,
                                         res["pipeline"]["rows"], res["pipeline"]["seconds"])
    psql_rate = res["psql"].get("rows_per_s")
    report["ratio_pipeline_to_psql"] = (round(res["pipeline"]["rows_per_s"] / psql_rate, 3)
                                        if psql_rate else None)
    return report


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    children = Children(args.out_dir / "logs")
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    sampler = asyncio.create_task(children.sample_forever())
    try:
        return await bench(args, children)
    finally:
        sampler.cancel()
        children.kill_all()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(amain(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BenchError as exc:
        print(f"bench failed: {exc} (logs in {args.out_dir / 'logs'})", file=sys.stderr)
        return EXIT_FAILED
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted", file=sys.stderr)
        return 130
    print(table(report))
    print(f"written: {write_report(report, args.out_dir)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
