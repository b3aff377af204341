"""Write one batch in one transaction: its rows, its rejects and its finished-batch record.

Fast path: COPY the rows straight into the target table (inside a savepoint). If a key is
already taken, COPY aborts; the savepoint is rolled back and the slow path runs: COPY into a
temporary stage table, insert the new keys with ON CONFLICT DO NOTHING, then settle each
conflict row by row under a lock:
- the same job and line is already loaded (a replay): nothing to do;
- the same job holds the key from a later line: the earlier line wins, the later one is moved
  to the rejects (``duplicate_key``), whatever order the batches commit in;
- otherwise (an earlier line, or an earlier job): this record is rejected ``duplicate_key``.

A record whose value PostgreSQL refuses (a data exception, a constraint other than the key,
a program limit) is rejected ``database_rejected`` with PostgreSQL's message, and the rest of
the batch loads: each statement that fails that way is retried on parts of the batch in
savepoints (consumer/isolate.py), using the line COPY names, else bisection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import asyncpg

from consumer.isolate import (
    copy_line,
    detail,
    failing_row_numbers,
    isolate,
    refused,
    refused_not_key,
)
from consumer.parse import Prepared, RejectRow
from consumer.payload import Row, copy_payload, row_at_line
from libs import faults
from libs.dataset import DATABASE_REJECTED, DUPLICATE_KEY, Dataset
from libs.db import Conn, consumer_name, quote_all, quote_ident, translated
from libs.errors import DatabaseUnavailable
from libs.messages import Batch

LINEAGE: Final = ("job_id", "line_no")


@dataclass
class Outcome:
    duplicate: bool = False
    records: int = 0
    inserted: int = 0
    replaced: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class Statements:
    """SQL built once from the dataset definition; identifiers quoted, values as parameters."""

    def __init__(self, spec: Dataset) -> None:
        table, key = quote_ident(spec.table), quote_ident(spec.key)
        self.table = spec.table
        self.stage = f"_ingest_stage_{spec.table}"
        stage = quote_ident(self.stage)
        self.columns = (*spec.column_names, *LINEAGE)
        cols = quote_all(self.columns)
        values = ", ".join(f"s.{quote_ident(name)}" for name in self.columns)
        self.create_stage = (f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
                             f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; "
                             f"DELETE FROM {stage}")
        # The stage has no statistics (ANALYZE costs ~7 ms a batch): without them the planner
        # may hash-join it against the whole target table. A batch is small: index lookups.
        self.index_joins = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
        self.insert_new = (f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
                           f"ORDER BY {key} ON CONFLICT ({key}) DO NOTHING")
        self.insert_lines = (f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
                             "WHERE line_no = ANY($1::int[]) "
                             f"ORDER BY {key} ON CONFLICT ({key}) DO NOTHING")
        self.staged = f"SELECT line_no FROM {stage} ORDER BY line_no"
        self.unstage = f"DELETE FROM {stage} WHERE line_no = ANY($1::int[])"
        self.conflicts = (
            f"SELECT s.line_no, c.job_id AS held_job, c.line_no AS held_line FROM {stage} s "
            f"JOIN {table} c ON c.{key} = s.{key} WHERE NOT (c.job_id IS NOT DISTINCT FROM "
            f"s.job_id AND c.line_no IS NOT DISTINCT FROM s.line_no) ORDER BY c.{key} "
            "FOR UPDATE OF c")
        as_text = ", ".join(f"c.{quote_ident(name)}::text" for name in spec.column_names)
        self.displace = (
            "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail) "
            f"SELECT c.job_id, c.line_no, '{DUPLICATE_KEY}', concat_ws(',', {as_text}), "
            f"'{spec.key} ' || c.{key} || ' is on earlier line ' || s.line_no "
            "|| ' (record rebuilt from the loaded row)' "
            f"FROM {table} c JOIN {stage} s ON s.{key} = c.{key} "
            "WHERE s.line_no = ANY($1::int[]) ON CONFLICT DO NOTHING")
        self.replace = (
            f"UPDATE {table} c SET ({cols}, loaded_at) = ({values}, now()) FROM {stage} s "
            f"WHERE c.{key} = s.{key} AND s.line_no = ANY($1::int[])")
        self.rejects = (
            "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail) "
            "SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) "
            "ON CONFLICT DO NOTHING")
        self.finished = ("SELECT true FROM ingest_batches "
                         "WHERE job_id = $1 AND first_line = $2 AND last_line = $3")
        self.claim = (
            "INSERT INTO ingest_batches (job_id, first_line, last_line, seq, records, consumer) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true")
        self.finish = (
            "UPDATE ingest_batches SET rows_inserted = $4, rows_replaced = $5, "
            "rows_rejected = $6, finished_at = now() "
            "WHERE job_id = $1 AND first_line = $2 AND last_line = $3")
        self.job = ("INSERT INTO ingest_jobs (job_id, dataset, source) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING")


async def _one(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def _count(status: str) -> int:
    """Rows affected, from a command tag such as 'INSERT 0 12'."""
    return int(status.rsplit(" ", 1)[-1])


class Loader:
    def __init__(self, pool: asyncpg.Pool, spec: Dataset, url: str) -> None:
        self._pool = pool
        self._sql = Statements(spec)
        self._key_index = spec.key_index
        self._url = url
        self._jobs_seen: set[str] = set()
        self._name = consumer_name()

    async def finished(self, batch: Batch) -> bool:
        """Already loaded? A cheap look before validating (the claim in ``load`` decides)."""
        async with translated(self._url), self._pool.acquire() as conn:
            found = await conn.fetchval(self._sql.finished, batch.job_id, batch.first_line,
                                        batch.last_line)
        return bool(found)

    async def load(self, batch: Batch, prepared: Prepared) -> Outcome:
        """One transaction; a duplicate batch (already finished) writes nothing."""
        async with translated(self._url), self._pool.acquire() as conn, conn.transaction():
            outcome = await self._load(conn, batch, prepared)
        if faults.trips("consumer.commit_lost"):
            raise DatabaseUnavailable("injected fault: connection lost while COMMIT was sent")
        faults.hit("consumer.after_commit")
        self._jobs_seen.add(batch.job_id)
        return outcome

    async def _load(self, conn: Conn, batch: Batch,
                    prepared: Prepared) -> Outcome:
        sql = self._sql
        claimed = await conn.fetchval(sql.claim, batch.job_id, batch.first_line,
                                      batch.last_line, batch.seq, batch.records, self._name)
        if not claimed:
            return Outcome(duplicate=True)
        if batch.job_id not in self._jobs_seen:
            await conn.execute(sql.job, batch.job_id, batch.dataset, batch.source)
        faults.hit("consumer.mid_transaction")
        outcome = Outcome(records=batch.records)
        extra = await self._write_rows(conn, batch, prepared, outcome)
        extra += await self._readmit(conn, batch, prepared, outcome, extra)
        rejects = prepared.rejects + extra
        await self._write_rejects(conn, batch.job_id, rejects, outcome)
        await conn.execute(sql.finish, batch.job_id, batch.first_line, batch.last_line,
                           outcome.inserted, outcome.replaced, sum(outcome.rejected.values()))
        return outcome

    async def _write_rows(self, conn: Conn, batch: Batch, prepared: Prepared,
                          outcome: Outcome) -> list[RejectRow]:
        rows = prepared.rows
        if not rows:
            return []
        copier = _Copier(conn, self._sql.columns, rows, prepared.plain)
        copy = copier.into(self._sql.table)
        try:
            async with conn.transaction():
                await copy(rows)
        except asyncpg.UniqueViolationError:
            return await self._merge(conn, batch, prepared, outcome, copier)
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            try:  # some records refused: the others go in, still straight into the table
                async with conn.transaction():
                    bad = await isolate(conn, rows, copy, _copy_culprit, refused_not_key, exc)
            except asyncpg.UniqueViolationError:
                return await self._merge(conn, batch, prepared, outcome, copier)
            outcome.inserted += len(rows) - len(bad)
            return [_refusal(prepared, int(row[-1]), error) for row, error in bad]
        outcome.inserted += len(rows)
        return []

    async def _readmit(self, conn: Conn, batch: Batch, prepared: Prepared, outcome: Outcome,
                       refusals: list[RejectRow]) -> list[RejectRow]:
        """The earliest line that loads wins: where the database refused the record holding a
        key, the batch's next record of that key (rejected duplicate_key so far) is loaded in
        its place, and so on; bounded by the batch's duplicates."""
        more: list[RejectRow] = []
        rows = prepared.rows
        while refusals:
            lines = {r.line_no for r in refusals if r.reason == DATABASE_REJECTED}
            keys = [row[self._key_index] for row in rows if int(row[-1]) in lines]
            rows = [row for row in map(prepared.readmit, keys) if row is not None]
            if not rows:
                break
            refusals = await self._write_rows(conn, batch, replace(prepared, rows=rows),
                                              outcome)
            more += refusals
        return more

    async def _merge(self, conn: Conn, batch: Batch, prepared: Prepared,
                     outcome: Outcome, copier: _Copier) -> list[RejectRow]:
        sql = self._sql
        await conn.execute(sql.create_stage)  # and empty: a readmission round may come second
        bad = await isolate(conn, prepared.rows, copier.into(sql.stage), _copy_culprit, refused)
        refusals = [_refusal(prepared, int(row[-1]), error) for row, error in bad]
        await conn.execute(sql.index_joins)
        refusals += await self._insert_new(conn, prepared, outcome)
        wins: list[int] = []
        losers: list[RejectRow] = []
        for row in await conn.fetch(sql.conflicts):
            line, held_job, held_line = row["line_no"], row["held_job"], row["held_line"]
            if held_job == batch.job_id and held_line is not None and held_line > line:
                wins.append(line)
                continue
            where = "an earlier line" if held_job == batch.job_id else f"job {held_job}"
            losers.append(RejectRow(line, DUPLICATE_KEY, prepared.raw_text(line),
                                    f"key already loaded from {where} (line {held_line})"))
        if wins:
            refusals += await self._replace(conn, prepared, outcome, wins)
        return sorted(refusals + losers, key=lambda r: r.line_no)

    async def _insert_new(self, conn: Conn, prepared: Prepared,
                          outcome: Outcome) -> list[RejectRow]:
        """INSERT the staged rows whose key is free; refused lines leave the stage."""
        sql = self._sql
        try:
            async with conn.transaction():
                outcome.inserted += _count(await conn.execute(sql.insert_new))
            return []
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            first = exc
        staged = [r["line_no"] for r in await conn.fetch(sql.staged)]

        async def insert(lines: Sequence[int]) -> None:
            outcome.inserted += _count(await conn.execute(sql.insert_lines, list(lines)))

        bad = await isolate(conn, staged, insert, _line_culprit, refused, first)
        await conn.execute(sql.unstage, [line for line, _ in bad])
        return [_refusal(prepared, line, error) for line, error in bad]

    async def _replace(self, conn: Conn, prepared: Prepared, outcome: Outcome,
                       wins: list[int]) -> list[RejectRow]:
        """The earlier lines take their keys back; a refused one leaves the later row be."""
        sql = self._sql

        async def replace(lines: Sequence[int]) -> None:
            await conn.execute(sql.displace, list(lines))
            outcome.replaced += _count(await conn.execute(sql.replace, list(lines)))

        bad = await isolate(conn, wins, replace, _line_culprit, refused)
        return [_refusal(prepared, line, error) for line, error in bad]

    async def _write_rejects(self, conn: Conn, job_id: str,
                             rejects: list[RejectRow], outcome: Outcome) -> None:
        if not rejects:
            return
        await conn.execute(self._sql.rejects, job_id, [r.line_no for r in rejects],
                           [r.reason for r in rejects], [r.raw for r in rejects],
                           [r.detail for r in rejects])
        outcome.rejected.update(r.reason for r in rejects)


