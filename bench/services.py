"""The services of a run: fresh databases, the queue probe and topology, Redis keys."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
import asyncpg
import redis.asyncio as aioredis
from errors import BenchError
from settings import ROOT, Urls

from libs import constants as c
from libs.offsets import Offset

DBMATE: Final = Path(sys.executable).parent / "dbmate"
# The tool's tables, then the example tables (the bench loads the customers dataset), each
# with its own migrations table as `make migrate-db` and `make migrate-examples`.
MIGRATIONS: Final = ((ROOT / "migrations", "schema_migrations"),
                     (ROOT / "migrations-examples", "examples_schema_migrations"))
# Records committed and visible: an atomic job's count only once it is applied.
COMMITTED_SQL: Final = ("SELECT coalesce(sum(b.records), 0)::bigint FROM ingest_batches b "
                        "JOIN ingest_jobs j USING (job_id) "
                        "WHERE NOT j.atomic OR j.applied_at IS NOT NULL")


def dbmate_url(url: str) -> str:
    parts = urlsplit(url)
    if "sslmode=" in parts.query:
        return url
    query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
    return urlunsplit(parts._replace(query=query))


async def fresh_db(urls: Urls, name: str) -> str:
    """Drop database ``name``, create and migrate it with dbmate (the tool's and the example
    tables), then ``checkpoint``; return its URL."""
    admin = await asyncpg.connect(urls.db("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    url = urls.db(name)
    for folder, table in MIGRATIONS:
        proc = await asyncio.create_subprocess_exec(
            str(DBMATE), "--url", dbmate_url(url), "--migrations-dir", str(folder),
            "--migrations-table", table, "--no-dump-schema", "up",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise BenchError(f"dbmate up {name} ({folder.name}) failed: "
                             f"{err.decode(errors='replace').strip()}")
    await checkpoint(urls)
    return url


async def checkpoint(urls: Urls) -> bool:
    """``CHECKPOINT``, so that the next timed method starts with no dirty buffers of an
    earlier one to write: a checkpoint that the WAL of earlier loads set off, spread over
    the next load, slows it. False if the role may not (PostgreSQL 15: superuser or
    ``pg_checkpoint``)."""
    admin = await asyncpg.connect(urls.db("postgres"))
    try:
        await admin.execute("CHECKPOINT")
        return True
    except asyncpg.InsufficientPrivilegeError:
        return False
    finally:
        await admin.close()


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


async def content_digest(url: str, columns: tuple[str, ...]) -> str:
    """``<rows>:<digest>`` of the customers table's ``columns``: the sum of a 60-bit hash of each
    row's text (in UTC, ISO dates), so two loads of the same rows give the same string in any
    order. Costs one scan, outside the timed window."""
    row_text = f"ROW({', '.join(columns)})::text"
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC", "datestyle": "ISO"})
    try:
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, coalesce(sum(('x' || left(md5({row_text}), 15))::bit(60)"
            "::bigint), 0) AS h FROM customers")
    finally:
        await conn.close()
    assert row is not None
    return f"{row['n']}:{int(row['h']):x}"


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
        for name in (queue, queue + c.DLQ_SUFFIX):
            channel = await connection.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.queue_delete(name)
        for name in (queue, queue + c.DLX_SUFFIX):
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
        offset = Offset.loads(raw) if raw is not None else None
        best = max(best, offset.rows if offset else 0)
    return best
