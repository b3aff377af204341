"""What a watcher needs besides the producer: the content's identity, read so that a signal
stops it, and a claim on that content shared by every watcher of the same database.

A claim is a PostgreSQL session advisory lock keyed by the content's digest, taken on a
connection the watcher keeps while it publishes the file: a second watcher (same folder, or
the same file seen through another mount) does not get it, skips the file and looks again on
a later poll, when the job is sealed (skipped for good) or the first watcher died (the lock
went with its connection; the job resumes from its offset).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Final, TypeVar

import structlog

from libs import db
from libs.errors import FileChanged, IngestError
from libs.retry import retry_transient
from libs.settings import PostgresSettings
from libs.sources import Identity, LocalSource
from producer.inbox import Stamp

log = structlog.get_logger("producer.watch")
T = TypeVar("T")
READ_CHUNK: Final = 1 << 20
LOCK_KEY: Final = "csv-ingest watch {}"  # hashed to the advisory lock's bigint
_CLAIM_SQL: Final = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_RELEASE_SQL: Final = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def hash_file(path: Path, halt: threading.Event) -> Identity | None:
    """The file's identity as ``LocalSource.identity`` gives it (sha256 hex, size), read in
    1 MiB chunks; None as soon as ``halt`` is set (a signal: the watcher stops). OSError if
    the file cannot be read."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            if halt.is_set():
                return None
            digest.update(chunk)
            size += len(chunk)
    return Identity(digest.hexdigest(), "sha256", size)


def local_stamp(path: Path) -> Stamp:
    """A local file's stamp as the listing gives it: size and modification time (ns)."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


class HashedLocal(LocalSource):
    """A local file whose identity the watcher has read already (no second full read): the
    producer gets it if the file still has the stamp it had then, else FileChanged."""

    def __init__(self, location: str, known: Identity, stamp: Stamp) -> None:
        super().__init__(location)
        self.known, self.stamp = known, stamp

    def identity(self) -> Identity:
        if local_stamp(self.path) != self.stamp:
            raise FileChanged(f"{self.display} changed after it was hashed: taken again once "
                              "it is stable")
        return self.known


class Claims:
    """Advisory locks on one kept connection (made on first use, made again after an error);
    ``run`` also lends it for one-off work. PostgreSQL unavailable is retried within
    ``budget`` seconds (then RetryBudgetExhausted), a signal (``stop``) ends that (Stopped)."""

    def __init__(self, postgres: PostgresSettings, budget: float, stop: asyncio.Event) -> None:
        self.postgres, self.budget, self.stop = postgres, budget, stop
        self._conn: db.Conn | None = None

    async def run(self, what: str, work: Callable[[db.Conn], Awaitable[T]]) -> T:
        """``work`` on the kept connection; a connection that failed is closed and made again
        on the next attempt."""

        async def once() -> T:
            if self._conn is None or self._conn.is_closed():
                self._conn = await db.connect(self.postgres, "csv-ingest-watch")
            try:
                async with db.translated(self.postgres.url):
                    return await work(self._conn)
            except IngestError:
                await self.close()
                raise

        return await retry_transient(once, budget=self.budget, what=f"PostgreSQL: {what}",
                                     stop=self.stop)

    async def claim(self, digest: str) -> bool:
        """True if this watcher now holds the content ``digest`` (until :meth:`release`)."""
        key = LOCK_KEY.format(digest)
        got: bool = await self.run("claim the file", lambda conn: conn.fetchval(_CLAIM_SQL, key))
        return got

    async def release(self, digest: str) -> None:
        """Give the claim back (best effort: a lost connection has released it already)."""
        if self._conn is None:
            return
        try:
            async with db.translated(self.postgres.url):
                await self._conn.fetchval(_RELEASE_SQL, LOCK_KEY.format(digest))
        except IngestError as exc:
            log.warning("could not release the claim: closing its connection", error=str(exc))
            await self.close()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                await conn.close(timeout=db.CONNECT_TIMEOUT)
