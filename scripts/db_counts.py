"""Print what the database holds after a load: rows, rejects by reason, finished batches.

Used by ``make demo``; reads DATABASE_URL (default: the local ``ingest`` database). Counts the
tables of the dataset files (datasets/, or INGEST_DATASETS_DIR) and the tool's ``ingest_*``
tables, each only if it exists.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from libs import constants as c
from libs.schema.catalog import entries
from libs.schema.names import qualified
from libs.settings import redact_url

TOOL_TABLES = ("ingest_jobs", "ingest_batches", "ingest_rejects", "ingest_keys",
               "ingest_datasets")
REJECTS = "SELECT reason, count(*) AS n FROM ingest_rejects GROUP BY reason ORDER BY reason"
EXISTS = "SELECT to_regclass($1) IS NOT NULL"


def dataset_tables() -> list[str]:
    """The target tables of the loadable dataset files, SQL-quoted, in name order."""
    found = [entry.dataset.table for entry in entries() if entry.dataset is not None]
    return list(dict.fromkeys(qualified(table.name, table.schema) for table in found))


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        print(f"database {redact_url(url)}")
        for table in [*dataset_tables(), *TOOL_TABLES]:
            if await conn.fetchval(EXISTS, table):
                print(f"  {table.replace(chr(34), ''):<16} "
                      f"{await conn.fetchval(f'SELECT count(*) FROM {table}'):>10}")
        if await conn.fetchval(EXISTS, "ingest_rejects"):
            for row in await conn.fetch(REJECTS):
                print(f"    rejected {row['reason']:<20} {row['n']:>6}")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("DATABASE_URL", c.DEFAULT_DATABASE_URL)))
