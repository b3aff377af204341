"""The versioned load modes (upsert, merge): per key, the record with the greatest version wins.

A record's version is ``(job_seq, line_no)``: job order (``ingest_jobs.job_seq``), then line
order. The result is the one of applying every record in version order, whatever the number of
consumers and the order batches commit in, because each key's version is kept in
``ingest_keys`` (the version guard) and a record is applied only over a smaller one:

1. Within the batch the last line of a key is the only one sent to the database; the others
   are ``superseded``.
2. Those rows go to a temporary stage (COPY; a value PostgreSQL refuses is
   ``database_rejected``). Keys ``ingest_keys`` does not know are claimed (``INSERT ... ON
   CONFLICT DO NOTHING``, in key order), with the record's version and the effect it has on a
   key the target does not hold (``CLAIMED``); the others are locked (``SELECT ... FOR
   UPDATE``) and their versions read.
3. A record older than its key's version is ``superseded``. Otherwise its effect is decided
   from the key's state before it: a write (upsert; merge I or U) is ``inserted`` or
   ``updated``, a delete (merge D) ``deleted`` or ``unchanged`` (the key was absent). The
   state is the target's for a key ``ingest_keys`` does not know, ``not deleted`` for one of an
   older job, and the state before the job (from the overridden line's ``effect``) for an
   earlier line of the same job, which becomes ``superseded`` in its own batch's counters.
4. Applied in savepoints (``isolate``): the version (``UPDATE ingest_keys``, with
   ``deleted``, the tombstone, and ``effect``; not for a key claimed with the effect its
   record has, the common new key: a refused one is unclaimed), then the rows
   (``INSERT ... ON CONFLICT (key) DO UPDATE`` all columns; ``DELETE``). A record PostgreSQL
   refuses is ``database_rejected``, never advances the version (its savepoint rolls back),
   and the batch's previous line of its key is tried in its place.

Keyless tables cannot be versioned: the producer refuses them, a batch that comes anyway is a
PoisonMessage.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg

from libs.db import Conn
from libs.errors import DatabaseUnavailable, PoisonMessage
from libs.load.base import EFFECTS, Loader, Move, Outcome, Work, move_counts
from libs.load.insert import STAGE_LINEAGE
from libs.load.isolate import copy_culprit, detail, isolate, line_culprit, refused
from libs.load.payload import copy_payload, copy_source
from libs.load.prepared import RejectRow, Row
from libs.load.target import LINEAGE, Target
from libs.schema.names import quote_ident, quote_list
from libs.schema.reasons import DATABASE_REJECTED

WRITE: Final = "w"  # insert or update the row
DELETE: Final = "d"  # delete the row, keep a tombstone
# The key's presence before the job, from the effect of the job's line that held it.
PRESENT_BEFORE: Final = {"i": False, "u": True, "d": True, "n": False}
# The effect a claim writes with a key's version: the operation's on a key the target does
# not hold (``_effect(line, present=False)``).
CLAIMED: Final = {WRITE: "i", DELETE: "n"}


class VersionedSql:
    """The statements of one target for the versioned modes; names quoted, values as
    parameters (the target's name is ``$1`` where ``ingest_keys`` is read or written)."""

    def __init__(self, t: Target) -> None:
        digest = hashlib.sha256(f"{t.name}\0versioned\0{t.in_row}".encode()).hexdigest()[:16]
        self.stage = f"_ingest_vstage_{digest}"
        stage, table = quote_ident(self.stage), t.table
        self.table_columns = (*t.columns, *(LINEAGE if t.in_row else ()))
        self.stage_columns = (*self.table_columns, *STAGE_LINEAGE)
        job, line, skey = (f"s.{quote_ident(n)}" for n in STAGE_LINEAGE)
        kinds = ("text", "integer", 'text COLLATE "C"')
        extra = ", ".join(f"{quote_ident(n)} {kind}" for n, kind in zip(STAGE_LINEAGE, kinds,
                                                                       strict=True))
        # Indexed by line and key: the statements below pick lines (= ANY of an array) and
        # join on them with hash and merge joins off; without the indexes each is a scan of
        # the stage per element (quadratic in the batch size).
        # Emptied by TRUNCATE: an atomic job's apply stages round after round in one
        # transaction, and the rows a DELETE leaves dead (with their index entries) made each
        # round slower than the last (replace of 1M rows: 262 s, PostgreSQL 216 CPU-s).
        lidx, kidx = (quote_ident(f"{self.stage}_{n}") for n in ("line", "key"))
        self.create_stage = (f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING "
                             f"DEFAULTS, {extra}) ON COMMIT DELETE ROWS; "
                             f"CREATE INDEX IF NOT EXISTS {lidx} ON {stage} ({line[2:]}); "
                             f"CREATE INDEX IF NOT EXISTS {kidx} ON {stage} ({skey[2:]}); "
                             f"TRUNCATE {stage}")
        on = " AND ".join(f"c.{quote_ident(k)} = s.{quote_ident(k)}" for k in t.key)
        key, cols = quote_list(t.key), quote_list(self.table_columns)
        # A claimed key's version is its line's, with the effect of a key the target does
        # not hold (CLAIMED): the version UPDATE is left for the few that differ.
        self.claim = (
            "INSERT INTO ingest_keys (target, key, job_id, line_no, job_seq, deleted, effect) "
            f"SELECT $1, {skey}, {job}, {line}, $2::bigint, {line} = ANY($3::int[]), "
            f"CASE WHEN {line} = ANY($3::int[]) THEN '{CLAIMED[DELETE]}' "
            f"ELSE '{CLAIMED[WRITE]}' END::\"char\" "
            f"FROM {stage} s ORDER BY {skey} ON CONFLICT (target, key) DO NOTHING "
            "RETURNING line_no")
        self.held = (
            f"SELECT {line} AS line, k.job_id, k.line_no, k.job_seq, k.deleted, "
            f"k.effect::text AS effect FROM ingest_keys k JOIN {stage} s ON k.target = $1 "
            f"AND k.key = {skey} WHERE NOT {line} = ANY($2::int[]) ORDER BY k.key "
            "FOR UPDATE OF k")
        self.untracked = (f"SELECT {line} AS line FROM {stage} s JOIN {table} c ON {on} "
                          f"WHERE {line} = ANY($1::int[])")
        self.version = (
            f"UPDATE ingest_keys k SET job_id = {job}, line_no = {line}, job_seq = $2, "
            f"deleted = u.deleted, effect = u.effect::\"char\" FROM {stage} s JOIN "
            "unnest($3::int[], $4::text[], $5::bool[]) AS u(line, effect, deleted) "
            f"ON {line} = u.line WHERE k.target = $1 AND k.key = {skey}")
        excluded = ", ".join(f"EXCLUDED.{quote_ident(n)}" for n in self.table_columns)
        self.upsert = (f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} s "
                       f"WHERE {line} = ANY($1::int[]) ORDER BY {key} ON CONFLICT ({key}) "
                       f"DO UPDATE SET ({cols}) = ROW({excluded})")
        self.delete = (f"DELETE FROM {table} c USING {stage} s WHERE {on} "
                       f"AND {line} = ANY($1::int[])")
        self.unclaim = (f"DELETE FROM ingest_keys k USING {stage} s WHERE k.target = $1 AND "
                        f"k.key = {skey} AND {line} = ANY($2::int[])")
        # Custom plans: the line arrays are then constants, which PostgreSQL hashes.
        self.index_joins = ("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
                            "SET LOCAL plan_cache_mode = force_custom_plan")


