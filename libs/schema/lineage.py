"""Lineage in the row: the two columns that put a table on the fast path.

The tool records, for every loaded row of a keyed table, the job and the line it came from.
A table with both ``job_id text`` and ``line_no integer`` carries that in the row (one COPY);
any other keyed table gets it in the tool's side table ``ingest_keys`` (target, key, job_id,
line_no), a second write and a second unique index per row. ``sql(...)`` is the reviewed
migration that switches a table over; nothing here executes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from libs.schema.names import qualified, quote_ident

COLUMNS: Final = (("job_id", "text"), ("line_no", "integer"))

_WHY: Final = """\
-- Lineage of {table} in the row (the fast path). Review it, then apply it yourself
-- (psql, or a dbmate migration of your own); `ingest schema lineage` never executes anything.
--
-- Saves: without these columns the tool keeps the job and line of each loaded row of a keyed
-- table in its side table ingest_keys, written in the same transaction: a second row and a
-- second unique index entry per loaded row: a clean keyed load measured 1.9-2.4x as long
-- (bench/lineage.py, 1M rows), +30% when keys collide.
-- With them, lineage travels in the row itself: one COPY, and the table's own key is the
-- only index written.
-- Costs: two nullable columns per row (the job id text, ~30-60 bytes, and a 4-byte integer);
-- ADD COLUMN without a default only changes the catalog (instant, a brief ACCESS EXCLUSIVE
-- lock, no table rewrite). Rows loaded before have NULL there: a later record of their
-- key is rejected duplicate_key, "key already in the table, not loaded by this tool" (their
-- ingest_keys rows are no longer read). The tool fills the columns from the next job on;
-- apply this between jobs (a job started on one lineage is stopped on the other).
"""


_KEYLESS: Final = """\
-- {table} has no unique key: the tool keeps no lineage for it (it writes no ingest_keys
-- rows; the batch-done record alone gives exactly-once), so the columns only record where
-- each row came from.
"""


def sql(table: str, schema: str | None, existing: Mapping[str, str], keyed: bool = True) -> str:
    """The commented ALTER TABLE for ``table``; ``existing``: its columns and their types;
    ``keyed``: whether the table has a unique key (lineage is kept for keyed tables only)."""
    name = qualified(table, schema)
    head = _WHY.format(table=name) + ("" if keyed else _KEYLESS.format(table=name))
    missing = [(col, kind) for col, kind in COLUMNS if col not in existing]
    clashes = [f"{col} is {existing[col]}, not {kind}" for col, kind in COLUMNS
               if col in existing and existing[col] != kind]
    if clashes:
        return (head + f"-- {name} already has a column named like a lineage column "
                f"({'; '.join(clashes)}): rename it before switching; nothing to run.\n")
    if not missing:
        return head + f"-- {name} already has job_id text and line_no integer: nothing to run.\n"
    adds = ",\n    ".join(f"ADD COLUMN {quote_ident(col)} {kind}" for col, kind in missing)
    return head + f"ALTER TABLE {name}\n    {adds};\n"
