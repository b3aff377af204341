"""Facts about the machine and the services, recorded in the JSON report."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from typing import Any

import aio_pika
import asyncpg
import redis.asyncio as aioredis
from settings import ROOT, Urls


async def machine_facts(urls: Urls) -> dict[str, Any]:
    conn = await asyncpg.connect(urls.db("postgres"))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "postgres": pg_version,
        "mem_total_mb": mem_total_mb(), "git_commit": git_commit(),
        "pgloader": pgloader_version()}
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


def pgloader_version() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pgloader", "--version"], text=True, capture_output=True,
                             check=True).stdout
        return out.splitlines()[0].strip() if out else None
    return None


def git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    return None