@dataclass(frozen=True)
class Decision:
    """How an applied record counts (``effect``: i, u, d, n) and the count it moves in the
    batch of the earlier line of its job that it overrides (``prior``), if any."""

    effect: str
    prior: Move | None = None


class VersionedLoader(Loader):
    """Upsert and merge: subclasses say what each row does (:meth:`operations`)."""

    first_wins = False
    unsent = "superseded"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        super().__init__(pool, url)
        self._sql: dict[Target, VersionedSql] = {}

    @abstractmethod
    def operations(self, work: Work) -> tuple[dict[int, str], list[RejectRow]]:
        """Each row's operation by line (WRITE or DELETE), and the rows rejected for it."""

    async def write(self, conn: Conn, work: Work, outcome: Outcome) -> list[RejectRow]:
        return (await self.write_fates(conn, work, outcome))[0]

    async def write_fates(self, conn: Conn, work: Work,
                          outcome: Outcome) -> tuple[list[RejectRow], dict[int, str]]:
        """The rows written; each applied line's counter (lines not sent are superseded)."""
        if not work.target.key:
            raise PoisonMessage(f"{self.mode} needs a key: table {work.target.name} has none")
        ops, rejects = self.operations(work)
        sql = self._sql.get(work.target)
        if sql is None:
            sql = self._sql[work.target] = VersionedSql(work.target)
        run = _Run(conn, work, sql, ops)
        refusals = await run.apply()
        run.count(outcome)
        await move_counts(conn, run.moves, outcome)
        return rejects + refusals, run.fates


