"""The apply of an atomic job: every staged row written to the target in ONE transaction.

Who applies. A job is complete when it is sealed and its batches' records add up to the sealed
records. ``lock`` takes the job's row ``FOR UPDATE SKIP LOCKED`` where it is complete, not
applied and not failed: exactly one transaction gets it; another one looking at the same time
skips it (and does nothing), one looking after the COMMIT no longer finds it (``applied_at``
is set). A consumer checks after each committed batch of an atomic job, on the producer's seal
message, and in its periodic scan (``scan``): whichever commit makes the job complete (the last
batch, or the seal when the batches were all in before it) is followed by a look that sees it
complete, and a look that dies (kill -9, PostgreSQL restart) rolls back and leaves the job to
the next scan.

What it does, with the job locked (``apply``): reads the stage in key order in chunks of whole
keys (a SQL cursor), writes each chunk with the job's mode (insert, upsert, merge: the
streaming loaders, so the job's result and counters are those of a streaming load; replace:
``libs.load.replace``), checks the error threshold over every reject of the job (the batches'
and the apply's), then moves each staged record's count in its batch row from ``pending`` to
its counter, sets ``applied_at`` and drops the stage. Over the threshold (or a replace that
PostgreSQL refuses) the writes are rolled back (a savepoint): the job's error is set, the
rejects stay (the apply's too), the staged records count ``skipped``, the stage is dropped.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

import asyncpg

from libs import faults
from libs.db import Conn
from libs.formats import Reader
from libs.load.base import COUNTERS, Loader, Outcome, Work
from libs.load.isolate import refused
from libs.load.payload import csv_line
from libs.load.prepared import REBUILT_STAGED, Prepared, RejectRow, Row
from libs.load.replace import drop_unloaded, empty_target
from libs.load.stage import COLUMNS, drop_sql, stage_table
from libs.load.target import Target
from libs.load.threshold import ATOMIC_NOTE, Threshold
from libs.messages import Batch
from libs.schema.names import quote_ident
from libs.schema.reasons import DUPLICATE_KEY

CHUNK: Final = 5000  # staged rows per chunk (whole keys: a chunk may hold a few more)
_JOB: Final = (
    "SELECT job_id, dataset, coalesce(fingerprint, '') AS fingerprint, source, mode, job_seq, "
    "columns, records, max_errors, max_error_ratio FROM ingest_jobs WHERE job_id = $1 "
    "AND atomic AND NOT dry_run AND applied_at IS NULL AND error IS NULL "
    "AND sealed_at IS NOT NULL AND records = "
    "(SELECT coalesce(sum(records), 0) FROM ingest_batches WHERE job_id = $1)")
_LOCK: Final = _JOB + " FOR UPDATE SKIP LOCKED"
_SCAN: Final = (
    "SELECT job_id FROM ingest_jobs j WHERE atomic AND NOT dry_run AND applied_at IS NULL "
    "AND error IS NULL AND sealed_at IS NOT NULL AND (cardinality($1::text[]) = 0 "
    "OR dataset = ANY($1::text[])) AND records = (SELECT coalesce(sum(b.records), 0) "
    "FROM ingest_batches b WHERE b.job_id = j.job_id) ORDER BY job_seq")
_RANGES: Final = ("SELECT first_line, last_line, rejected FROM ingest_batches WHERE job_id = $1 "
                  "ORDER BY first_line")
_COUNT: Final = (
    "UPDATE ingest_batches b SET pending = b.pending - u.n, "
    + ", ".join(f"{name} = b.{name} + u.{name}" for name in COUNTERS)
    + " FROM unnest($2::int[], $3::int[], $4::int[], "
    + ", ".join(f"${i}::int[]" for i in range(5, 5 + len(COUNTERS)))
    + f") AS u(first_line, last_line, n, {', '.join(COUNTERS)}) WHERE b.job_id = $1 "
    "AND b.first_line = u.first_line AND b.last_line = u.last_line")
_LEFT: Final = "SELECT count(*) FROM ingest_batches WHERE job_id = $1 AND pending <> 0"
_PENDING: Final = "SELECT coalesce(sum(pending), 0) FROM ingest_batches WHERE job_id = $1"
_SKIP_REST: Final = ("UPDATE ingest_batches SET skipped = skipped + pending, pending = 0 "
                     "WHERE job_id = $1 AND pending <> 0")
_REJECTS: Final = (
    "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail, raw_bytes) "
    "SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bytea[]) "
    "ON CONFLICT DO NOTHING")
_APPLIED: Final = "UPDATE ingest_jobs SET applied_at = clock_timestamp() WHERE job_id = $1"
_FAILED: Final = "UPDATE ingest_jobs SET error = $2 WHERE job_id = $1 AND error IS NULL"
_CURSOR: Final = "_ingest_apply"


@dataclass(frozen=True)
class AtomicJob:
    """A complete atomic job, as the apply reads it from ``ingest_jobs``."""

    job_id: str
    dataset: str
    fingerprint: str
    source: str
    mode: str
    seq: int
    columns: tuple[str, ...]
    records: int
    threshold: Threshold

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> AtomicJob:
        return cls(row["job_id"], row["dataset"], row["fingerprint"], row["source"], row["mode"],
                   int(row["job_seq"]), tuple(row["columns"] or ()), int(row["records"]),
                   Threshold(row["max_errors"], row["max_error_ratio"]))

    def batch(self) -> Batch:
        """A batch-shaped handle of the job (what the dataset resolution and loaders need)."""
        return Batch(self.job_id, self.dataset, -1, 1, 1, 0, self.columns, self.source, b"",
                     self.fingerprint)


@dataclass
class Applied:
    """What an apply did: ``error`` None (applied) or why the job failed; ``outcome.moved``:
    the staged records' counts, from ``pending`` to their counters."""

    job_id: str
    error: str | None = None
    outcome: Outcome = field(default_factory=Outcome)
    replaced: bool = False  # replace: the DELETE path (a foreign key references the table)


