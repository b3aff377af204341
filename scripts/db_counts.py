"""Print what the database holds after a load: rows, rejects by reason, finished batches.

Used by ``make demo``; reads DATABASE_URL (default: the local ``ingest`` database).
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from libs import constants as c
from libs.settings import redact_url

QUERIES = (
    ("customers", "SELECT count(*) FROM customers"),
    ("ingest_rejects", "SELECT count(*) FROM ingest_rejects"),
    ("ingest_batches", "SELECT count(*) FROM ingest_batches"),
)
REJECTS = "SELECT reason, count(*) AS n FROM ingest_rejects GROUP BY reason ORDER BY reason"


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        print(f"database {redact_url(url)}")
        for table, query in QUERIES:
            print(f"  {table:<16} {await conn.fetchval(query):>10}")
        for row in await conn.fetch(REJECTS):
            print(f"    rejected {row['reason']:<20} {row['n']:>6}")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("DATABASE_URL", c.DEFAULT_DATABASE_URL)))
