"""The baselines: psql \\copy and pgloader, each into a fresh database."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from children import Children, run_timed
from errors import BenchError
from inputs import plain_header
from report import result
from services import fresh_db, table_counts
from settings import Urls

TABLE: Final = "customers"


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
