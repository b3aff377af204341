"""One batch in one transaction: the claim in ``ingest_batches``, the rows (the load mode's
part), the rejects and the batch-done record. The ack comes after COMMIT; a batch already
claimed by a committed transaction is acked without writing (exactly-once effect).

A load mode is one subclass of :class:`Loader` that writes the rows (``write``), registered
by name in ``libs.load.MODES``; the worker looks the job's mode up there (``ingest_jobs.mode``,
``libs.load.jobs``).

Counters (README, "Counters"): every record of a batch is counted once in its own batch's
``ingest_batches`` row, as ``inserted``, ``updated``, ``deleted``, ``unchanged``,
``superseded``, ``rejected`` or ``skipped``; they sum to the batch's records. A batch of an
atomic job counts its staged records ``pending`` until the apply moves each to its counter
(``libs.load.apply``). A commit that
changes the fate of a record of another batch moves that record's count there too
(:func:`move_counts`), so the counters stay exact whatever the commit order.
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
from libs.load.threshold import Threshold, check_streaming
from libs.messages import Batch

_STATUS: Final = (
    "SELECT EXISTS (SELECT 1 FROM ingest_batches WHERE job_id = $1 AND first_line = $2 "
    "AND last_line = $3) AS finished, (SELECT error FROM ingest_jobs WHERE job_id = $1) AS error, "
    "(SELECT applied_at IS NOT NULL FROM ingest_jobs WHERE job_id = $1) AS applied")
_CLAIM: Final = (
    "INSERT INTO ingest_batches (job_id, first_line, last_line, seq, records, consumer) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true")
COUNTERS: Final = ("inserted", "updated", "deleted", "unchanged", "superseded", "rejected",
                   "skipped")
# ingest_keys.effect: the applied record's counter, one letter.
EFFECTS: Final = {"i": "inserted", "u": "updated", "d": "deleted", "n": "unchanged"}
_FINISH: Final = (
    "UPDATE ingest_batches SET inserted = $4, updated = $5, deleted = $6, unchanged = $7, "
    "superseded = $8, rejected = $9, skipped = $10, pending = $11, "
    "finished_at = clock_timestamp() "
    "WHERE job_id = $1 AND first_line = $2 AND last_line = $3")
# Counted per batch row first: an UPDATE joined to several rows updates its row once.
_MOVE: Final = (
    "UPDATE ingest_batches b SET {source} = b.{source} - m.n, {dest} = b.{dest} + m.n "
    "FROM (SELECT o.job_id, o.first_line, o.last_line, count(*) AS n FROM ingest_batches o "
    "JOIN unnest($1::text[], $2::int[]) AS u(job_id, line_no) ON o.job_id = u.job_id "
    "AND u.line_no BETWEEN o.first_line AND o.last_line GROUP BY 1, 2, 3) m "
    "WHERE (b.job_id, b.first_line, b.last_line) = (m.job_id, m.first_line, m.last_line)")
_FAIL: Final = (
    "INSERT INTO ingest_jobs (job_id, dataset, source, fingerprint, error) "
    "VALUES ($1, $2, $3, NULLIF($4, ''), $5) ON CONFLICT (job_id) DO UPDATE "
    "SET error = COALESCE(ingest_jobs.error, EXCLUDED.error) RETURNING error")
_REJECTS: Final = (
    "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail, raw_bytes) "
    "SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bytea[]) "
    "ON CONFLICT DO NOTHING")


@dataclass
class Outcome:
    """One batch's counters (its own records only); ``rejected`` by reason. ``moved``: the
    counts this commit moved in other batches' rows, by (source, dest) counter."""

    duplicate: bool = False
    records: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    superseded: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    # Staged by a batch of an atomic job, waiting for the apply (not a counter: the apply
    # moves each record to its counter, in ``moved`` with source ``pending``).
    pending: int = 0
    moved: Counter[tuple[str, str]] = field(default_factory=Counter)
    crossed: str | None = None  # this batch crossed the job's error threshold (why)

    def counts(self) -> dict[str, int]:
        """The counters by name (COUNTERS order), ``rejected`` as a total."""
        return {name: sum(self.rejected.values()) if name == "rejected" else getattr(self, name)
                for name in COUNTERS}


@dataclass(frozen=True)
class Move:
    """A record of another batch whose fate this commit changes: one count moves from
    ``source`` to ``dest`` (COUNTERS names) in the batch row holding (job_id, line_no)."""

    job_id: str
    line_no: int
    source: str
    dest: str


async def move_counts(conn: Conn, moves: list[Move], outcome: Outcome) -> None:
    """Apply ``moves`` to the batch rows holding their records (one UPDATE per kind of move,
    in a fixed order so that concurrent batches lock batch rows alike); count them in
    ``outcome.moved``."""
    kinds: dict[tuple[str, str], list[Move]] = {}
    for move in moves:
        if move.source != move.dest:
            kinds.setdefault((move.source, move.dest), []).append(move)
    for (source, dest), group in sorted(kinds.items()):
        if source not in COUNTERS or dest not in COUNTERS:
            raise ValueError(f"not a counter: {source} -> {dest}")
        group.sort(key=lambda m: (m.job_id, m.line_no))
        await conn.execute(_MOVE.format(source=source, dest=dest),
                           [m.job_id for m in group], [m.line_no for m in group])
        outcome.moved[(source, dest)] += len(group)


