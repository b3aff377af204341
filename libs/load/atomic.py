"""A batch of an atomic job: its rows go to the job's stage (``libs.load.stage``), not the target.

In the batch's transaction, as for every batch: the claim, the validated rows COPY'd into the
stage, the rejects and the batch-done record. A value the stage refuses (its column types and
NOT NULL are the target's) is ``database_rejected`` (the isolation of ``libs.load.isolate``);
in insert and replace, the batch's next record of that key takes its place, as in a streaming
load. Merge's operation codes are checked here (``not_in_enum``). Each staged record is
counted ``pending`` in the batch's row until the apply (``libs.load.apply``) gives it its
counter. The target is untouched: the apply writes it, in one transaction, once every batch
is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from libs.db import Conn
from libs.errors import PoisonMessage
from libs.load.base import Loader, Outcome, Work
from libs.load.isolate import copy_culprit, detail, isolate, refused
from libs.load.payload import copy_payload, copy_source
from libs.load.prepared import RejectRow, Row
from libs.load.stage import COLUMNS, SCHEMA, stage_name, stage_table
from libs.load.versioned import DELETE, WRITE, VersionedLoader
from libs.schema.reasons import DATABASE_REJECTED

_EXISTS: Final = "SELECT to_regclass($1) IS NOT NULL"


class AtomicLoader(Loader):
    """Stages the batches of atomic jobs of one load mode (``inner``: that mode's Loader,
    which says what each row does)."""

    def __init__(self, pool: asyncpg.Pool, url: str, inner: Loader) -> None:
        super().__init__(pool, url)
        self.inner = inner

    async def write(self, conn: Conn, work: Work, outcome: Outcome) -> list[RejectRow]:
        if not await conn.fetchval(_EXISTS, stage_table(work.batch.job_id)):
            raise PoisonMessage(f"the stage of atomic job {work.batch.job_id} "
                                f"({SCHEMA}.{stage_name(work.batch.job_id)}) is missing: was "
                                "the job registered by a producer of this version?")
        ops, rejects = self._operations(work)
        rows = [row for row in work.prepared.rows if int(row[-1]) in ops]
        return rejects + await self._stage_all(conn, work, rows, ops, outcome)

    def _operations(self, work: Work) -> tuple[dict[int, str], list[RejectRow]]:
        if isinstance(self.inner, VersionedLoader):
            return self.inner.operations(work)
        return {int(row[-1]): WRITE for row in work.prepared.rows}, []

    async def _stage_all(self, conn: Conn, work: Work, rows: list[Row], ops: dict[int, str],
                         outcome: Outcome) -> list[RejectRow]:
        """Stage ``rows``; where a first-wins mode's record is refused, its key's next one."""
        refusals: list[RejectRow] = []
        readmits = self.inner.first_wins and bool(work.target.key)
        while rows:
            bad = await self._copy(conn, work, rows, ops)
            outcome.pending += len(rows) - len(bad)
            refusals += [work.prepared.rejected(line, DATABASE_REJECTED, detail(exc))
                         for line, exc in sorted(bad.items())]
            if not readmits:
                break
            keys = [work.target.key_text(row) for row in rows if int(row[-1]) in bad]
            rows = [row for row in map(work.prepared.readmit, keys) if row is not None]
            ops.update({int(row[-1]): WRITE for row in rows})
        return refusals

    async def _copy(self, conn: Conn, work: Work, rows: list[Row],
                    ops: dict[int, str]) -> dict[int, asyncpg.PostgresError]:
        """COPY ``rows`` into the stage in savepoints; the refused lines with their errors."""
        t = work.target
        width = len(t.columns)
        staged = [(*row[:width], row[-1], t.key_text(row) if t.key else "",
                   "d" if ops[int(row[-1])] == DELETE else "w") for row in rows]
        table, columns = stage_name(work.batch.job_id), [*t.columns, *COLUMNS]

        async def copy(part: Sequence[Row]) -> None:
            await conn.copy_to_table(table, schema_name=SCHEMA,
                                     source=copy_source(copy_payload(part)), columns=columns,
                                     format="csv")

        failed = await isolate(conn, staged, copy, copy_culprit, refused)
        return {int(row[width]): error for row, error in failed}
