"""Insert mode's look for taken keys before COPY (issue 15: the duplicate-key path).

A batch whose COPY meets a key already in the table fails as a whole: the savepoint is rolled
back and the whole batch goes through the stage (COPY into a temporary table, INSERT ... ON
CONFLICT, the conflicts settled row by row). In a file whose keys repeat across batches (a
partner's file with duplicates, a file loaded again with a few new rows) nearly every batch
pays that: a wasted part of a COPY, then every row twice more.

The probe asks the table which of the batch's keys it holds already, with one index lookup per
record (``= ANY`` would do the same; the ordinals say which record): the free records are
COPYed straight into the table in key order (so that concurrent batches take new keys in one
order and their COPYs cannot deadlock), only the held ones take the stage path. A key taken
between the probe and the COPY (a concurrent batch committed it) still makes the COPY fail:
the records before it go in, it is tried alone and the rest after it (``libs.load.isolate``),
and only the records that fail alone on a taken key take the stage path. The probe only
chooses the cheaper path; the stage path decides every conflict.

The lookups cost about a fifth of a COPY of the same rows (measured on the bench's customers
table), so a batch looks only while its target's batches keep meeting taken keys:
:class:`Probing` turns the probe on when a batch meets one and off after ``QUIET`` batches in a
row found none. A clean file never probes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
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
    """The ordinals (1-based) of the records whose key the table holds. ``$1`` is a JSON
    array of the records' keys (one JSON text: far cheaper to send than text arrays): each a
    text, or for a key of several columns an array of texts; cast to the columns' types so
    that the key's index is used."""
    if len(t.key) == 1:
        (kind,) = t.key_types
        return (f"SELECT u.n FROM json_array_elements_text($1::json) WITH ORDINALITY AS u(v, n) "
                f"WHERE EXISTS (SELECT 1 FROM {t.table} c "
                f"WHERE c.{quote_ident(t.key[0])} = u.v::{kind})")
    match = " AND ".join(f"c.{quote_ident(k)} = (u.v ->> {i})::{kind}"
                         for i, (k, kind) in enumerate(zip(t.key, t.key_types, strict=True)))
    return (f"SELECT u.n FROM json_array_elements($1::json) WITH ORDINALITY AS u(v, n) "
            f"WHERE EXISTS (SELECT 1 FROM {t.table} c WHERE {match})")


async def held(conn: Conn, t: Target, sql: str, rows: Sequence[Row]) -> set[int]:
    """The places (0-based) in ``rows`` of the records whose key the table holds."""
    key = itemgetter(*t.key_index)  # a key of several columns: a tuple, a JSON array
    keys = json.dumps(list(map(key, rows)), ensure_ascii=False)
    return {r["n"] - 1 for r in await conn.fetch(sql, keys)}