@dataclass(frozen=True)
class Work:
    """What a load mode writes: the batch, its validated rows, the table, the job's order."""

    batch: Batch
    prepared: Prepared
    target: Target
    job_seq: int


@dataclass(frozen=True)
class Status:
    """A cheap look before validating: already finished? the job stopped (why)? applied (an
    atomic job: every batch is in)?"""

    finished: bool
    job_error: str | None
    applied: bool = False


class Loader(ABC):
    """The transaction around a batch; subclasses write its rows (one per load mode)."""

    mode: ClassVar[str] = ""
    # The counter of a record the mode wrote without saying its fate (write_fates).
    unsent: ClassVar[str] = "inserted"
    # Within a batch, the first line of a key is kept (insert) rather than every line
    # (upsert, merge: the mode picks the last): consumer/parse.prepare's duplicate rule.
    first_wins: ClassVar[bool] = True

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._url = url
        self._name = consumer_name()

    async def status(self, batch: Batch) -> Status:
        async with translated(self._url), self._pool.acquire() as conn:
            row = await conn.fetchrow(_STATUS, batch.job_id, batch.first_line, batch.last_line)
        assert row is not None
        return Status(bool(row["finished"]), row["error"], bool(row["applied"]))

    async def fail_job(self, batch: Batch, error: str) -> str:
        """Record why the batch's job stops (the first reason is kept, and returned)."""
        async with translated(self._url), self._pool.acquire() as conn:
            kept: str = await conn.fetchval(_FAIL, batch.job_id, batch.dataset, batch.source,
                                            batch.fingerprint, error)
        return kept

    async def load(self, batch: Batch, prepared: Prepared, target: Target,
                   job_seq: int, threshold: Threshold | None = None) -> Outcome:
        """One transaction; a duplicate batch (already finished) writes nothing. ``job_seq``:
        the job's place in job order (``libs.load.jobs``); ``threshold``: the job's error
        limits, checked after the batch's rejects (libs.load.threshold)."""
        async with translated(self._url), self._pool.acquire() as conn, conn.transaction():
            outcome = await self._load(conn, batch, prepared, target, job_seq)
            if threshold is not None and not outcome.duplicate:
                outcome.crossed = await check_streaming(conn, batch.job_id, threshold)
        if faults.trips("consumer.commit_lost"):
            raise DatabaseUnavailable("injected fault: connection lost while COMMIT was sent")
        faults.hit("consumer.after_commit")
        return outcome

    async def _load(self, conn: Conn, batch: Batch, prepared: Prepared, target: Target,
                    job_seq: int) -> Outcome:
        claimed = await conn.fetchval(_CLAIM, batch.job_id, batch.first_line, batch.last_line,
                                      batch.seq, batch.records, self._name)
        if not claimed:
            return Outcome(duplicate=True)
        faults.hit("consumer.mid_transaction")
        outcome = Outcome(records=batch.records)
        extra: list[RejectRow] = []
        if prepared.size:
            extra = await self.write(conn, Work(batch, prepared, target, job_seq), outcome)
        rejects = sorted(prepared.rejects + extra, key=lambda r: r.line_no)
        await _write_rejects(conn, batch.job_id, rejects, outcome)
        await conn.execute(_FINISH, batch.job_id, batch.first_line, batch.last_line,
                           *outcome.counts().values(), outcome.pending)
        return outcome

    async def skip(self, batch: Batch) -> Outcome:
        """A batch of a job that crossed its error threshold: its batch-done row, every record
        counted ``skipped``, nothing loaded (a duplicate writes nothing)."""
        async with translated(self._url), self._pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(_CLAIM, batch.job_id, batch.first_line,
                                          batch.last_line, batch.seq, batch.records, self._name)
            if not claimed:
                return Outcome(duplicate=True)
            outcome = Outcome(records=batch.records, skipped=batch.records)
            await conn.execute(_FINISH, batch.job_id, batch.first_line, batch.last_line,
                               *outcome.counts().values(), 0)
        return outcome

    async def write_fates(self, conn: Conn, work: Work,
                          outcome: Outcome) -> tuple[list[RejectRow], dict[int, str]]:
        """:meth:`write`, and the counter of each line whose fate is not ``unsent`` nor a
        reject (the apply of an atomic job counts line by line)."""
        return await self.write(conn, work, outcome), {}

    @abstractmethod
    async def write(self, conn: Conn, work: Work, outcome: Outcome) -> list[RejectRow]:
        """Write ``work.prepared.rows`` (there is at least one); count them in ``outcome``
        (and move the counts of other batches' records whose fate changes); return the
        records the database refused or the mode rejected (duplicate_key, ...)."""


async def _write_rejects(conn: Conn, job_id: str, rejects: list[RejectRow],
                         outcome: Outcome) -> None:
    if not rejects:
        return
    await conn.execute(_REJECTS, job_id, [r.line_no for r in rejects],
                       [r.reason for r in rejects], [r.raw for r in rejects],
                       [r.detail for r in rejects], [r.raw_bytes for r in rejects])
    outcome.rejected.update(r.reason for r in rejects)