class _Failed(Exception):
    """The apply is undone and the job fails (the threshold, a replace PostgreSQL refuses)."""


async def complete(conn: Conn, job_id: str) -> AtomicJob | None:
    """The job, if it is atomic, complete and neither applied nor failed (no lock)."""
    row = await conn.fetchrow(_JOB, job_id)
    return None if row is None else AtomicJob.from_row(row)


async def lock(conn: Conn, job_id: str) -> AtomicJob | None:
    """In the apply's transaction: the job locked for this transaction, or None when it is not
    complete, already applied or failed, or another transaction holds it."""
    row = await conn.fetchrow(_LOCK, job_id)
    return None if row is None else AtomicJob.from_row(row)


async def scan(conn: Conn, datasets: tuple[str, ...] = ()) -> list[str]:
    """Complete atomic jobs not applied yet (of ``datasets``; empty: all), in job order."""
    return [r["job_id"] for r in await conn.fetch(_SCAN, list(datasets))]


async def apply(conn: Conn, job: AtomicJob, target: Target, loader_for: Callable[[str], Loader],
                reader: Reader) -> Applied:
    """Apply ``job`` (locked by :func:`lock`) in the caller's transaction."""
    ranges = await conn.fetch(_RANGES, job.job_id)
    run = _Run(conn, job, target, loader_for, reader, Tally(ranges))
    earlier = sum(int(r["rejected"]) for r in ranges)
    try:
        async with conn.transaction():  # a savepoint: undone when the job fails
            await run.write()
            faults.hit("consumer.mid_apply")
            if pause := faults.pause_s("consumer.apply_pause"):
                await asyncio.sleep(pause)
            why = job.threshold.crossed(earlier + len(run.rejects), job.records)
            if why is not None:
                raise _Failed(why + ATOMIC_NOTE)
    except _Failed as exc:
        return await _fail(conn, run, str(exc))
    await _write_rejects(conn, job.job_id, run.rejects)
    outcome = await run.tally.write(conn, job.job_id)
    if await conn.fetchval(_LEFT, job.job_id):
        raise RuntimeError(f"apply of {job.job_id}: staged records left uncounted")
    await conn.execute(_APPLIED, job.job_id)
    await conn.execute(drop_sql(job.job_id))
    outcome.rejected.update(r.reason for r in run.rejects)
    return Applied(job.job_id, None, outcome, run.replaced)


async def _fail(conn: Conn, run: _Run, why: str) -> Applied:
    """The job fails: the apply's rejects are kept, everything else staged is skipped."""
    job_id = run.job.job_id
    await _write_rejects(conn, job_id, run.rejects)
    tally = Tally(await conn.fetch(_RANGES, job_id))
    for reject in run.rejects:
        tally.add(reject.line_no, "rejected")
    outcome = await tally.write(conn, job_id)
    skipped = int(await conn.fetchval(_PENDING, job_id))
    await conn.execute(_SKIP_REST, job_id)
    if skipped:
        outcome.moved[("pending", "skipped")] += skipped
    await conn.execute(_FAILED, job_id, why)
    await conn.execute(drop_sql(job_id))
    outcome.rejected.update(r.reason for r in run.rejects)
    return Applied(job_id, why, outcome)


