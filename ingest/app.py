"""What the ``ingest`` commands do, over libs: reflect a table, list datasets, lineage SQL,
stop a job, export its rejects, and a job's status (one, a list, or followed until it ends)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO, Literal

import asyncpg

from libs import jobstatus, jobwait, registry, rejects
from libs.db import CONNECT_TIMEOUT, translated
from libs.errors import UserError
from libs.schema import catalog, lineage, to_file
from libs.schema.from_table import dataset_from_table, reflect
from libs.schema.model import Dataset
from libs.settings import IngestSettings

APPLICATION_NAME = "csv-ingest-ingest"


def parse_key(text: str | None) -> tuple[str, ...]:
    """``--key a,b`` -> ("a", "b"); names as stored (spaces inside a name are kept)."""
    if text is None:
        return ()
    parts = tuple(part.strip() for part in text.split(","))
    if not all(parts):
        raise UserError(f"--key {text!r}: give column names separated by commas")
    return parts


@asynccontextmanager
async def connect(settings: IngestSettings) -> AsyncIterator[asyncpg.Connection]:
    url = settings.postgres.url
    async with translated(url):
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT,
                                     server_settings={"application_name": APPLICATION_NAME})
        try:
            yield conn
        finally:
            await conn.close()


async def reflect_dataset(settings: IngestSettings, table: str, schema: str | None,
                          key: Sequence[str]) -> Dataset:
    async with connect(settings) as conn:
        return await dataset_from_table(conn, table, schema, key or None)


async def schema_init(settings: IngestSettings, table: str, schema: str | None,
                      key: Sequence[str], out: Path | None, force: bool) -> tuple[Dataset, str]:
    """The reflected dataset and its file's text, written to ``out`` when given."""
    dataset = await reflect_dataset(settings, table, schema, key)
    if out is None:
        return dataset, to_file.check(dataset)
    return dataset, to_file.write(dataset, out, force)


async def schema_lineage(settings: IngestSettings, table: str, schema: str | None) -> str:
    """The commented SQL that adds the lineage columns ``table`` lacks (never executed)."""
    async with connect(settings) as conn:
        reflected = await reflect(conn, table, schema)
    existing = {c.name: c.type for c in reflected.columns}
    return lineage.sql(reflected.table.name, reflected.table.schema, existing,
                       keyed=bool(reflected.candidates))


def datasets(settings: IngestSettings) -> list[catalog.Entry]:
    return catalog.entries(settings.datasets_dir)


async def abort(settings: IngestSettings, job_id: str) -> bool:
    """Stop ``job_id`` (libs.registry.abort); UserError for a job that does not exist."""
    async with connect(settings) as conn, translated(settings.postgres.url):
        if await conn.fetchval("SELECT 1 FROM ingest_jobs WHERE job_id = $1", job_id) is None:
            raise UserError(f"no job {job_id} in ingest_jobs")
        return await registry.abort(conn, job_id)


async def export_rejects(settings: IngestSettings, job_id: str, fmt: Literal["csv", "jsonl"],
                         out: Path | None, stdout: BinaryIO, *, source: Path | None = None,
                         force: bool = False) -> int:
    """Write ``job_id``'s rejects (``libs.rejects.export``) to ``out``, else to ``stdout``;
    the bytes written. ``out`` is written to a temporary file beside it and renamed when
    complete (nothing is left on an error); an existing ``out`` is a UserError unless
    ``force``; so are an unknown job or format."""
    if out is not None:
        _check_out(out, source, force)
    async with connect(settings) as conn, translated(settings.postgres.url):
        pieces = rejects.export(conn, job_id, fmt, source=source)
        if out is None:
            return await _copy(pieces, stdout)
        return await _write_atomically(pieces, out)


def _check_out(out: Path, source: Path | None, force: bool) -> None:
    if out.exists() and not force:
        raise UserError(f"{out} exists: pass --force to overwrite it")
    if source is not None and out.resolve() == source.resolve():
        raise UserError(f"--out {out} is the source file")


async def _copy(pieces: AsyncIterator[bytes], target: BinaryIO) -> int:
    size = 0
    async for piece in pieces:
        target.write(piece)
        size += len(piece)
    target.flush()
    return size


async def _write_atomically(pieces: AsyncIterator[bytes], out: Path) -> int:
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            size = await _copy(pieces, handle)
            os.fsync(handle.fileno())
        temporary.replace(out)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"cannot write {out}: {exc.strerror}") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return size


async def job_status(settings: IngestSettings, job_id: str, parts: bool) -> jobstatus.JobStatus:
    """The job's status (libs.jobstatus); UserError for a job that does not exist."""
    async with connect(settings) as conn, translated(settings.postgres.url):
        found = await jobstatus.job_status(conn, job_id, parts=parts)
    if found is None:
        raise UserError(f"no job {job_id} in ingest_jobs")
    return found


async def jobs(settings: IngestSettings, state: str | None, dataset: str | None,
               limit: int) -> list[jobstatus.JobStatus]:
    """Jobs, newest first (libs.jobstatus.list_jobs); UserError for a negative limit."""
    if limit < 0:
        raise UserError(f"--limit {limit}: give 0 or more")
    async with connect(settings) as conn, translated(settings.postgres.url):
        return await jobstatus.list_jobs(conn, state=state, dataset=dataset, limit=limit)


async def wait(settings: IngestSettings, job_id: str, within: float | None, interval: float,
               stop: asyncio.Event) -> jobwait.Waited:
    """Follow ``job_id`` until it ends (libs.jobwait); UserError for an unknown job or a
    bad interval, TransientError when PostgreSQL cannot be reached at first."""
    if interval <= 0 or (within is not None and within < 0):
        raise UserError("--interval must be positive and --timeout not negative")
    return await jobwait.wait(settings.postgres, job_id, within=within, interval=interval,
                              stop=stop)
