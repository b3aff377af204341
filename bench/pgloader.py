"""pgloader (Debian's package, 3.6) on the file psql loads, into the same empty table.

A command file (kept in the logs directory, without the password: PGPASSWORD carries it) loads
the header's columns, in the file's order, into the same columns of ``customers``: CSV, header
skipped, fields separated by ``,`` and optionally enclosed in ``"`` (``""`` is one quote), UTF-8,
session time zone UTC (a timestamp without zone is UTC, as for psql and the pipeline); pgloader's
other settings are its defaults for a file (workers = 8, concurrency = 2, batches of 25,000
rows). Its rows are compared with psql's by content digest: same rows, same values.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from baselines import TABLE, loaded, run_loader
from children import Children
from inputs import plain_header
from report import result
from services import fresh_db
from settings import Urls

HOW_TO_INSTALL: Final = "make install-bench-tools (Debian's pgloader, as root)"
COMMAND: Final = """LOAD CSV
  FROM '{path}' WITH ENCODING utf-8
    HAVING FIELDS ({columns})
  INTO {url}
    TARGET TABLE {table}
    TARGET COLUMNS ({columns})
  WITH skip header = 1, fields terminated by ',', fields optionally enclosed by '"',
       fields escaped by double-quote
  SET timezone to 'UTC';
"""


def without_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (None if it has none)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), unquote(parts.password)


def command_file(path: Path, columns: list[str], url: str, log_dir: Path) -> Path:
    load = log_dir / "pgloader.load"
    log_dir.mkdir(parents=True, exist_ok=True)
    load.write_text(COMMAND.format(path=path, columns=", ".join(columns), url=url, table=TABLE))
    return load


async def bench_pgloader(urls: Urls, children: Children, path: Path,
                         database: str) -> dict[str, Any]:
    exe = shutil.which("pgloader")
    if exe is None:
        return result("pgloader", None, None, status="not installed", note=HOW_TO_INSTALL)
    columns = plain_header(path)
    if columns is None or "'" in str(path):
        return result("pgloader", None, None, status="not applicable",
                      note="header is not plain customers columns, or a quote in the path")
    url = await fresh_db(urls, database)
    target, password = without_password(url)
    load = command_file(path, columns, target, children.log_dir)
    env = dict(os.environ) | ({"PGPASSWORD": password} if password else {})
    cmd = [exe, "--root-dir", str((children.log_dir / "pgloader").resolve()), str(load.resolve())]
    seconds, child, cpu = await run_loader(urls, children, "pgloader", cmd, env, database)
    rows, extra = await loaded(url, cpu)
    status = "ok" if child.proc.returncode == 0 else f"exit {child.proc.returncode}"
    return result("pgloader", rows, seconds, status=status, file=str(path),
                  peak_rss_mb={"pgloader": child.peak_mb}, **extra)