async def _write_rejects(conn: Conn, job_id: str, rejects: list[RejectRow]) -> None:
    """The apply's rejects: their text is rebuilt from the staged rows (the file's bytes are
    not kept), which their detail says (``REBUILT_STAGED``, for the rejects export)."""
    if rejects:
        await conn.execute(_REJECTS, job_id, [r.line_no for r in rejects],
                           [r.reason for r in rejects], [r.raw for r in rejects],
                           [r.detail + REBUILT_STAGED for r in rejects],
                           [None] * len(rejects))


class Tally:
    """Each staged record's counter, added up per batch row (found by line)."""

    def __init__(self, ranges: list[asyncpg.Record]) -> None:
        self.ranges = [(int(r["first_line"]), int(r["last_line"])) for r in ranges]
        self.firsts = [first for first, _ in self.ranges]
        self.counts: dict[int, Counter[str]] = {}

    def add(self, line: int, counter: str) -> None:
        at = bisect_right(self.firsts, line) - 1
        if at < 0 or line > self.ranges[at][1]:
            raise RuntimeError(f"staged line {line} is in no batch of the job")
        self.counts.setdefault(at, Counter())[counter] += 1

    async def write(self, conn: Conn, job_id: str) -> Outcome:
        """Move the counts from ``pending`` in the batch rows; the moves, as an Outcome."""
        outcome = Outcome()
        if not self.counts:
            return outcome
        at = sorted(self.counts)
        columns = [[self.counts[i][name] for i in at] for name in COUNTERS]
        await conn.execute(_COUNT, job_id, [self.ranges[i][0] for i in at],
                           [self.ranges[i][1] for i in at],
                           [sum(self.counts[i].values()) for i in at], *columns)
        for counts in self.counts.values():
            for name, n in counts.items():
                outcome.moved[("pending", name)] += n
        return outcome


class StagedPrepared(Prepared):
    """A chunk of the stage as the loaders take a batch; a record's text is rebuilt from its
    staged values (the file's bytes are not kept)."""

    texts: dict[int, str]

    def raw_record(self, line_no: int) -> tuple[str, bytes | None]:
        return self.texts.get(line_no, ""), None


