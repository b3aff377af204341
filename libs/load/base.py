"""One batch in one transaction: the claim in ``ingest_batches``, the rows (the load mode's
part), the rejects and the batch-done record. The ack comes after COMMIT; a batch already
claimed by a committed transaction is acked without writing (exactly-once effect).

A load mode is one subclass of :class:`Loader` that writes the rows (``write``), registered
by name in ``libs.load.MODES``; the worker looks the dataset's mode up there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar, Final

import asyncpg

from libs import faults
from libs.db import Conn, consumer_name, translated
from libs.errors import DatabaseUnavailable
from libs.load.prepared import Prepared, RejectRow
from libs.load.target import Target
from libs.messages import Batch

_STATUS: Final = (
    "SELECT EXISTS (SELECT 1 FROM ingest_batches WHERE job_id = $1 AND first_line = $2 "
    "AND last_line = $3) AS finished, (SELECT error FROM ingest_jobs WHERE job_id = $1) AS error")
_CLAIM: Final = (
    "INSERT INTO ingest_batches (job_id, first_line, last_line, seq, records, consumer) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true")
_FINISH: Final = (
    "UPDATE ingest_batches SET rows_inserted = $4, rows_replaced = $5, rows_rejected = $6, "
    "finished_at = now() WHERE job_id = $1 AND first_line = $2 AND last_line = $3")
_JOB: Final = ("INSERT INTO ingest_jobs (job_id, dataset, source, fingerprint) "
               "VALUES ($1, $2, $3, NULLIF($4, '')) ON CONFLICT DO NOTHING")
_FAIL: Final = (
    "INSERT INTO ingest_jobs (job_id, dataset, source, fingerprint, error) "
    "VALUES ($1, $2, $3, NULLIF($4, ''), $5) ON CONFLICT (job_id) DO UPDATE "
    "SET error = COALESCE(ingest_jobs.error, EXCLUDED.error) RETURNING error")
_REJECTS: Final = (
    "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail) "
    "SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) "
    "ON CONFLICT DO NOTHING")


@dataclass
class Outcome:
    duplicate: bool = False
    records: int = 0
    inserted: int = 0
    replaced: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Status:
    """A cheap look before validating: already finished? the job stopped (why)?"""

    finished: bool
    job_error: str | None


class Loader(ABC):
    """The transaction around a batch; subclasses write its rows (one per load mode)."""

    mode: ClassVar[str] = ""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._url = url
        self._jobs_seen: set[str] = set()
        self._name = consumer_name()

    async def status(self, batch: Batch) -> Status:
        async with translated(self._url), self._pool.acquire() as conn:
            row = await conn.fetchrow(_STATUS, batch.job_id, batch.first_line, batch.last_line)
        assert row is not None
        return Status(bool(row["finished"]), row["error"])

    async def fail_job(self, batch: Batch, error: str) -> str:
        """Record why the batch's job stops (the first reason is kept, and returned)."""
        async with translated(self._url), self._pool.acquire() as conn:
            kept: str = await conn.fetchval(_FAIL, batch.job_id, batch.dataset, batch.source,
                                            batch.fingerprint, error)
        return kept

    async def load(self, batch: Batch, prepared: Prepared, target: Target) -> Outcome:
        """One transaction; a duplicate batch (already finished) writes nothing."""
        async with translated(self._url), self._pool.acquire() as conn, conn.transaction():
            outcome = await self._load(conn, batch, prepared, target)
        if faults.trips("consumer.commit_lost"):
            raise DatabaseUnavailable("injected fault: connection lost while COMMIT was sent")
        faults.hit("consumer.after_commit")
        self._jobs_seen.add(batch.job_id)
        return outcome

    async def _load(self, conn: Conn, batch: Batch, prepared: Prepared,
                    target: Target) -> Outcome:
        claimed = await conn.fetchval(_CLAIM, batch.job_id, batch.first_line, batch.last_line,
                                      batch.seq, batch.records, self._name)
        if not claimed:
            return Outcome(duplicate=True)
        if batch.job_id not in self._jobs_seen:
            await conn.execute(_JOB, batch.job_id, batch.dataset, batch.source,
                               batch.fingerprint)
        faults.hit("consumer.mid_transaction")
        outcome = Outcome(records=batch.records)
        extra = await self.write(conn, batch, prepared, target, outcome) if prepared.rows else []
        rejects = sorted(prepared.rejects + extra, key=lambda r: r.line_no)
        await _write_rejects(conn, batch.job_id, rejects, outcome)
        await conn.execute(_FINISH, batch.job_id, batch.first_line, batch.last_line,
                           outcome.inserted, outcome.replaced, sum(outcome.rejected.values()))
        return outcome

    @abstractmethod
    async def write(self, conn: Conn, batch: Batch, prepared: Prepared, target: Target,
                    outcome: Outcome) -> list[RejectRow]:
        """Write ``prepared.rows`` (there is at least one); count them in ``outcome``; return
        the records the database refused or the mode rejected (duplicate_key, ...)."""


async def _write_rejects(conn: Conn, job_id: str, rejects: list[RejectRow],
                         outcome: Outcome) -> None:
    if not rejects:
        return
    await conn.execute(_REJECTS, job_id, [r.line_no for r in rejects],
                       [r.reason for r in rejects], [r.raw for r in rejects],
                       [r.detail for r in rejects])
    outcome.rejected.update(r.reason for r in rejects)
