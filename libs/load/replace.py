"""Replace mode: when the job completes, the target holds exactly the job's accepted rows.

Always atomic (the producer registers a replace job as atomic): the batches are staged and one
transaction applies them (``libs.load.apply``), which first empties the target, under ``LOCK
TABLE ... IN ACCESS EXCLUSIVE MODE`` held until COMMIT: readers wait briefly and then see the
new table, never a partial one. The table is never renamed or swapped, so its grants, views,
triggers and the foreign keys that reference it stay as they are.

- No foreign key references the table: ``TRUNCATE`` (and the table's keys in ``ingest_keys``).
- A foreign key references it (TRUNCATE refuses that): ``DELETE`` of the rows whose key the job
  does not have; the rows whose key it has are overwritten in place, so the rows that
  reference them stay valid (deleting and inserting them again would fail a NO ACTION or
  RESTRICT reference and cascade an ON DELETE CASCADE one). A removed row still referenced
  fails the apply with PostgreSQL's message; the job fails and the target is unchanged. A
  keyless table referenced by a foreign key is emptied with DELETE.

Then the job's rows are written with insert's rule for duplicate keys (the first line of a
key loads, later ones are ``duplicate_key``; where PostgreSQL refuses a key's record, its next
one): through the versioned writer with each key's lines offered first line first
(:class:`ReplaceLoader`), or, for a keyless table, by insert mode (every record). Every
record written counts ``inserted``.
"""

from __future__ import annotations

from typing import Final

from libs.db import Conn
from libs.load.target import Target
from libs.load.upsert import UpsertLoader
from libs.schema.names import quote_ident

_REFERENCED: Final = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' "
    "AND confrelid = to_regclass($1) AND conrelid <> confrelid)")
_FORGET_KEYS: Final = "DELETE FROM ingest_keys WHERE target = $1"


class ReplaceLoader(UpsertLoader):
    """Writes a chunk of the stage into the emptied target (the apply offers each key's lines
    in reverse line order, so the versioned writer tries the first line first)."""

    mode = "replace"
    first_wins = True  # within a batch, insert's rule (later lines are duplicate_key)


async def empty_target(conn: Conn, target: Target, stage: str) -> bool:
    """Lock the target and empty it for a replace (module docstring); True for the DELETE
    path (a foreign key references the table). PostgreSQL's errors propagate."""
    await conn.execute(f"LOCK TABLE {target.table} IN ACCESS EXCLUSIVE MODE")
    referenced = bool(await conn.fetchval(_REFERENCED, target.table))
    if not referenced:
        await conn.execute(f"TRUNCATE {target.table}")
    elif target.key:
        on = " AND ".join(f"s.{quote_ident(k)} = t.{quote_ident(k)}" for k in target.key)
        await conn.execute(f"DELETE FROM {target.table} t WHERE NOT EXISTS "
                           f"(SELECT 1 FROM {stage} s WHERE {on})")
    else:
        await conn.execute(f"DELETE FROM {target.table}")
    await conn.execute(_FORGET_KEYS, target.name)
    return referenced


async def drop_unloaded(conn: Conn, target: Target, stage: str, lines: list[int]) -> None:
    """DELETE path: the old rows of keys none of whose records loaded (``lines``: one staged
    line per such key), so the table holds only the job's rows."""
    if lines and target.key:
        on = " AND ".join(f"s.{quote_ident(k)} = t.{quote_ident(k)}" for k in target.key)
        await conn.execute(f"DELETE FROM {target.table} t USING {stage} s WHERE {on} "
                           "AND s._line = ANY($1::int[])", lines)