class _Run:
    """One apply: the chunks of the stage, written; the rejects and counts gathered."""

    def __init__(self, conn: Conn, job: AtomicJob, target: Target,
                 loader_for: Callable[[str], Loader], reader: Reader, tally: Tally) -> None:
        self.conn, self.job, self.reader, self.tally = conn, job, reader, tally
        self.keys: dict[int, str] = {}
        self.target = replace(target, key_of=lambda row: self.keys[int(row[-1])])
        self.loader_for = loader_for
        self.stage = stage_table(job.job_id)
        self.rejects: list[RejectRow] = []
        self.replaced = False
        self.unloaded: list[int] = []  # replace, DELETE path: a line of each key that did not load

    async def write(self) -> None:
        if self.job.mode == "replace":
            await self._empty()
        t = self.target
        values = ", ".join(f"{quote_ident(c)}::text" for c in t.columns)
        order = "_key, _line" if t.key else "_line"
        await self.conn.execute(f"DECLARE {_CURSOR} NO SCROLL CURSOR FOR SELECT {values}, "
                                f"{', '.join(COLUMNS)} FROM {self.stage} ORDER BY {order}")
        carry: list[asyncpg.Record] = []
        while True:
            fetched = await self.conn.fetch(f"FETCH {CHUNK} FROM {_CURSOR}")
            records = carry + list(fetched)
            if len(fetched) < CHUNK:
                break
            last = records[-1]["_key"]
            cut = next((i for i in range(len(records) - 1, -1, -1)
                        if records[i]["_key"] != last), -1) + 1 if t.key else len(records)
            if cut == 0:  # one key fills the whole fetch: keep reading
                carry = records
                continue
            await self._chunk(records[:cut])
            carry = records[cut:]
        if records:
            await self._chunk(records)
        await self.conn.execute(f"CLOSE {_CURSOR}")
        if self.unloaded:
            await drop_unloaded(self.conn, t, self.stage, self.unloaded)

    async def _empty(self) -> None:
        try:
            async with self.conn.transaction():
                self.replaced = await empty_target(self.conn, self.target, self.stage)
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            detail = f" ({exc.detail})" if getattr(exc, "detail", None) else ""
            raise _Failed(f"replace refused by PostgreSQL: {exc}{detail}; the target is "
                          "unchanged") from exc

    async def _chunk(self, records: list[asyncpg.Record]) -> None:
        width = len(self.target.columns)
        job = self.job.job_id
        rows: list[Row] = []
        texts: dict[int, str] = {}
        for r in records:
            line = int(r["_line"])
            values = tuple("" if v is None else v for v in list(r.values())[:width])
            rows.append((*values, job, str(line)))
            self.keys[line] = r["_key"] or ""
            texts[line] = csv_line(values)
        mode = self.job.mode
        if mode == "replace" and self.target.key:
            await self._replace(rows, texts)
        elif mode in ("insert", "replace"):
            await self._insert(rows, texts)
        else:
            await self._versioned(rows, texts, self.loader_for(mode))
        self.keys.clear()

    def _prepared(self, rows: list[Row], texts: dict[int, str]) -> StagedPrepared:
        prepared = StagedPrepared(b"", 0, self.reader)
        prepared.rows, prepared.texts = rows, texts
        return prepared

    async def _write(self, loader: Loader, prepared: Prepared) -> tuple[list[RejectRow],
                                                                       dict[int, str]]:
        work = Work(self.job.batch(), prepared, self.target, self.job.seq)
        extra, fates = await loader.write_fates(self.conn, work, Outcome())
        return prepared.rejects + extra, fates

    async def _insert(self, rows: list[Row], texts: dict[int, str]) -> None:
        """Insert's rule: each key's first line; later ones wait as duplicates (the loader
        takes the next one where PostgreSQL refuses the first)."""
        prepared = self._prepared([], texts)
        first: dict[str, int] = {}
        for row in rows:
            line = int(row[-1])
            key = self.keys[line] if self.target.key else str(line)
            if key not in first:
                first[key] = line
                prepared.rows.append(row)
                continue
            prepared.duplicates.setdefault(key, []).append((line, row))
            prepared.rejects.append(self._duplicate(line, key, first[key], texts))
        rejects, _ = await self._write(self.loader_for("insert"), prepared)
        self._count(rows, rejects, {}, "inserted")

    async def _versioned(self, rows: list[Row], texts: dict[int, str], loader: Loader) -> None:
        rejects, fates = await self._write(loader, self._prepared(rows, texts))
        self._count(rows, rejects, fates, loader.unsent)

    async def _replace(self, rows: list[Row], texts: dict[int, str]) -> None:
        """Each key's lines offered first line first; those not sent are duplicates."""
        ordered = sorted(rows, key=lambda row: (self.keys[int(row[-1])], -int(row[-1])))
        rejects, fates = await self._write(self.loader_for("replace"),
                                           self._prepared(ordered, texts))
        written = {line: "inserted" if fate in ("inserted", "updated") else fate
                   for line, fate in fates.items()}
        winner = {self.keys[line]: line for line, fate in written.items() if fate == "inserted"}
        refused_lines = {r.line_no for r in rejects}
        lost: dict[str, int] = {}  # keys none of whose lines loaded: one line of each
        for row in rows:
            line = int(row[-1])
            key = self.keys[line]
            if key not in winner:
                lost.setdefault(key, line)
            elif line not in written and line not in refused_lines:
                rejects.append(self._duplicate(line, key, winner[key], texts))
        if self.replaced:
            self.unloaded += lost.values()
        self._count(rows, rejects, written, "inserted")

    def _duplicate(self, line: int, key: str, first: int, texts: dict[int, str]) -> RejectRow:
        return RejectRow(line, DUPLICATE_KEY, texts[line],
                         f"{','.join(self.target.key)} {key} already on line {first}")

    def _count(self, rows: list[Row], rejects: list[RejectRow], fates: dict[int, str],
               unsent: str) -> None:
        rejected = {r.line_no for r in rejects}
        self.rejects += [r for r in rejects if r.line_no in self.keys]
        for row in rows:
            line = int(row[-1])
            fate = "rejected" if line in rejected else fates.get(line, unsent)
            self.tally.add(line, fate)


_GIVE_UP_LOCK: Final = ("SELECT 1 FROM ingest_jobs WHERE job_id = $1 AND applied_at IS NULL "
                        "FOR UPDATE")


async def give_up(conn: Conn, job_id: str, why: str) -> Outcome:
    """The apply cannot be done (the job's table changed, its dataset cannot be read): the job
    fails with ``why``, its staged records count ``skipped``, the stage is dropped."""
    outcome = Outcome()
    async with conn.transaction():
        if await conn.fetchval(_GIVE_UP_LOCK, job_id) is None:
            return outcome
        skipped = int(await conn.fetchval(_PENDING, job_id))
        await conn.execute(_SKIP_REST, job_id)
        await conn.execute(_FAILED, job_id, why)
        await conn.execute(drop_sql(job_id))
    if skipped:
        outcome.moved[("pending", "skipped")] += skipped
    return outcome
