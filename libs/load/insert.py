"""Insert mode: each key loads once, from the earliest line of the earliest job (job order,
``ingest_jobs.job_seq``); keyless tables take every record.

Keyed tables. Fast path: COPY the rows straight into the target table (and, where lineage
lives in ``ingest_keys``, COPY their keys there too) inside a savepoint. If a key is already
taken, COPY aborts; the savepoint is rolled back and the stage path runs: COPY into a temporary
stage table, insert the new keys with one INSERT ... ON CONFLICT DO NOTHING in key order, which
also says which staged lines it did not insert (their keys are taken), then settle each of
those row by row under a lock on the table's row:
- the same job and line is already loaded (a replay): nothing to do;
- a later version holds the key (a later line of the same job, or any line of a later job):
  this record wins, the holder is moved to the rejects (``duplicate_key``) and its batch's
  count moves from inserted to rejected, whatever order the batches commit in;
- an earlier version holds it (an earlier line, an earlier job): this record is rejected
  ``duplicate_key``;
- the row is in the table but the tool did not load it (no lineage): ``duplicate_key``, "key
  already in the table, not loaded by this tool".

The fast path COPYs a batch in its key's order (``Prepared.copy_order``): the key's index is
written page after page, and concurrent batches take new keys in one order, so they cannot
deadlock on each other's. Once a target's batches meet taken keys, they take the stage path
at once (``libs/load/conflicts.py``), the batch's rows staged as the validator's COPY data.

Keyless tables: COPY every valid record; no duplicate detection (the batch-done record makes
the batch load once).

A record whose value PostgreSQL refuses (a data exception, a constraint other than the key,
a program limit) is rejected ``database_rejected`` with PostgreSQL's message, and the rest of
the batch loads: each statement that fails that way is retried on parts of the batch in
savepoints (libs/load/isolate.py), using the line COPY names, else bisection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from operator import itemgetter
from typing import Final

import asyncpg

from libs.db import Conn
from libs.load.base import Loader, Move, Outcome, Work, move_counts
from libs.load.conflicts import Conflicts
from libs.load.isolate import (
    copy_culprit,
    detail,
    isolate,
    line_culprit,
    refused,
    refused_not_key,
)
from libs.load.payload import copy_payload, copy_source
from libs.load.prepared import REBUILT_LOADED, CopyData, RejectRow, Row
from libs.load.target import LINEAGE, Target
from libs.schema.names import quote_ident, quote_list
from libs.schema.reasons import DATABASE_REJECTED, DUPLICATE_KEY

# The stage's lineage columns where the table has none of its own (the stage is ours; a
# table column of the same name would clash, and these are unlikely names).
STAGE_LINEAGE: Final = ("_ingest_job", "_ingest_line", "_ingest_key")
KEYS_COLUMNS: Final = ("target", "key", "job_id", "line_no", "job_seq", "effect")
UNTRACKED: Final = "key already in the table, not loaded by this tool"
# A COPY of some rows (None: the batch's rows, from their COPY data).
Copy = Callable[[Sequence[Row] | None], Awaitable[None]]


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (catalog names may hold quotes)."""
    return "'" + text.replace("'", "''") + "'"


