"""What the tool records about datasets and jobs: ``ingest_datasets``, ``ingest_jobs``.

The producer calls ``register`` before its first publish: the dataset's descriptor under its
fingerprint and the job row, in one transaction, both idempotent (a rerun, or two producers on
one file, change nothing). A consumer calls ``load_descriptor`` with a batch's fingerprint to
rebuild the dataset without local files, and ``mark_failed`` to stop a job (e.g. its table
changed under it); ``job_error`` says whether a job was stopped.

Functions take a connection and raise asyncpg's errors translated by the caller
(``libs.db.translated``), except a database without these tables, which is a
ConfigurationError saying to run ``make migrate-db``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import asyncpg

from libs.db import Conn
from libs.errors import ConfigurationError, PoisonMessage, UserError
from libs.schema.model import Dataset

_DATASET_SQL: Final = """
INSERT INTO ingest_datasets (fingerprint, name, descriptor) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (fingerprint) DO NOTHING
"""
_JOB_SQL: Final = """
INSERT INTO ingest_jobs (job_id, dataset, fingerprint, source, mode)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING
"""
_DESCRIPTOR_SQL: Final = "SELECT descriptor::text FROM ingest_datasets WHERE fingerprint = $1"
_FAIL_SQL: Final = "UPDATE ingest_jobs SET error = $2 WHERE job_id = $1 AND error IS NULL"
_ERROR_SQL: Final = "SELECT error FROM ingest_jobs WHERE job_id = $1"


@dataclass(frozen=True)
class Job:
    """A job as registered: its id, dataset name and fingerprint, the file's name and the
    load mode (``ingest_jobs.mode``, which the consumers apply). Registering it gives it its
    place in job order (``ingest_jobs.job_seq``), kept by a rerun."""

    job_id: str
    dataset: str
    fingerprint: str
    source: str
    mode: str = "insert"


def descriptor_text(dataset: Dataset) -> str:
    """The descriptor as stored: compact JSON, keys sorted."""
    return json.dumps(dataset.to_descriptor(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


@asynccontextmanager
async def _migrated() -> AsyncIterator[None]:
    """A missing table or column of the registry means the database was not migrated."""
    try:
        yield
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
        raise ConfigurationError(f"the database lacks the tool's tables ({exc}): "
                                 "run `make migrate-db`") from exc


async def register(conn: Conn, dataset: Dataset, job: Job) -> str | None:
    """Record the descriptor and the job (one transaction); the job's earlier error, if any."""
    if job.fingerprint != dataset.fingerprint:
        raise ValueError("the job's fingerprint is not the dataset's")
    async with _migrated(), conn.transaction():
        await conn.execute(_DATASET_SQL, dataset.fingerprint, dataset.name,
                           descriptor_text(dataset))
        await conn.execute(_JOB_SQL, job.job_id, job.dataset, job.fingerprint, job.source,
                           job.mode)
        error: str | None = await conn.fetchval(_ERROR_SQL, job.job_id)
    return error


async def load_descriptor(conn: Conn, fingerprint: str) -> Dataset:
    """The dataset registered under ``fingerprint``; PoisonMessage when there is none (a batch
    from a producer that registered elsewhere can never load here)."""
    async with _migrated():
        text: str | None = await conn.fetchval(_DESCRIPTOR_SQL, fingerprint)
    if text is None:
        raise PoisonMessage(f"unknown dataset fingerprint {fingerprint[:12]}… (not in "
                            "ingest_datasets: was it produced against another database?)")
    try:
        return Dataset.from_descriptor(json.loads(text), f"ingest_datasets[{fingerprint[:12]}]")
    except UserError as exc:  # written by another version of the tool
        raise PoisonMessage(f"registered descriptor cannot be read: {exc}") from exc


async def mark_failed(conn: Conn, job_id: str, error: str) -> bool:
    """Record why ``job_id`` stopped; True if this call set it (the first error is kept)."""
    async with _migrated():
        status: str = await conn.execute(_FAIL_SQL, job_id, error)
    return status.endswith(" 1")


async def job_error(conn: Conn, job_id: str) -> str | None:
    """Why ``job_id`` was stopped, or None (also for an unknown job)."""
    async with _migrated():
        error: str | None = await conn.fetchval(_ERROR_SQL, job_id)
    return error
