"""A job's place in job order, its load mode and options, as the consumers read them
(``ingest_jobs``).

The producer registers the job (``libs.registry.register``) before its first publish, with its
``--mode``; ``job_seq`` (an identity) is then its place in job order, for good: a rerun is the
same row. A batch whose job has no row (a version 1 message) creates it here, in the dataset's
mode, and it gets the next place. Both never change, so each consumer looks a job up once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import asyncpg

from libs.db import translated
from libs.load.threshold import Threshold
from libs.messages import Batch

MAX_CACHED: Final = 4096  # jobs kept; past this the cache starts afresh
_CREATE: Final = ("INSERT INTO ingest_jobs (job_id, dataset, source, fingerprint, mode) "
                  "VALUES ($1, $2, $3, NULLIF($4, ''), $5) ON CONFLICT DO NOTHING")
_READ: Final = ("SELECT job_seq, mode, atomic, max_errors, max_error_ratio FROM ingest_jobs "
                 "WHERE job_id = $1")


@dataclass(frozen=True)
class JobRef:
    """``seq``: the job's place in job order (ingest_jobs.job_seq); ``mode``: its load mode;
    ``atomic``: staged, then applied in one transaction (replace always is); ``threshold``:
    its error limits."""

    seq: int
    mode: str
    atomic: bool = False
    threshold: Threshold = field(default_factory=Threshold)


class Jobs:
    """Job lookups on a pool, cached by job id. Errors are translated (TransientError ...)."""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool, self._url = pool, url
        self._known: dict[str, JobRef] = {}

    async def get(self, batch: Batch, default_mode: str) -> JobRef:
        """The batch's job; created (in ``default_mode``) when no producer registered it."""
        found = self._known.get(batch.job_id)
        if found is not None:
            return found
        async with translated(self._url), self._pool.acquire() as conn:
            row = await conn.fetchrow(_READ, batch.job_id)
            if row is None:
                await conn.execute(_CREATE, batch.job_id, batch.dataset, batch.source,
                                   batch.fingerprint, default_mode)
                row = await conn.fetchrow(_READ, batch.job_id)
        assert row is not None
        if len(self._known) >= MAX_CACHED:
            self._known.clear()
        found = self._known[batch.job_id] = JobRef(
            int(row["job_seq"]), str(row["mode"]), bool(row["atomic"]) or row["mode"] == "replace",
            Threshold(row["max_errors"], row["max_error_ratio"]))
        return found