class Sql:
    """The statements of one target, built once; identifiers quoted, values as parameters.

    ``Sql(t)`` holds what both lineage kinds share; ``InRowSql`` and ``SideSql`` add the
    statements that differ. ``$1`` is the line list where a statement takes one; statements
    on ``ingest_keys`` take the target's name next (and the job's seq, where they write one).
    """

    job: str
    line: str
    stage_columns: tuple[str, ...]
    copy_columns: tuple[str, ...]
    create_stage: str
    insert_new = insert_lines = conflicts = displace = replace = relineage = ""

    def __init__(self, t: Target) -> None:
        self.t = t
        self.stage = t.stage
        self.table, self.q_stage = t.table, quote_ident(t.stage)
        self.cols, self.key = quote_list(t.columns), quote_list(t.key)
        self.on = " AND ".join(f"c.{quote_ident(k)} = s.{quote_ident(k)}" for k in t.key)
        self.order = ", ".join(f"c.{quote_ident(k)}" for k in t.key)
        self.values = ", ".join(f"s.{quote_ident(n)}" for n in t.columns)
        line = quote_ident(self.line)
        # The stage has no statistics (ANALYZE costs ~7 ms a batch): without them the planner
        # may hash-join it against the whole target table. A batch is small: index lookups.
        self.index_joins = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
        self.staged = f"SELECT {line} AS line_no FROM {self.q_stage} ORDER BY {line}"
        self.unstage = f"DELETE FROM {self.q_stage} WHERE {line} = ANY($1::int[])"
        as_text = ", ".join(f"c.{quote_ident(name)}::text" for name in t.columns)
        key_values = " || ', ' || ".join(f"c.{quote_ident(k)}::text" for k in t.key)
        self.rebuilt = (f"concat_ws(',', {as_text}), {_literal(', '.join(t.key) + ' ')} || "
                        f"{key_values} || ' is on earlier line ' || s.{line} || "
                        f"{_literal(REBUILT_LOADED)}")

    def counted(self, before: str, insert: str) -> str:
        """``insert`` (RETURNING the staged lines it inserted, ``AS line``; ``before``: the
        CTEs it reads, each ending with a comma) as one statement that gives how many rows it
        inserted and the lines of the staged rows it did not (their keys are taken)."""
        line = quote_ident(self.line)
        return (f"WITH {before} done AS ({insert}) SELECT (SELECT count(*) FROM done) AS "
                f"inserted, ARRAY(SELECT s.{line} FROM {self.q_stage} s WHERE s.{line} NOT IN "
                f"(SELECT d.line FROM done d) ORDER BY s.{line}) AS others")

    def create_stage_sql(self, extra: str = "") -> str:
        return (f"CREATE TEMP TABLE IF NOT EXISTS {self.q_stage} (LIKE {self.table} "
                f"INCLUDING DEFAULTS{extra}) ON COMMIT DELETE ROWS; DELETE FROM {self.q_stage}")


class InRowSql(Sql):
    """Lineage in the table's own job_id / line_no columns."""

    job, line = LINEAGE

    def __init__(self, t: Target) -> None:
        super().__init__(t)
        self.copy_columns = self.stage_columns = (*t.columns, *LINEAGE)
        self.create_stage = self.create_stage_sql()
        table, stage, key, on = self.table, self.q_stage, self.key, self.on
        lcols = quote_list(self.stage_columns)
        insert = f"INSERT INTO {table} ({lcols}) SELECT {lcols} FROM {stage}"
        conflict = f"ORDER BY {key} ON CONFLICT ({key}) DO NOTHING"
        self.insert_new = self.counted("", f"{insert} {conflict} RETURNING line_no AS line")
        self.insert_lines = f"{insert} WHERE line_no = ANY($1::int[]) {conflict}"
        self.conflicts = (
            f"SELECT s.line_no, c.job_id AS held_job, c.line_no AS held_line, "
            f"hj.job_seq AS held_seq FROM {stage} s JOIN {table} c ON {on} "
            "LEFT JOIN ingest_jobs hj ON hj.job_id = c.job_id "
            "WHERE s.line_no = ANY($1::int[]) AND NOT (c.job_id IS NOT DISTINCT FROM s.job_id AND "
            f"c.line_no IS NOT DISTINCT FROM s.line_no) ORDER BY {self.order} FOR UPDATE OF c")
        self.displace = (
            "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail) "
            f"SELECT c.job_id, c.line_no, '{DUPLICATE_KEY}', {self.rebuilt} "
            f"FROM {table} c JOIN {stage} s ON {on} "
            "WHERE s.line_no = ANY($1::int[]) ON CONFLICT DO NOTHING")
        self.replace = (
            f"UPDATE {table} c SET ({lcols}) = ROW({self.values}, s.job_id, s.line_no) "
            f"FROM {stage} s WHERE {on} AND s.line_no = ANY($1::int[])")