class _Run:
    """One batch's versioned writing, inside the batch's transaction."""

    def __init__(self, conn: Conn, work: Work, sql: VersionedSql, ops: dict[int, str]) -> None:
        self.conn, self.work, self.sql, self.ops = conn, work, sql, ops
        self.t, self.seq, self.job = work.target, work.job_seq, work.batch.job_id
        self.fates: dict[int, str] = {}  # line -> counter name, for lines sent to the database
        self.refused = 0
        self.moves: list[Move] = []
        self.candidates: dict[str, list[Row]] = {}  # per key, its rows in line order
        for row in work.prepared.rows:
            if int(row[-1]) in ops:
                self.candidates.setdefault(self.t.key_text(row), []).append(row)

    async def apply(self) -> list[RejectRow]:
        """Apply the last line of each key; where one is refused, the previous, and so on."""
        refusals: list[RejectRow] = []
        rows = [rows[-1] for rows in self.candidates.values()]
        while rows:
            bad = await self._round(rows)
            refusals += [self._refusal(line, error) for line, error in bad.items()]
            rows = []
            for line in sorted(bad):
                waiting = self.candidates[self.t.key_text(self._row(line))]
                waiting.pop()
                if waiting:
                    rows.append(waiting[-1])
        return refusals

    def count(self, outcome: Outcome) -> None:
        """The batch's counters: each line sent and not refused has its fate; the rest of the
        valid rows with an operation were superseded within the batch."""
        for fate in self.fates.values():
            setattr(outcome, fate, getattr(outcome, fate) + 1)
        outcome.superseded += len(self.ops) - len(self.fates) - self.refused

    def _row(self, line: int) -> Row:
        return next(row for rows in self.candidates.values() for row in rows
                    if int(row[-1]) == line)

    async def _round(self, rows: list[Row]) -> dict[int, asyncpg.PostgresError]:
        """Stage, claim and lock ``rows``' keys, decide, apply; the refused lines."""
        bad = await self._stage(rows)
        lines = [int(row[-1]) for row in rows if int(row[-1]) not in bad]
        await self.conn.execute(self.sql.index_joins)
        deletes = [line for line in lines if self.ops[line] == DELETE]
        fresh = {r["line_no"] for r in await self.conn.fetch(
            self.sql.claim, self.t.name, self.seq, deletes)}
        decisions = await self._decide(lines, fresh)
        refused_now = await self._apply(decisions, fresh)
        if unclaim := [line for line in refused_now if line in fresh]:
            await self.conn.execute(self.sql.unclaim, self.t.name, unclaim)
        bad.update(refused_now)
        for line, decision in decisions.items():
            if line not in refused_now:
                self.fates[line] = EFFECTS[decision.effect]
                if decision.prior is not None:
                    self.moves.append(decision.prior)
        self.refused += len(bad)
        return bad

    async def _stage(self, rows: list[Row]) -> dict[int, asyncpg.PostgresError]:
        await self.conn.execute(self.sql.create_stage)
        keep = len(LINEAGE) if self.t.in_row else 0
        staged = [(*row[:len(row) - 2 + keep], row[-2], row[-1], self.t.key_text(row))
                  for row in rows]
        conn, columns, table = self.conn, list(self.sql.stage_columns), self.sql.stage

        async def copy(part: Sequence[Row]) -> None:
            await conn.copy_to_table(table, source=copy_source(copy_payload(part, False)),
                                     columns=columns, format="csv")

        failed = await isolate(conn, staged, copy, copy_culprit, refused)
        return {int(row[-2]): error for row, error in failed}

    async def _decide(self, lines: list[int], fresh: set[int]) -> dict[int, Decision]:
        """Each staged line's decision; lines older than their key's version are superseded
        (recorded in ``fates`` and left out)."""
        held = {r["line"]: r for r in await self.conn.fetch(self.sql.held, self.t.name,
                                                             sorted(fresh))}
        present = {r["line"] for r in await self.conn.fetch(self.sql.untracked, sorted(fresh))}
        decisions: dict[int, Decision] = {}
        for line in lines:
            if line in fresh:
                decisions[line] = Decision(self._effect(line, line in present))
                continue
            found = held.get(line)
            if found is None:  # claimed by a transaction that then let it go: look again
                raise DatabaseUnavailable(f"the version of line {line}'s key vanished: retrying")
            if (found["job_seq"] or 0, found["line_no"]) >= (self.seq, line):
                self.fates[line] = "superseded"
            elif found["job_id"] == self.job:  # an earlier line of this job: it is overridden
                before = found["effect"] or "i"
                decisions[line] = Decision(
                    self._effect(line, PRESENT_BEFORE[before]),
                    Move(found["job_id"], found["line_no"], EFFECTS[before], "superseded"))
            else:
                decisions[line] = Decision(self._effect(line, not found["deleted"]))
        return decisions

    def _effect(self, line: int, present: bool) -> str:
        if self.ops[line] == WRITE:
            return "u" if present else "i"
        return "d" if present else "n"

    async def _apply(self, decisions: dict[int, Decision],
                     fresh: set[int]) -> dict[int, asyncpg.PostgresError]:
        """Versions and rows of the decided lines, in savepoints; the refused lines. A line
        whose key it claimed (``fresh``) with the effect it has keeps the claim's version."""
        conn, sql, ops = self.conn, self.sql, self.ops
        claimed = {n for n in fresh if n in decisions
                   and decisions[n].effect == CLAIMED[ops[n]]}

        async def attempt(part: Sequence[int]) -> None:
            lines = list(part)
            if versions := [n for n in lines if n not in claimed]:
                await conn.execute(sql.version, self.t.name, self.seq, versions,
                                   [decisions[n].effect for n in versions],
                                   [ops[n] == DELETE for n in versions])
            if writes := [n for n in lines if ops[n] == WRITE]:
                await conn.execute(sql.upsert, writes)
            if deletes := [n for n in lines if ops[n] == DELETE]:
                await conn.execute(sql.delete, deletes)

        if not decisions:
            return {}
        bad = await isolate(conn, sorted(decisions), attempt, line_culprit, refused)
        return dict(bad)

    def _refusal(self, line: int, exc: asyncpg.PostgresError) -> RejectRow:
        prepared = self.work.prepared
        return prepared.rejected(line, DATABASE_REJECTED, detail(exc))
