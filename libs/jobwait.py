"""Follow a job until it ends: ``ingest wait`` and ``producer --wait``.

:func:`wait` reads the job's status (``libs.jobstatus``) every ``interval`` seconds until its
state is terminal, the timeout passes or ``stop`` is set. The first read must succeed (an
unknown job is a UserError, PostgreSQL unavailable a TransientError); PostgreSQL going away
later (a restart) is logged and the reads go on until the timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Final, Literal

import asyncpg
import structlog

from libs import constants as c
from libs import db
from libs.errors import TransientError, UserError
from libs.jobstatus import JobStatus, exit_code, job_status
from libs.settings import PostgresSettings

log = structlog.get_logger("wait")
APPLICATION_NAME: Final = "csv-ingest-wait"


@dataclass(frozen=True)
class Waited:
    """How a wait ended: ``done`` (``status`` is terminal), ``timeout`` or ``stopped`` (a
    signal); ``status``: the last status read."""

    status: JobStatus
    outcome: Literal["done", "timeout", "stopped"]

    def exit_code(self) -> int:
        """0 succeeded (with rejects or not), 1 failed or aborted, 124 timeout; a stop is
        the caller's to map (130 / 143)."""
        if self.outcome == "done":
            return exit_code(self.status.state)
        return c.EXIT_TIMEOUT


class _Reader:
    """One connection, opened again after it broke."""

    def __init__(self, postgres: PostgresSettings) -> None:
        self._postgres = postgres
        self._conn: asyncpg.Connection | None = None

    async def read(self, job_id: str) -> JobStatus:
        try:
            if self._conn is None:
                self._conn = await db.connect(self._postgres, APPLICATION_NAME)
            async with db.translated(self._postgres.url):
                status = await job_status(self._conn, job_id)
        except TransientError:
            await self.close()
            raise
        if status is None:
            raise UserError(f"no job {job_id} in ingest_jobs")
        return status

    async def close(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                await self._conn.close(timeout=db.CONNECT_TIMEOUT)
            self._conn = None


async def wait(postgres: PostgresSettings, job_id: str, *, within: float | None,
               interval: float = c.WAIT_INTERVAL_S,
               on_status: Callable[[JobStatus], None] | None = None,
               stop: asyncio.Event | None = None) -> Waited:
    """Read ``job_id``'s status until it is terminal, ``within`` seconds pass (None: no
    limit) or ``stop`` is set; ``on_status`` sees each status read. UserError for an unknown
    job; TransientError when the first read fails."""
    deadline = None if within is None else time.monotonic() + within
    stop = stop or asyncio.Event()
    reader = _Reader(postgres)
    try:
        status = await reader.read(job_id)
        while True:
            if on_status is not None:
                on_status(status)
            if status.terminal:
                return Waited(status, "done")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return Waited(status, "timeout")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval if left is None
                                       else min(interval, left))
            if stop.is_set():
                return Waited(status, "stopped")
            try:
                status = await reader.read(job_id)
            except TransientError as exc:
                log.warning("could not read the job's status: trying again", error=str(exc))
    finally:
        await reader.close()