class SideSql(Sql):
    """Lineage in ingest_keys; the stage carries it in columns of its own."""

    job, line = STAGE_LINEAGE[:2]

    def __init__(self, t: Target) -> None:
        super().__init__(t)
        self.copy_columns = t.columns
        self.stage_columns = (*t.columns, *STAGE_LINEAGE)
        # The key's collation is ingest_keys.key's (C: byte order, the cheapest index).
        kinds = ("text", "integer", 'text COLLATE "C"')
        self.create_stage = self.create_stage_sql(", " + ", ".join(
            f"{quote_ident(n)} {kind}" for n, kind in zip(STAGE_LINEAGE, kinds, strict=True)))
        table, stage, key, on = self.table, self.q_stage, self.key, self.on
        job, line, skey = (f"s.{quote_ident(n)}" for n in STAGE_LINEAGE)
        returned = " AND ".join(f"i.{quote_ident(k)} = s.{quote_ident(k)}" for k in t.key)
        new_rows = f"INSERT INTO {table} ({self.cols}) SELECT {self.cols} FROM {stage} s"
        conflict = f"ORDER BY {key} ON CONFLICT ({key}) DO NOTHING RETURNING {key}"

        def with_keys(rows: str, name: str, seq: str) -> str:
            return (f"WITH ins AS ({rows} {conflict}) {keys_of(name, seq)}")

        def keys_of(name: str, seq: str) -> str:
            return (f"INSERT INTO ingest_keys ({quote_list(KEYS_COLUMNS)}) "
                    f"SELECT {name}, {skey}, {job}, {line}, {seq}::bigint, 'i' FROM {stage} s "
                    f"JOIN ins i ON {returned} ON CONFLICT (target, key) DO UPDATE "
                    "SET job_id = EXCLUDED.job_id, line_no = EXCLUDED.line_no, "
                    "job_seq = EXCLUDED.job_seq, effect = 'i', deleted = false")

        self.insert_new = self.counted(f"ins AS ({new_rows} {conflict}),",
                                       f"{keys_of('$1', '$2')} RETURNING line_no AS line")
        self.insert_lines = with_keys(f"{new_rows} WHERE {line} = ANY($1::int[])", "$2", "$3")
        self.conflicts = (
            f"SELECT {line} AS line_no, k.job_id AS held_job, k.line_no AS held_line, "
            "k.job_seq AS held_seq "
            f"FROM {stage} s JOIN {table} c ON {on} LEFT JOIN ingest_keys k "
            f"ON k.target = $1 AND k.key = {skey} WHERE {line} = ANY($2::int[]) "
            f"AND NOT (k.job_id IS NOT DISTINCT FROM "
            f"{job} AND k.line_no IS NOT DISTINCT FROM {line}) "
            f"ORDER BY {self.order} FOR UPDATE OF c")
        self.displace = (
            "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail) "
            f"SELECT k.job_id, k.line_no, '{DUPLICATE_KEY}', {self.rebuilt} "
            f"FROM {table} c JOIN {stage} s ON {on} JOIN ingest_keys k ON k.target = $2 "
            f"AND k.key = {skey} WHERE {line} = ANY($1::int[]) ON CONFLICT DO NOTHING")
        self.replace = (f"UPDATE {table} c SET ({self.cols}) = ROW({self.values}) "
                        f"FROM {stage} s WHERE {on} AND {line} = ANY($1::int[])")
        self.relineage = (f"UPDATE ingest_keys k SET job_id = {job}, line_no = {line}, "
                          "job_seq = $3, effect = 'i', deleted = false "
                          f"FROM {stage} s WHERE k.target = $2 AND k.key = {skey} "
                          f"AND {line} = ANY($1::int[])")



def _count(status: str) -> int:
    """Rows affected, from a command tag such as 'INSERT 0 12'."""
    return int(status.rsplit(" ", 1)[-1])


class InsertLoader(Loader):
    mode = "insert"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        super().__init__(pool, url)
        self._sql: dict[Target, Sql] = {}
        self._conflicts: dict[Target, Conflicts] = {}

    def sql(self, target: Target) -> Sql:
        found = self._sql.get(target)
        if found is None:
            found = self._sql[target] = (InRowSql if target.in_row else SideSql)(target)
        return found

    async def write(self, conn: Conn, work: Work, outcome: Outcome) -> list[RejectRow]:
        conflicts = self._conflicts.setdefault(work.target, Conflicts())
        run = _Run(conn, work, self.sql(work.target), outcome, conflicts)
        refusals = await run.write_batch()
        if work.target.key:
            refusals += await run.readmit(refusals)
        await move_counts(conn, run.moves, outcome)
        return refusals


