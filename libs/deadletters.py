"""Dead-lettered batches, as the consumers record them (``ingest_dead_letters``).

A consumer records a batch it dead-letters (poison, a permanent error, the delivery limit
reached) with why; and, on a batch's last allowed delivery, before processing it, with
:data:`LAST_DELIVERY`: if that consumer dies (SIGKILL), the broker dead-letters the batch on
its own and the record is already there. A later record of the same lines updates the reason;
a batch-done record (``ingest_batches``) of the same lines wins over it (the batch loaded
after all, or was replayed from the dead-letter queue): ``libs.jobstatus`` counts only
batches without one.
"""

from __future__ import annotations

from typing import Final

from libs.db import Conn
from libs.messages import Batch

LAST_DELIVERY: Final = ("delivery limit reached: the consumer handling its last delivery "
                        "stopped")
_RECORD: Final = """
INSERT INTO ingest_dead_letters (job_id, first_line, last_line, seq, records, reason, consumer)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (job_id, first_line, last_line)
DO UPDATE SET reason = EXCLUDED.reason, consumer = EXCLUDED.consumer, dead_at = now()
"""


async def record(conn: Conn, batch: Batch, reason: str, consumer: str) -> None:
    """Record ``batch`` dead-lettered because of ``reason`` by ``consumer`` (host:pid);
    again: the new reason replaces the old. asyncpg's errors are the caller's to translate."""
    await conn.execute(_RECORD, batch.job_id, batch.first_line, batch.last_line, batch.seq,
                       batch.records, reason, consumer)
