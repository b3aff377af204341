"""Insert mode's look for taken keys before COPY (issue 15: the duplicate-key path).

A batch whose COPY meets a key already in the table fails as a whole: the savepoint is rolled
back and the whole batch goes through the stage (COPY into a temporary table, INSERT ... ON
CONFLICT, the conflicts settled row by row). In a file whose keys repeat across batches (a
partner's file with duplicates, a file loaded again with a few new rows) nearly every batch
pays that: a wasted part of a COPY, then every row twice more.

The probe asks the table which of the batch's keys it holds already, with one index lookup per
record (``= ANY`` would do the same; the ordinals say which record): the free records are
COPYed straight into the table, only the held ones take the stage path. A key taken between
the probe and the COPY (by a concurrent batch) still makes the COPY fail, and the batch then
takes the stage path whole, as without the probe: the probe only chooses the cheaper path, the
stage path decides.

The lookups cost about a fifth of a COPY of the same rows (measured on the bench's customers
table), so a batch looks only while its target's batches keep meeting taken keys:
:class:`Probing` turns the probe on when a batch meets one and off after ``QUIET`` batches in a
row found none. A clean file never probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from libs.db import Conn
from libs.load.target import Target
from libs.schema.names import quote_ident

Row = tuple[str, ...]

# Batches in a row whose probe found no taken key before the probe is turned off again.
QUIET: Final = 4


@dataclass
class Probing:
    """Whether one target's batches probe (per consumer process: its batches of the target)."""

    on: bool = False
    quiet: int = 0

    def met(self, taken: bool) -> None:
        """A batch met a taken key (``taken``), or found none."""
        if taken:
            self.on, self.quiet = True, 0
            return
        self.quiet += 1
        if self.quiet >= QUIET:
            self.on, self.quiet = False, 0


def probe_sql(t: Target) -> str:
    """The ordinals (1-based) of the records whose key the table holds; ``$1``.. are the key
    columns' values as text arrays, in key order, cast to the columns' types so that the
    key's index is used."""
    arrays = ", ".join(f"${i}::text[]" for i in range(1, len(t.key) + 1))
    names = ", ".join(f"k{i}" for i in range(len(t.key)))
    match = " AND ".join(f"c.{quote_ident(k)} = u.k{i}::{kind}"
                         for i, (k, kind) in enumerate(zip(t.key, t.key_types, strict=True)))
    return (f"SELECT u.n FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) "
            f"WHERE EXISTS (SELECT 1 FROM {t.table} c WHERE {match})")


async def held(conn: Conn, t: Target, sql: str, rows: Sequence[Row]) -> set[int]:
    """The places (0-based) in ``rows`` of the records whose key the table holds."""
    columns = [[row[at] for row in rows] for at in t.key_index]
    return {r["n"] - 1 for r in await conn.fetch(sql, *columns)}