class _Run:
    """One batch's writing, inside the batch's transaction."""

    def __init__(self, conn: Conn, work: Work, sql: Sql, outcome: Outcome,
                 conflicts: Conflicts) -> None:
        self.conn, self.batch, self.prepared = conn, work.batch, work.prepared
        self.t, self.sql, self.outcome, self.seq = work.target, sql, outcome, work.job_seq
        self.conflicts = conflicts
        self.taken = False  # the stage path met keys the table holds
        self.moves: list[Move] = []  # displaced records of other batches: inserted -> rejected

    async def write_batch(self) -> list[RejectRow]:
        """The batch's rows: straight into the table; where its target's batches meet taken
        keys, all through the stage (INSERT ... ON CONFLICT DO NOTHING)."""
        if not (self.t.key and self.conflicts.on):
            return await self.write_rows()
        refusals = await self._merge()
        self.conflicts.met(self.taken)
        return refusals

    async def write_rows(self, rows: list[Row] | None = None) -> list[RejectRow]:
        """COPY ``rows`` straight into the table; on a taken key, the stage path. ``rows``
        None: the batch's rows in their key's order, as tuples only if a fallback needs them
        (the COPY data is the validator's, where it makes it)."""
        made = self.prepared.copy_data if rows is None else None
        if rows is None and made is None:
            rows = self._batch_rows()
        count = self.prepared.size if rows is None else len(rows)
        places = self.prepared.copy_order if rows is None else None
        copier = _Copier(self.conn, rows, self.prepared.plain, made, places)
        copy = self._direct(copier)
        keyed = bool(self.t.key)
        try:
            async with self.conn.transaction():
                await copy(rows)
        except asyncpg.PostgresError as exc:
            if keyed and isinstance(exc, asyncpg.UniqueViolationError):
                self.conflicts.met(True)
                return await self._merge(rows)
            if not refused(exc):
                raise
            rows = self._batch_rows() if rows is None else rows
            try:  # some records refused: the others go in, still straight into the table
                return await self._isolated(rows, copy, refused_not_key if keyed else refused,
                                            exc)
            except asyncpg.UniqueViolationError:
                self.conflicts.met(True)
                return await self._merge(rows)
        self.outcome.inserted += count
        return []

    def _batch_rows(self) -> list[Row]:
        """The batch's rows in the order their COPY sends them: their key's (the validator's
        order, else the key values' own), so that concurrent batches take keys in one order."""
        rows, order = self.prepared.rows, self.prepared.copy_order
        if order is not None:
            return [rows[place] for place in order]
        return sorted(rows, key=itemgetter(*self.t.key_index)) if self.t.key else rows

    async def _isolated(self, rows: list[Row], copy: Copy,
                        is_refusal: Callable[[BaseException], bool],
                        failed: asyncpg.PostgresError | None) -> list[RejectRow]:
        async with self.conn.transaction():
            bad = await isolate(self.conn, rows, copy, copy_culprit, is_refusal, failed)
        self.outcome.inserted += len(rows) - len(bad)
        return [self._refusal(int(row[-1]), error) for row, error in bad]

    def _direct(self, copier: _Copier) -> Copy:
        """COPY a part of the batch (None: the copier's rows) into the table (and its keys
        into ingest_keys)."""
        t, conn = self.t, self.conn
        if t.in_row or not t.key:
            return copier.into(t.relname, t.schema, self.sql.copy_columns,
                               strip=0 if t.in_row else 2)
        rows_in = copier.into(t.relname, t.schema, self.sql.copy_columns, strip=2)
        name, job, seq = t.name, self.batch.job_id, str(self.seq)

        async def both(part: Sequence[Row] | None) -> None:
            await rows_in(part)
            rows = self._batch_rows() if part is None else part
            keys = [(name, t.key_text(row), job, row[-1], seq, "i") for row in rows]
            await conn.copy_to_table("ingest_keys", source=copy_source(copy_payload(keys)),
                                     columns=KEYS_COLUMNS, format="csv")

        return both

    async def readmit(self, refusals: list[RejectRow]) -> list[RejectRow]:
        """The earliest line that loads wins: where the database refused the record holding a
        key, the batch's next record of that key (rejected duplicate_key so far) is loaded in
        its place, and so on; bounded by the batch's duplicates."""
        more: list[RejectRow] = []
        lines = {r.line_no for r in refusals if r.reason == DATABASE_REJECTED}
        if not lines:  # the common batch: its rows are not made
            return more
        rows = self.prepared.rows
        while lines:
            keys = [self.t.key_text(row) for row in rows if int(row[-1]) in lines]
            rows = [row for row in map(self.prepared.readmit, keys) if row is not None]
            if not rows:
                break
            refusals = await self.write_rows(rows)
            more += refusals
            lines = {r.line_no for r in refusals if r.reason == DATABASE_REJECTED}
        return more

    async def _stage(self, rows: list[Row] | None) -> list[RejectRow]:
        """COPY ``rows`` (None: the batch's rows) into the stage; the refusals of the ones it
        refuses. The batch's rows of a table with lineage columns go as the validator's COPY
        data, made into tuples only if some are refused."""
        conn, sql = self.conn, self.sql
        made = self.prepared.copy_data if rows is None and self.t.in_row else None
        failed: asyncpg.PostgresError | None = None
        if made is not None:
            copier = _Copier(conn, None, self.prepared.plain, made, self.prepared.copy_order)
            try:
                async with conn.transaction():
                    await copier.into(sql.stage, None, sql.stage_columns, strip=0)(None)
                return []
            except asyncpg.PostgresError as exc:
                if not refused(exc):
                    raise
                failed = exc  # the same rows, in the same order, as the tuples below
        staged = self._stage_rows(self._batch_rows() if rows is None else rows)
        stager = _Copier(conn, staged, self.prepared.plain)
        bad = await isolate(conn, staged, stager.into(sql.stage, None, sql.stage_columns, strip=0),
                            copy_culprit, refused, failed)
        return [self._refusal(int(row[-1 if self.t.in_row else -2]), error) for row, error in bad]

    def _stage_rows(self, rows: list[Row]) -> list[Row]:
        if self.t.in_row:
            return rows
        return [(*row, self.t.key_text(row)) for row in rows]

    def _params(self, *args: object, seq: bool = False) -> tuple[object, ...]:
        """Statements on the side table take the target's name next (then the job's seq)."""
        if self.t.in_row:
            return args
        return (*args, self.t.name, self.seq) if seq else (*args, self.t.name)

    async def _merge(self, rows: list[Row] | None = None) -> list[RejectRow]:
        """Settle ``rows`` through the stage (None: the batch's rows, in their COPY order)."""
        conn, sql = self.conn, self.sql
        await conn.execute(sql.create_stage)  # and empty: a readmission round may come second
        refusals = await self._stage(rows)
        await conn.execute(sql.index_joins)
        new_refusals, others = await self._insert_new()
        refusals += new_refusals
        self.taken = bool(others)
        if not others:
            return sorted(refusals, key=lambda r: r.line_no)
        wins: dict[int, tuple[str, int]] = {}  # line -> the version it displaces
        losers: list[RejectRow] = []
        job = self.batch.job_id
        args = [others] if self.t.in_row else [self.t.name, others]
        await conn.fetch(sql.conflicts, *args)  # locks the rows, waiting for their writers
        # Read again: a statement that waited for a lock sees the locked row's new version
        # but the snapshot's ingest_keys (a stale holder); the next statement sees both.
        conflicts = await conn.fetch(sql.conflicts, *args)
        for row in conflicts:
            line, held_job, held_line = row["line_no"], row["held_job"], row["held_line"]
            if held_job is not None and held_line is not None and (
                    row["held_seq"] or 0, held_line) > (self.seq, line):
                wins[line] = (held_job, held_line)
                continue
            if held_job is None:  # no lineage: loaded otherwise, or before its columns
                why = UNTRACKED
            else:
                where = "an earlier line" if held_job == job else f"job {held_job}"
                why = f"key already loaded from {where} (line {held_line})"
            losers.append(self.prepared.rejected(line, DUPLICATE_KEY, why))
        if wins:
            refusals += await self._replace(wins)
        return sorted(refusals + losers, key=lambda r: r.line_no)

    def _displaced(self, wins: dict[int, tuple[str, int]], refused_lines: set[int]) -> None:
        """The records the applied wins displaced: their batches count them rejected now."""
        self.moves += [Move(job, line, "inserted", "rejected")
                       for win, (job, line) in wins.items() if win not in refused_lines]

    async def _insert_new(self) -> tuple[list[RejectRow], list[int]]:
        """INSERT the staged rows whose key is free; refused lines leave the stage. Returns
        the refusals and the staged lines whose key may be taken: the ones the INSERT did not
        insert (after a refusal, every staged line left: the conflicts query sorts them)."""
        conn, sql = self.conn, self.sql
        try:
            async with conn.transaction():
                args = () if self.t.in_row else (self.t.name, self.seq)
                done = await conn.fetchrow(sql.insert_new, *args)
            assert done is not None
            self.outcome.inserted += done["inserted"]
            return [], list(done["others"])
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            first = exc
        staged = [r["line_no"] for r in await conn.fetch(sql.staged)]

        async def insert(lines: Sequence[int]) -> None:
            self.outcome.inserted += _count(await conn.execute(
                sql.insert_lines, *self._params(list(lines), seq=True)))

        bad = await isolate(conn, staged, insert, line_culprit, refused, first)
        await conn.execute(sql.unstage, [line for line, _ in bad])
        refused_lines = {line for line, _ in bad}
        return ([self._refusal(line, error) for line, error in bad],
                [line for line in staged if line not in refused_lines])

    async def _replace(self, wins: dict[int, tuple[str, int]]) -> list[RejectRow]:
        """The earlier versions take their keys back; a refused one leaves the later row be."""
        conn, sql = self.conn, self.sql

        async def replace_rows(lines: Sequence[int]) -> None:
            await conn.execute(sql.displace, *self._params(list(lines)))
            self.outcome.inserted += _count(await conn.execute(sql.replace, list(lines)))
            if sql.relineage:
                await conn.execute(sql.relineage, *self._params(list(lines), seq=True))

        bad = await isolate(conn, sorted(wins), replace_rows, line_culprit, refused)
        self._displaced(wins, {line for line, _ in bad})
        return [self._refusal(line, error) for line, error in bad]

    def _refusal(self, line: int, exc: asyncpg.PostgresError) -> RejectRow:
        return self.prepared.rejected(line, DATABASE_REJECTED, detail(exc))