class _Copier:
    """COPY of a batch's rows or of a part of them; the whole batch's payload is made once."""

    def __init__(self, conn: Conn, columns: Sequence[str], rows: Sequence[Row],
                 plain: bool) -> None:
        self._conn, self._columns, self._rows, self._plain = conn, columns, rows, plain
        self._whole: bytes | None = None

    def payload(self, part: Sequence[Row]) -> bytes:
        if part is not self._rows:
            return copy_payload(part, self._plain)
        if self._whole is None:
            self._whole = copy_payload(part, self._plain)
        return self._whole

    def into(self, table: str) -> Callable[[Sequence[Row]], Awaitable[None]]:
        async def copy(part: Sequence[Row]) -> None:
            # An async source: a file-like one would be read through a thread pool.
            await self._conn.copy_to_table(table, source=_one(self.payload(part)),
                                           columns=self._columns, format="csv")

        return copy


def _copy_culprit(exc: asyncpg.PostgresError, rows: Sequence[Row]) -> int | None:
    line = copy_line(exc)
    return None if line is None else row_at_line(rows, line)


def _line_culprit(exc: asyncpg.PostgresError, lines: Sequence[int]) -> int | None:
    """INSERT ... SELECT and UPDATE name no line; a failing row they show holds its line_no
    (a guess: isolate() confirms it). Without one: None, bisect."""
    where = {line: index for index, line in enumerate(lines)}
    return next((where[n] for n in failing_row_numbers(exc) if n in where), None)


def _refusal(prepared: Prepared, line: int, exc: asyncpg.PostgresError) -> RejectRow:
    return RejectRow(line, DATABASE_REJECTED, prepared.raw_text(line), detail(exc))
