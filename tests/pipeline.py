"""Run the real CLIs as subprocesses and look at the real broker, for integration tests."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg

from libs import amqp
from libs import constants as c
from libs.constants import MAX_RECORD_BYTES
from libs.csvfile import read_header
from libs.messages import Batch
from libs.settings import AmqpSettings
from producer.chunks import Position, iter_chunks

ROOT = Path(__file__).resolve().parents[1]
# The inputs rebuilt from public bug reports (issue 10), kept beside the repository in shared/.
FIELD_CASES = ROOT.parent / "shared" / "field-cases"


@dataclass
class Run:
    rc: int
    summary: dict[str, Any]
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def _parse_summary(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def run_cli(module: str, *args: str, env: Mapping[str, str], timeout: float = 180) -> Run:
    proc = subprocess.run([sys.executable, "-m", module, *args], env=dict(env), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, _parse_summary(proc.stdout), proc.stderr)


def produce(path: Path, env: Mapping[str, str], *args: str) -> Run:
    return run_cli("producer", "--file", str(path), *args, env=env)


def kill_twice(path: Path, env: Mapping[str, str], batches: int, *args: str) -> None:
    """Two producer runs of ``path`` killed with -9: right after the confirm of batch
    ``batches``, then right after its first offset save (mid-file); both must die so."""
    killed = produce(path, {**env, c.FAULT_ENV: "producer.after_confirm",
                            c.FAULT_AFTER_ENV: str(batches)}, *args)
    assert killed.rc == -9
    killed_late = produce(path, {**env, c.FAULT_ENV: "producer.offset_saved",
                                 c.FAULT_AFTER_ENV: "1"}, *args)
    assert killed_late.rc == -9


def consume_burst(env: Mapping[str, str], *args: str) -> Run:
    return run_cli("consumer", "--burst", *args, env=env)


_started: list[subprocess.Popen[str]] = []


def start(module: str, *args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start a CLI in the background; its output goes to files, so it never blocks on a pipe."""
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by finish or reap)
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", module, *args], env=dict(env), cwd=ROOT,
                            stdout=out, stderr=err, text=True)
    proc.files = (out, err)  # type: ignore[attr-defined]
    _started.append(proc)
    return proc


def _output(proc: subprocess.Popen[str]) -> tuple[str, str]:
    texts = []
    for handle in proc.files:  # type: ignore[attr-defined]
        handle.seek(0)
        texts.append(handle.read())
        handle.close()
    return texts[0], texts[1]


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> Run:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        out, err = _output(proc)
        raise AssertionError(f"{proc.args} still running after {timeout}s; stderr ends:\n"
                             f"{err[-3000:]}") from None
    out, err = _output(proc)
    return Run(proc.returncode, _parse_summary(out), err)


def reap() -> list[str]:
    """Kill what a test started and left running; the ends of their stderr, for the report."""
    left = []
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            left.append(f"{proc.args[2:]}: killed at teardown; stderr ends:\n"
                        f"{_output(proc)[1][-1500:]}")
        elif not proc.files[0].closed:  # type: ignore[attr-defined]
            _output(proc)
    return left


@asynccontextmanager
async def _queue(amqp_url: str, name: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        yield await channel.get_queue(name, ensure=True)
    finally:
        await connection.close()


async def delete_topology(amqp_url: str, queue: str) -> None:
    """Delete ``queue``, its dead-letter queue and their exchanges (a test's own)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in (queue, queue + c.DLQ_SUFFIX):
            await channel.queue_delete(name)
        for name in (queue, queue + c.DLX_SUFFIX):
            await channel.exchange_delete(name)
    finally:
        await connection.close()


async def drain(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message off ``queue`` (acked), in queue order."""
    async with _queue(amqp_url, queue) as q:
        got = []
        while (message := await q.get(no_ack=True, fail=False)) is not None:
            got.append(message)
        return got


async def purge(amqp_url: str, queue: str) -> int:
    """Drop every ready message of ``queue``; how many there were."""
    async with _queue(amqp_url, queue) as q:
        return int((await q.purge()).message_count or 0)


async def queue_depth(amqp_url: str, queue: str) -> int:
    async with _queue(amqp_url, queue) as q:
        return (await q.declare()).message_count or 0


def with_database(url: str, name: str) -> str:
    """``url``'s server with database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def write_csv(path: Path, rows: list[str], header: str | None = None, *,
              newline: str = "\n") -> Path:
    header = header or ("email,first_name,last_name,phone,birth_date,city,country,"
                        "signup_at,balance")
    path.write_bytes((newline.join([header, *rows]) + newline).encode())
    return path


def customers_rows(n: int, start: int = 0, domain: str = "example.com") -> list[str]:
    return [f"user{i}@{domain},First{i},Last{i},+1-555-{i:04d},1980-01-{1 + i % 28:02d},"
            f"City{i % 7},FR,2024-01-01T00:00:{i % 60:02d}Z,{i}.{i % 100:02d}"
            for i in range(start, start + n)]


def gendata(path: Path, rows: int, seed: int, *extra: str) -> Path:
    """A file made by the project's generator (deterministic for a seed)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gendata.py"), "--rows", str(rows),
                    "--seed", str(seed), "--out", str(path), *extra], check=True)
    return path


async def assert_loaded_exactly(database_url: str, paths: list[Path], job_ids: list[str],
                                dataset: str = "customers",
                                ignore_jobs: Sequence[str] = ()) -> None:
    """The independent checker: every record of the files in the dataset's table or rejects,
    once; ``ignore_jobs``: jobs of other datasets loaded alongside."""
    from tests.checker import assert_exact, check, expected

    exp = expected(paths, dataset=dataset)
    conn = await asyncpg.connect(database_url)
    try:
        assert_exact(await check(conn, exp, job_ids, ignore_jobs=ignore_jobs))
    finally:
        await conn.close()


async def batches_done(database_url: str) -> int:
    """Finished batches (rows of ingest_batches)."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ingest_batches"))
    finally:
        await conn.close()


async def count_loaded(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(
            "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM ingest_rejects)"))
    finally:
        await conn.close()


async def wait_for(predicate: Callable[[], Awaitable[bool]], within: float,
                   what: str) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


async def publish_batches(path: Path, settings: AmqpSettings, size: int, order: str) -> str:
    """Publish ``path``'s batches of ``size`` records ourselves, ``forward`` or ``reverse``, as
    job ``customers-ordertest``: the consumer then commits them in that order."""
    with path.open("rb") as handle:
        header = read_header(handle)
        chunks = list(iter_chunks(handle, Position(0, header.end_offset, 2, 0), size,
                                  MAX_RECORD_BYTES))
    if order == "reverse":
        chunks.reverse()
    job = "customers-ordertest"
    connection = await aio_pika.connect(settings.url)
    try:
        channel = await connection.channel()
        exchange, _ = await amqp.declare(channel, settings)
        for ch in chunks:
            batch = Batch(job, "customers", ch.seq, ch.first_line, ch.last_line, ch.records,
                          header.columns, path.name, ch.body)
            await amqp.publish(exchange, settings, amqp.to_message(batch), 10)
    finally:
        await connection.close()
    return job


async def fetch(database_url: str, sql: str) -> list[asyncpg.Record]:
    """The rows of one query on a connection of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def execute(database_url: str, *statements: str) -> None:
    """Run ``statements`` in order on a connection of their own."""
    conn = await asyncpg.connect(database_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()
