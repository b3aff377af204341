"""Which of a batch's keys the target table already holds, and which job loaded each: what
an insert-mode load would find on conflict, asked without writing (``producer --dry-run``).

One query per batch: the rows' key values (canonical text, as the plan made them) unnested and
cast to the key columns' types, joined to the table on its unique key (index lookups), with
the lineage of each row found: the table's own ``job_id`` (in-row lineage) or ``ingest_keys``
(side table); none: the tool did not load the row. A key value the column type refuses (a cast
that fails) is what PostgreSQL would refuse on load: that row is reported as refused, with
PostgreSQL's message, after the batch is asked again key by key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from libs.db import Conn
from libs.load.isolate import detail
from libs.load.target import Target
from libs.schema.from_table import Reflected
from libs.schema.names import quote_ident

Row = tuple[str, ...]
_TYPMOD: Final = re.compile(r"\(\d+(?:,\d+)?\)")  # varchar(20) -> varchar: a cast never cuts


@dataclass
class Found:
    """Rows (by index in the batch) whose key the table holds: the job that loaded it (None:
    not loaded by the tool); and rows whose key the column type refuses, with the reason."""

    held: dict[int, str | None] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


class KeysInTable:
    """The lookup of one target; ``None`` from :func:`keys_in_table` for a keyless table."""

    def __init__(self, target: Target, reflected: Reflected) -> None:
        types = {c.name: _TYPMOD.sub("", c.type) for c in reflected.columns}
        self.target = target
        names = [f"k{i}" for i in range(len(target.key))]
        arrays = ", ".join(f"${i + 1}::text[]" for i in range(len(names) + 1))
        on = " AND ".join(f"t.{quote_ident(column)} = k.{name}::{types[column]}"
                          for column, name in zip(target.key, names, strict=True))
        if target.in_row:
            held, lineage = "t.job_id::text", ""
        else:
            held = "ik.job_id"
            lineage = (f"LEFT JOIN ingest_keys ik ON ik.target = ${len(names) + 2} "
                       "AND ik.key = k.kt")
        self.sql = (f"SELECT k.i, {held} AS held_job FROM unnest({arrays}) WITH ORDINALITY "
                    f"AS k({', '.join(names)}, kt, i) JOIN {target.table} t ON {on} {lineage}")

    async def find(self, conn: Conn, rows: Sequence[Row]) -> Found:
        found = Found()
        if not rows:
            return found
        try:
            await self._ask(conn, rows, 0, found)
        except asyncpg.DataError:  # a key the type refuses: ask again one by one
            for at, row in enumerate(rows):
                try:
                    await self._ask(conn, [row], at, found)
                except asyncpg.DataError as exc:
                    found.refused[at] = detail(exc)
        return found

    async def _ask(self, conn: Conn, rows: Sequence[Row], offset: int, found: Found) -> None:
        t = self.target
        args: list[object] = [[row[i] for row in rows] for i in t.key_index]
        args.append([t.key_text(row) for row in rows])
        if not t.in_row:
            args.append(t.name)
        for record in await conn.fetch(self.sql, *args):
            found.held[offset + record["i"] - 1] = record["held_job"]


def keys_in_table(target: Target, reflected: Reflected) -> KeysInTable | None:
    return KeysInTable(target, reflected) if target.key else None