class _Copier:
    """COPY of a batch's rows or of a part of them; the whole batch's payload is made once.
    ``strip``: the lineage values that end each row and the table has no column for."""

    def __init__(self, conn: Conn, rows: Sequence[Row] | None, plain: bool,
                 made: CopyData | None = None, places: Sequence[int] | None = None) -> None:
        """``rows`` None: the batch's rows, never made here (``made`` gives their data)."""
        self._conn, self._rows, self._plain, self._made = conn, rows, plain, made
        self._places = places
        self._whole: dict[int, bytes] = {}

    def payload(self, part: Sequence[Row] | None, strip: int) -> bytes:
        whole = part is self._rows
        if whole and strip in self._whole:
            return self._whole[strip]
        if whole and self._made is not None:  # the validator's own payload of these rows
            data = self._made(strip, self._places)
        else:
            assert part is not None, "the batch's rows come with their COPY data"
            rows = [row[:-strip] for row in part] if strip else part
            data = copy_payload(rows, self._plain)
        if whole:
            self._whole[strip] = data
        return data

    def into(self, table: str, schema: str | None, columns: Sequence[str],
             strip: int) -> Copy:
        """COPY into ``table`` (names as stored: asyncpg quotes them)."""
        async def copy(part: Sequence[Row] | None) -> None:
            await self._conn.copy_to_table(table, schema_name=schema,
                                           source=copy_source(self.payload(part, strip)),
                                           columns=list(columns), format="csv")

        return copy
