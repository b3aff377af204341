"""The stage of an atomic job: a table of schema ``ingest_stage`` that holds the job's validated
rows until the apply (``libs.load.apply``) writes them to the target in one transaction.

- Created by the producer when it registers an atomic job, in the job row's transaction
  (``CREATE TABLE IF NOT EXISTS``: a rerun changes nothing); not for a job already applied or
  failed. A regular, logged table: an unlogged one would be emptied by crash recovery.
- Columns: the target's (``LIKE target INCLUDING DEFAULTS``: types and defaults, NOT NULL, no
  other constraint, no index) plus ``_line`` (the record's line), ``_key`` (the key's canonical
  text, as ``ingest_keys.key``; NULL for a keyless table) and ``_op`` (``w`` write, ``d`` delete:
  the record's operation in merge mode, ``w`` otherwise).
- A batch of an atomic job COPYs its rows here, in the batch's transaction; nothing touches the
  target. The apply drops it.
"""

from __future__ import annotations

import hashlib
from typing import Final

from libs.schema.names import qualified, quote_ident

SCHEMA: Final = "ingest_stage"
COLUMNS: Final = ("_line", "_key", "_op")


def stage_name(job_id: str) -> str:
    """The stage's table name (in SCHEMA): ``j_`` + 32 hex digits of sha256(job id), so any
    job id gives a valid, short identifier."""
    return "j_" + hashlib.sha256(job_id.encode()).hexdigest()[:32]


def stage_table(job_id: str) -> str:
    """The stage, schema-qualified and quoted for SQL."""
    return f"{quote_ident(SCHEMA)}.{quote_ident(stage_name(job_id))}"


def create_sql(job_id: str, table: str, schema: str | None) -> str:
    """CREATE TABLE IF NOT EXISTS of the job's stage, shaped like ``schema.table``."""
    return (f"CREATE TABLE IF NOT EXISTS {stage_table(job_id)} (LIKE {qualified(table, schema)} "
            f"INCLUDING DEFAULTS, _line integer NOT NULL, _key text COLLATE \"C\", _op text "
            "NOT NULL DEFAULT 'w')")


def drop_sql(job_id: str) -> str:
    return f"DROP TABLE IF EXISTS {stage_table(job_id)}"
