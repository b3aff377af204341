"""What the tool records about datasets and jobs: ``ingest_datasets``, ``ingest_jobs``.

The producer calls ``register`` before its first publish: the dataset's descriptor under its
fingerprint and the job row (with its options), and for an atomic job not yet applied its stage
table (``libs.load.stage``), in one transaction, all idempotent (a rerun, or two producers on
one file, change nothing). A consumer calls ``load_descriptor`` with a batch's fingerprint to
rebuild the dataset without local files, and ``mark_failed`` to stop a job (e.g. its table
changed under it); ``job_error`` says whether a job was stopped. ``set_publish_error`` records
why a producer stopped before sealing its job (registering or sealing the job clears it).

Functions take a connection and raise asyncpg's errors translated by the caller
(``libs.db.translated``), except a database without these tables, which is a
ConfigurationError saying to run ``make migrate-db``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import asyncpg

from libs.db import Conn, not_migrated
from libs.errors import PoisonMessage, UserError
from libs.load import stage
from libs.schema.model import Dataset

if TYPE_CHECKING:
    from libs.load.prepared import RejectRow

_DATASET_SQL: Final = """
INSERT INTO ingest_datasets (fingerprint, name, descriptor) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (fingerprint) DO NOTHING
"""
_JOB_SQL: Final = """
INSERT INTO ingest_jobs (job_id, dataset, fingerprint, source, mode, dry_run, atomic,
                         max_errors, max_error_ratio, columns, source_path, source_bytes,
                         source_digest, header_names)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (job_id) DO UPDATE SET
    source_path = coalesce(ingest_jobs.source_path, EXCLUDED.source_path),
    source_bytes = coalesce(ingest_jobs.source_bytes, EXCLUDED.source_bytes),
    source_digest = coalesce(ingest_jobs.source_digest, EXCLUDED.source_digest),
    header_names = coalesce(ingest_jobs.header_names, EXCLUDED.header_names)
WHERE (ingest_jobs.source_path IS NULL AND EXCLUDED.source_path IS NOT NULL)
   OR (ingest_jobs.header_names IS NULL AND EXCLUDED.header_names IS NOT NULL)
"""
_UNAPPLIED_SQL: Final = """
SELECT atomic AND applied_at IS NULL AND error IS NULL FROM ingest_jobs WHERE job_id = $1
"""
_DESCRIPTOR_SQL: Final = "SELECT descriptor::text FROM ingest_datasets WHERE fingerprint = $1"
_FAIL_SQL: Final = "UPDATE ingest_jobs SET error = $2 WHERE job_id = $1 AND error IS NULL"
_ERROR_SQL: Final = "SELECT error FROM ingest_jobs WHERE job_id = $1"
_SEAL_SQL: Final = """
UPDATE ingest_jobs SET records = $2, batches = $3, bytes = $4, sealed_at = now(),
                       publish_error = NULL, publish_error_at = NULL
WHERE job_id = $1 AND sealed_at IS NULL
"""
_PUBLISH_ERROR_SQL: Final = """
UPDATE ingest_jobs SET publish_error = $2, publish_error_at = CASE WHEN $2::text IS NULL
                                                                  THEN NULL ELSE now() END
WHERE job_id = $1 AND sealed_at IS NULL AND ($2::text IS NOT NULL OR publish_error IS NOT NULL)
"""
_SEALED_SQL: Final = "SELECT records, batches, bytes FROM ingest_jobs WHERE job_id = $1"
_UNSEAL_SQL: Final = """
UPDATE ingest_jobs SET records = NULL, batches = NULL, bytes = NULL, sealed_at = NULL
WHERE job_id = $1 AND dry_run
"""
_CLEAR_REJECTS_SQL: Final = "DELETE FROM ingest_rejects WHERE job_id = $1"
_REJECTS_SQL: Final = """
INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail, raw_bytes)
SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bytea[])
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class Job:
    """A job as registered: its id, dataset name and fingerprint, the file's name and the
    load mode (``ingest_jobs.mode``, which the consumers apply). Registering it gives it its
    place in job order (``ingest_jobs.job_seq``), kept by a rerun. ``source_path`` (absolute,
    on the producer's host), ``source_bytes`` and ``source_digest`` (sha256 hex) describe the
    file; None: not recorded (a rerun that knows them fills them in, the first kept).
    ``header_names``: a delimited file's header as it spells its names (``Header.spelled``),
    which the rejects export heads its CSV with; None: not recorded (filled in the same way)."""

    job_id: str
    dataset: str
    fingerprint: str
    source: str
    mode: str = "insert"
    dry_run: bool = False
    atomic: bool = False  # staged, applied in one transaction (libs.load.apply)
    max_errors: int | None = None
    max_error_ratio: float | None = None
    columns: tuple[str, ...] = ()  # the header as the batches carry it
    source_path: str | None = None
    source_bytes: int | None = None
    source_digest: str | None = None
    header_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Totals:
    """A whole file as the producer cut it: its records, its batches and its size in bytes."""

    records: int
    batches: int
    bytes: int


