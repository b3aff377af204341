"""The psql \\copy baseline, and the timed run of a one-shot loader (psql, pgloader) with the
CPU of the loader and of its PostgreSQL backends."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Final

from children import Child, Children
from cpu import CpuMeter, per_million
from errors import BenchError
from inputs import FIELDS, plain_header
from report import result
from services import content_digest, fresh_db, table_counts
from settings import Urls

TABLE: Final = "customers"
# No zone in a timestamp means UTC, as the dataset says, whatever the server's TimeZone.
SESSION_ENV: Final = {"PGTZ": "UTC"}


async def run_loader(urls: Urls, children: Children, name: str, cmd: list[str],
                     env: dict[str, str], database: str) -> tuple[float, Child, dict[str, Any]]:
    """Run ``cmd`` to its end: seconds, the child, and the CPU seconds (total and per 1M rows
    loaded into ``database``) of the loader and of the database's backends."""
    meter = CpuMeter(urls.db("postgres"), database)
    await meter.start()
    print(f"{name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    child = await children.start(name, cmd, env)
    meter.add(name, [child])
    await child.proc.wait()
    seconds = time.monotonic() - started
    return seconds, child, {"cpu_s": await meter.stop()}


async def loaded(url: str, cpu: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Rows in the table, and what to record about them: CPU per 1M rows and the content."""
    rows = (await table_counts(url))[TABLE]
    extra = {**cpu, "cpu_s_per_1m_rows": per_million(cpu["cpu_s"], rows),
             "content": await content_digest(url, FIELDS)}
    return rows, extra


async def bench_psql(urls: Urls, children: Children, path: Path, note: str,
                     database: str) -> dict[str, Any]:
    columns = plain_header(path)
    if columns is None:
        return result("psql \\copy", None, None, status="not applicable",
                      note="header is not plain customers columns")
    url = await fresh_db(urls, database)
    literal = str(path).replace("'", "''")
    copy = (f"\\copy {TABLE}({', '.join(columns)}) FROM '{literal}' "
            "WITH (FORMAT csv, HEADER true)")
    cmd = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copy]
    seconds, child, cpu = await run_loader(urls, children, "psql", cmd,
                                           dict(os.environ) | SESSION_ENV, database)
    if child.proc.returncode != 0:
        raise BenchError(f"psql \\copy failed: {child.stderr_tail()}")
    rows, extra = await loaded(url, cpu)
    return result("psql \\copy", rows, seconds, file=str(path), note=note,
                  peak_rss_mb={"psql": child.peak_mb}, **extra)
