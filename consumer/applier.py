"""The consumer's side of atomic jobs and error thresholds, after a batch commits.

- Atomic job: after each committed batch, on the producer's seal message and in a periodic
  scan (at start, then every ``--apply-scan`` seconds), look whether the job is complete and
  apply it (``libs.load.apply``: exactly one transaction of one consumer does). A look that
  fails on an unavailable database is retried within ``--retry-timeout``; the scan takes up
  what is left.
- Streaming job with a threshold: after each commit (and on the seal message) check it again
  in a transaction of its own (``libs.load.threshold``): two batches that commit at the same
  time do not see each other's rejects in their own transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import asyncpg
import structlog

from consumer.datasets import Resolver
from libs import faults
from libs.db import translated
from libs.errors import IngestError, PermanentError, RetryBudgetExhausted, Stopped
from libs.load import Loader, apply
from libs.load.apply import Applied
from libs.load.jobs import JobRef
from libs.load.threshold import Threshold, check_streaming

log = structlog.get_logger("consumer")
T = TypeVar("T")
Retry = Callable[[Callable[[], Awaitable[T]], str], Awaitable[T]]
_OPTIONS: Final = "SELECT atomic, max_errors, max_error_ratio FROM ingest_jobs WHERE job_id = $1"


class Applier:
    def __init__(self, pool: asyncpg.Pool, url: str, resolver: Resolver,
                 loader_for: Callable[[str], Loader], retry: Retry[object],
                 on_applied: Callable[[Applied], None]) -> None:
        self._pool, self._url, self._resolver = pool, url, resolver
        self._loader_for, self._retry, self._on_applied = loader_for, retry, on_applied
        self.busy = 0  # applies and scans under way (burst mode waits for them)

    async def after_commit(self, job_id: str, job: JobRef) -> None:
        """A batch of ``job`` committed: apply it if complete, or check its threshold."""
        if job.atomic:
            await self.try_apply(job_id)
        elif job.threshold.active:
            await self._check(job_id, job.threshold)

    async def after_seal(self, job_id: str) -> None:
        """The producer sealed ``job_id``."""
        async with translated(self._url), self._pool.acquire() as conn:
            row = await conn.fetchrow(_OPTIONS, job_id)
        if row is None:
            return
        threshold = Threshold(row["max_errors"], row["max_error_ratio"])
        await self.after_commit(job_id, JobRef(0, "", bool(row["atomic"]), threshold))

    async def scan(self, datasets: tuple[str, ...]) -> None:
        """Apply every complete atomic job not applied yet (of ``datasets``; empty: all)."""
        self.busy += 1
        try:
            async with translated(self._url), self._pool.acquire() as conn:
                found = await apply.scan(conn, datasets)
            for job_id in found:
                await self.try_apply(job_id)
        finally:
            self.busy -= 1

    async def scan_safely(self, datasets: tuple[str, ...]) -> None:
        try:
            await self.scan(datasets)
        except IngestError as exc:
            log.warning("scan for complete atomic jobs failed (next one later)", error=str(exc))

    async def scan_forever(self, datasets: tuple[str, ...], every: float,
                           stop: asyncio.Event) -> None:
        """Every ``every`` seconds until ``stop``: :meth:`scan`."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                await self.scan_safely(datasets)

    async def try_apply(self, job_id: str) -> None:
        """Apply ``job_id`` if it is complete and no one else does; never raises for the
        database or the job (they are logged; the scan tries again)."""
        self.busy += 1
        try:
            with structlog.contextvars.bound_contextvars(job_id=job_id):
                await self._try_apply(job_id)
        finally:
            self.busy -= 1

    async def _try_apply(self, job_id: str) -> None:
        try:
            result = await self._retry(lambda: self._apply(job_id), "apply the atomic job")
        except (Stopped, RetryBudgetExhausted) as exc:
            log.warning("atomic job not applied now (a scan will try again)", error=str(exc))
            return
        except PermanentError as exc:
            log.error("atomic job cannot be applied: the job fails", error=str(exc))
            await self._give_up(job_id, f"apply failed: {exc}")
            return
        except Exception:  # a bug: the job stays complete and unapplied, the scan retries
            log.exception("unexpected error while applying an atomic job")
            return
        if isinstance(result, Applied):
            self._report(result)

    async def _apply(self, job_id: str) -> Applied | None:
        async with translated(self._url), self._pool.acquire() as conn:
            job = await apply.complete(conn, job_id)
        if job is None:
            return None
        resolver, batch = self._resolver, job.batch()
        dataset = await resolver.dataset(batch)
        target = await resolver.target(batch, dataset, resolver.plan(dataset, job.columns))
        reader = resolver.reader(dataset)
        faults.hit("consumer.before_apply")
        async with translated(self._url), self._pool.acquire() as conn, conn.transaction():
            locked = await apply.lock(conn, job_id)
            if locked is None:
                return None
            log.info("applying atomic job", mode=job.mode, records=job.records)
            return await apply.apply(conn, locked, target, self._loader_for, reader)

    async def _give_up(self, job_id: str, why: str) -> None:
        try:
            async with translated(self._url), self._pool.acquire() as conn:
                outcome = await apply.give_up(conn, job_id, why)
        except IngestError as exc:
            log.warning("could not record why the job failed", error=str(exc))
            return
        self._on_applied(Applied(job_id, why, outcome))

    def _report(self, result: Applied) -> None:
        moved = {dest: n for (_, dest), n in result.outcome.moved.items()}
        if result.error is None:
            log.info("atomic job applied", **moved, replace_delete=result.replaced)
        else:
            log.warning("atomic job failed: nothing applied", error=result.error, **moved)
        self._on_applied(result)

    async def _check(self, job_id: str, threshold: Threshold) -> None:
        async def check() -> str | None:
            async with translated(self._url), self._pool.acquire() as conn:
                return await check_streaming(conn, job_id, threshold)

        try:
            crossed = await self._retry(check, "check the error threshold")
        except IngestError as exc:
            log.warning("error threshold not checked", error=str(exc))
            return
        if crossed is not None:
            log.warning("error threshold crossed: later batches are skipped", error=crossed)