def descriptor_text(dataset: Dataset) -> str:
    """The descriptor as stored: compact JSON, keys sorted."""
    return json.dumps(dataset.to_descriptor(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


@asynccontextmanager
async def _migrated() -> AsyncIterator[None]:
    """A missing table or column of the registry means the database was not migrated."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        if (error := not_migrated(exc, "")) is not None:
            raise error from exc
        raise


async def register(conn: Conn, dataset: Dataset, job: Job) -> str | None:
    """Record the descriptor and the job (one transaction); the job's earlier error, if any.
    UserError (nothing recorded) when a job of another mode family keeps it off its table
    (``check_mode_order``)."""
    if job.fingerprint != dataset.fingerprint:
        raise ValueError("the job's fingerprint is not the dataset's")
    async with _migrated(), conn.transaction():
        await conn.execute(_DATASET_SQL, dataset.fingerprint, dataset.name,
                           descriptor_text(dataset))
        if not job.dry_run and await conn.fetchval(_ERROR_SQL, job.job_id) is None:
            await check_mode_order(conn, job.job_id, dataset.table.name, dataset.table.schema,
                                   job.mode)
        await conn.execute(_JOB_SQL, job.job_id, job.dataset, job.fingerprint, job.source,
                           job.mode, job.dry_run, job.atomic, job.max_errors,
                           job.max_error_ratio, list(job.columns), job.source_path,
                           job.source_bytes, job.source_digest,
                           None if job.header_names is None else list(job.header_names))
        if not job.dry_run:  # this run starts publishing again: an earlier stop is over
            await conn.execute(_PUBLISH_ERROR_SQL, job.job_id, None)
        if await conn.fetchval(_UNAPPLIED_SQL, job.job_id):
            await conn.execute(stage.create_sql(job.job_id, dataset.table.name,
                                                dataset.table.schema))
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


async def set_publish_error(conn: Conn, job_id: str, message: str | None) -> bool:
    """Record why a run that registered ``job_id`` stopped before sealing it (``message``;
    None clears it); a sealed or unknown job is left as it is. True if a row changed."""
    async with _migrated():
        status: str = await conn.execute(_PUBLISH_ERROR_SQL, job_id, message)
    return status.endswith(" 1")


async def job_error(conn: Conn, job_id: str) -> str | None:
    """Why ``job_id`` was stopped, or None (also for an unknown job)."""
    async with _migrated():
        error: str | None = await conn.fetchval(_ERROR_SQL, job_id)
    return error


async def seal(conn: Conn, job_id: str, totals: Totals) -> Totals:
    """Record the job's totals once (the first seal is kept: sealing again writes nothing);
    the totals stored, which differ from ``totals`` only if an earlier run cut the file into
    other batches (another --batch-size). ValueError for a job that was never registered."""
    async with _migrated(), conn.transaction():
        await conn.execute(_SEAL_SQL, job_id, totals.records, totals.batches, totals.bytes)
        row = await conn.fetchrow(_SEALED_SQL, job_id)
    if row is None:
        raise ValueError(f"job {job_id} is not registered")
    return Totals(row["records"], row["batches"], row["bytes"])


async def sealed(conn: Conn, job_id: str) -> Totals | None:
    """The job's totals if it is sealed (every batch of its file was published), else None
    (also for an unknown job)."""
    async with _migrated():
        row = await conn.fetchrow(_SEALED_SQL + " AND sealed_at IS NOT NULL", job_id)
    return None if row is None else Totals(row["records"], row["batches"], row["bytes"])


async def restart_dry_run(conn: Conn, job_id: str) -> None:
    """Empty a dry-run job's report (its rejects, its seal) before it is written again."""
    async with _migrated(), conn.transaction():
        status: str = await conn.execute(_UNSEAL_SQL, job_id)
        if not status.endswith(" 1"):
            raise ValueError(f"job {job_id} is not a registered dry run")
        await conn.execute(_CLEAR_REJECTS_SQL, job_id)


async def add_rejects(conn: Conn, job_id: str, rejects: Sequence[RejectRow]) -> None:
    """A dry run's rejects, as a consumer writes a batch's (one row per record, by line)."""
    if rejects:
        async with _migrated():
            await conn.execute(_REJECTS_SQL, job_id, [r.line_no for r in rejects],
                               [r.reason for r in rejects], [r.raw for r in rejects],
                               [r.detail for r in rejects], [r.raw_bytes for r in rejects])


_BATCHING_SQL: Final = "SELECT batch_size, batch_bytes FROM ingest_jobs WHERE job_id = $1"
_KEEP_BATCHING_SQL: Final = """
UPDATE ingest_jobs SET batch_size = coalesce(batch_size, $2),
                       batch_bytes = coalesce(batch_bytes, $3)
WHERE job_id = $1 RETURNING batch_size, batch_bytes
"""


async def batching(conn: Conn, job_id: str) -> tuple[int, int] | None:
    """The job's (batch_size, batch_bytes) as its first published batch was cut, or None
    while none is recorded (no batch confirmed yet, or a job of an earlier version)."""
    async with _migrated():
        row = await conn.fetchrow(_BATCHING_SQL, job_id)
    if row is None or row["batch_size"] is None or row["batch_bytes"] is None:
        return None
    return int(row["batch_size"]), int(row["batch_bytes"])


async def keep_batching(conn: Conn, job_id: str, batch_size: int,
                        batch_bytes: int) -> tuple[int, int]:
    """Record the job's batching once its first batch is confirmed (an earlier record wins);
    the recorded values. A rerun then cuts the same batches whatever its options, so no batch
    of a republish overlaps one already loaded (a keyless table would take it twice)."""
    async with _migrated():
        row = await conn.fetchrow(_KEEP_BATCHING_SQL, job_id, batch_size, batch_bytes)
    if row is None:
        raise ValueError(f"job {job_id} is not registered")
    return int(row["batch_size"]), int(row["batch_bytes"])


# Jobs on one table load in job order only within one family of modes: insert; upsert and
# merge (both version-guarded, they interleave correctly); replace (alone). A job of another
# family that is still loading, or newer, would let the commit order decide.
_CONFLICT_SQL: Final = """
WITH me AS (SELECT coalesce((SELECT job_seq FROM ingest_jobs WHERE job_id = $1),
                            9223372036854775807) AS job_seq),  -- a new job: the newest
jobs AS (
    SELECT j.job_id, j.job_seq, j.mode,
           j.records IS NOT NULL
           AND coalesce((SELECT sum(b.records) FROM ingest_batches b
                         WHERE b.job_id = j.job_id), 0) >= j.records
           AND (NOT j.atomic OR j.applied_at IS NOT NULL) AS complete
    FROM ingest_jobs j JOIN ingest_datasets d ON d.fingerprint = j.fingerprint
    WHERE d.descriptor #>> '{x-ingest,table}' = $2
      AND coalesce(d.descriptor #>> '{x-ingest,dbSchema}', 'public') = coalesce($3, 'public')
      AND NOT j.dry_run AND j.error IS NULL)
SELECT k.job_id, k.mode, k.complete, k.job_seq > me.job_seq AS newer,
       (SELECT complete FROM jobs WHERE job_id = $1) AS me_complete
FROM jobs k, me
WHERE k.job_id <> $1
  AND (k.mode = 'replace' OR $4 = 'replace' OR (k.mode = 'insert') <> ($4 = 'insert'))
  AND (k.job_seq > me.job_seq OR NOT k.complete)
ORDER BY k.job_seq LIMIT 1
"""
# A job that has ended is not stopped: every batch done or dead-lettered (an atomic job:
# applied, or failed by a dead letter). ``applied_at IS NULL`` is checked again on the row an
# apply committed meanwhile (the UPDATE waits for the apply's lock), so an abort that waited
# for an apply does not mark the applied job aborted.
_ABORT_SQL: Final = """
WITH done AS (SELECT coalesce(sum(records), 0) AS n FROM ingest_batches WHERE job_id = $1),
dead AS (SELECT count(*) AS batches, coalesce(sum(records), 0) AS n
         FROM ingest_dead_letters x WHERE x.job_id = $1 AND NOT EXISTS (
             SELECT 1 FROM ingest_batches y WHERE y.job_id = x.job_id
             AND y.first_line = x.first_line AND y.last_line = x.last_line))
UPDATE ingest_jobs j SET error = $2 FROM done, dead
WHERE j.job_id = $1 AND j.error IS NULL AND j.applied_at IS NULL
  AND (j.sealed_at IS NULL OR done.n + dead.n < j.records
       OR ((j.atomic OR j.mode = 'replace') AND dead.batches = 0))
RETURNING j.job_id
"""
ABORTED: Final = "aborted by an operator"


async def check_mode_order(conn: Conn, job_id: str, table: str, schema: str | None,
                           mode: str) -> None:
    """UserError when job ``job_id`` (``mode`` on ``table``; registered or about to be) may
    not load now: a job of another family of modes (insert | upsert, merge | replace, which
    loads alone) on the same table is still loading, or is newer. Job order decides the final
    table only within a family (README, "Load modes"); across them the commit order would. A
    complete job (nothing left to load) is never refused. Run in ``register``'s transaction,
    under a lock on the table's name, so that two producers cannot both pass."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{schema}.{table}")
    row = await conn.fetchrow(_CONFLICT_SQL, job_id, table, schema, mode)
    if row is None or row["me_complete"]:
        return
    other, when = row["job_id"], ("newer than this one" if row["newer"] else "still loading")
    raise UserError(
        f"table {table} has job {other} in {row['mode']} mode, {when}: jobs of another mode "
        f"(insert | upsert or merge | replace) load one after the other on one table, so that "
        f"job order decides the result. "
        + ("Finish that job first (rerun its file), or stop it: ingest abort " + other
           if not row["newer"] else
           f"This older {mode} job cannot load after it: stop it with ingest abort {job_id}"))


async def abort(conn: Conn, job_id: str) -> bool:
    """Stop ``job_id``: its batches not loaded yet are skipped, an atomic job is not applied.
    True if this call stopped it (False: unknown, stopped already, or ended: every batch done
    or dead-lettered, an atomic job applied)."""
    async with _migrated():
        return await conn.fetchval(_ABORT_SQL, job_id, ABORTED) is not None
