"""``producer watch``: publish each complete new file of a folder (or remote prefix) once, as
its own job, with the producer's options.

Every ``interval`` seconds the source is listed (``producer.inbox``); a file whose stamp (size,
modification time) is the same as on the previous poll is ready. For each ready file, oldest
first: its content is hashed (a signal stops that), claimed (``producer.claims``: one watcher
per content at a time), then published by a :class:`WatchProducer` (the producer's own run:
job id, registration, Redis offset, confirms, seal), which first asks the database: a job
that is sealed already is skipped, however Redis was flushed or the watcher restarted; an
unsealed one resumes from its offset. Once the job is sealed the file may move to
``--done-dir``; a refused file (bad header, ...) is logged, its summary printed, and left
alone until it changes (in memory; ``--failed-dir`` moves it aside).

A signal stops the file in flight through the producer's own stop (its offset saved; the next
start resumes it) and ends the watch (exit 0). Broker or database outages end the poll; the
next one tries again. Only a configuration error found at start is fatal (exit 2).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from typing import Any

import structlog

from libs import amqp, db, registry
from libs.errors import (
    IngestError,
    PermanentError,
    RetryBudgetExhausted,
    Stopped,
    TransientError,
    UserError,
)
from libs.retry import retry_transient
from libs.settings import ProducerSettings, WatchSettings
from libs.sources import Identity, LocalSource, Source, redacted
from producer.app import Producer, Summary
from producer.claims import Claims, HashedLocal, hash_file
from producer.datasets import declared, resolve
from producer.inbox import Entry, Settling, Stamp, listing_for, wanted

log = structlog.get_logger("producer.watch")


class WatchProducer(Producer):
    """The producer's run for one watched file; a job that is sealed already is skipped
    (``skipped``)."""

    def __init__(self, settings: ProducerSettings) -> None:
        super().__init__(settings)
        self.skipped = False

    def know(self, identity: Identity, stamp: Stamp) -> None:
        """The identity the watcher read: a local file is not read again to hash it (if it
        still has ``stamp``, else FileChanged)."""
        if isinstance(self.source, LocalSource):
            self.source = HashedLocal(self.s.file, identity, stamp)

    async def skip_job(self, job_id: str) -> bool:
        """The database decides: sealed -> skipped (``already_done``); stopped (an error, an
        abort) and not sealed -> refused; else published (resumed from its offset)."""
        try:
            totals, error = await self._database("look up the job", lambda conn: _ended(
                conn, job_id))
        except RetryBudgetExhausted as exc:
            self._gave_up_on_postgres(str(exc))
            return True
        except Stopped as exc:
            self._interrupted(exc)
            return True
        if totals is not None:
            self.skipped, self.summary.status, self.summary.sealed = True, "already_done", True
            self.summary.records, self.summary.batches = totals.records, totals.batches
            self.summary.bytes = totals.bytes
            return True
        if error is not None:
            self.summary.status = "refused"
            self.summary.message = f"job {job_id} was stopped ({error}): not published again"
            return True
        return False


async def _ended(conn: db.Conn, job_id: str) -> tuple[registry.Totals | None, str | None]:
    return await registry.sealed(conn, job_id), await registry.job_error(conn, job_id)


@dataclass
class Counts:
    """What a watcher did (logged when it stops): files published (sealed by it), skipped as
    loaded before, refused, and claims another watcher held."""

    published: int = 0
    skipped: int = 0
    refused: int = 0
    busy: int = 0


class Watcher:
    """``run`` until a signal; ``on_result(summary)`` gets each producer run's summary (the
    CLI prints it as one JSON line)."""

    def __init__(self, settings: WatchSettings,
                 on_result: Callable[[dict[str, Any]], None]) -> None:
        self.s = settings
        self.on_result = on_result
        self.listing = listing_for(settings.source, settings.producer.source_options.storage_for(
            settings.source))
        self.stop = asyncio.Event()
        self.halt = threading.Event()  # the hashing thread's stop
        self.signal: int | None = None
        self.claims = Claims(settings.producer.postgres, settings.producer.retry_budget,
                             self.stop)
        self.settling = Settling()
        self.settled: dict[str, Stamp] = {}  # location -> the stamp whose outcome is final
        self.digests: dict[str, tuple[Stamp, Identity]] = {}
        self.current: WatchProducer | None = None
        self.counts = Counts()
        self.unlisted = False  # the last listing failed (said once)

    async def run(self) -> Counts:
        try:
            await self._check()
            log.info("watching", source=self.listing.display, interval_s=self.s.interval,
                     patterns=list(self.s.patterns),
                     done_to=None if self.s.done_to is None else redacted(str(self.s.done_to)))
            while not self.stop.is_set():
                await self._poll()
                await self._sleep(self.s.interval)
        except Stopped:
            pass
        finally:
            await self.claims.close()
            log.info("watcher stopped", **asdict(self.counts))
        return self.counts

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _check(self) -> None:
        """Once at start: the dataset or table (read, checked against its table) and the
        broker (login, queue): one line and exit 2 for what every file would be refused for."""
        settings = self.s.producer
        dataset = declared(settings)
        await self.claims.run("check the dataset", lambda conn: resolve(conn, settings, dataset))

        async def declare() -> None:
            connection = await amqp.connect(settings.amqp, "csv-ingest-watch")
            try:
                await amqp.declare(await connection.channel(), settings.amqp)
            finally:
                await amqp.close(connection)

        await retry_transient(declare, budget=settings.retry_budget, what="connect to RabbitMQ",
                              stop=self.stop)

    async def _poll(self) -> None:
        try:
            listed = await asyncio.to_thread(self.listing.entries)
        except Exception as exc:  # a folder gone or a store unreachable: said once, retried
            if not self.unlisted:
                log.warning("cannot list the source: trying again every interval",
                            error=str(exc) or type(exc).__name__)
            self.unlisted = True
            return
        if self.unlisted:
            log.info("the source can be listed again")
        self.unlisted = False
        entries = [e for e in listed if wanted(e.name, self.s.patterns)]
        here = {e.location for e in entries}
        self.settled = {k: v for k, v in self.settled.items() if k in here}
        self.digests = {k: v for k, v in self.digests.items() if k in here}
        for entry in self.settling.ready(entries):
            if self.stop.is_set():
                return
            if self.settled.get(entry.location) == entry.stamp:
                continue
            with structlog.contextvars.bound_contextvars(file=entry.name):
                if not await self._take(entry):
                    return  # the broker or the database is down: the next poll tries again

    async def _take(self, entry: Entry) -> bool:
        """Hash, claim and publish ``entry``; False ends this poll."""
        try:
            producer = WatchProducer(replace(self.s.producer, file=entry.location))
        except UserError as exc:  # a location no source module takes
            await self._refuse(entry, str(exc))
            return True
        identity = await self._identify(entry, producer.source)
        if identity is None:
            return not self.stop.is_set()
        try:
            if not await self.claims.claim(identity.digest):
                self.counts.busy += 1
                log.info("another watcher is publishing this content: looking again later")
                return True
        except (RetryBudgetExhausted, TransientError) as exc:
            log.warning("PostgreSQL unavailable: looking again at the next poll", error=str(exc))
            return False
        try:
            producer.know(identity, entry.stamp)
            return await self._publish(entry, producer)
        finally:
            await self.claims.release(identity.digest)

    async def _identify(self, entry: Entry, source: Source) -> Identity | None:
        """The identity of ``entry``'s content (cached per stamp) through ``source``, as the
        producer opened it; None if the file changed or went away meanwhile, or a signal came.
        A file that cannot be read is refused."""
        cached = self.digests.get(entry.location)
        if cached is not None and cached[0] == entry.stamp:
            return cached[1]
        try:
            if isinstance(source, LocalSource):
                identity = await asyncio.to_thread(hash_file, source.path, self.halt)
            else:
                identity = await asyncio.to_thread(source.identity)
        except (TransientError, RetryBudgetExhausted) as exc:  # the source is unreachable
            log.warning("the file cannot be read now: trying again at the next poll",
                        error=str(exc))
            return None
        except Exception as exc:
            if await self._still(entry):
                message = f"{source.display} cannot be read: {exc}"
                self.on_result(Summary(file=source.display, status="refused",
                                       message=message).as_dict())
                await self._refuse(entry, message)
            return None
        if identity is None or not await self._still(entry):
            return None
        self.digests[entry.location] = (entry.stamp, identity)
        return identity

    async def _still(self, entry: Entry) -> bool:
        """True if ``entry`` is still there with the same stamp (else: logged; a source that
        cannot say now is taken as changed: the next poll looks again)."""
        try:
            now = await asyncio.to_thread(self.listing.stamp, entry)
        except Exception as exc:
            log.warning("the file cannot be checked now: trying again at the next poll",
                        error=redacted(str(exc)))
            return False
        if now != entry.stamp:
            log.info("the file changed or went away: taken again once stable"
                     if now is not None else "the file went away")
        return now == entry.stamp

    async def _publish(self, entry: Entry, producer: WatchProducer) -> bool:
        """``producer``'s run for ``entry`` (claimed); False ends this poll."""
        if self.stop.is_set() or not await self._still(entry):
            return not self.stop.is_set()
        self.current = producer
        try:  # a task of its own: the job id it binds to the log context stays in it
            summary = await asyncio.create_task(producer.run())
        except (UserError, TransientError, RetryBudgetExhausted) as exc:
            summary = producer.summary
            summary.status = "refused" if isinstance(exc, UserError) else "gave_up"
            summary.message = str(exc)
        except PermanentError:
            raise  # the configuration (database not migrated, ...): every file would fail
        except IngestError as exc:
            summary = replace(producer.summary, status="refused", message=str(exc))
        except Exception as exc:  # a bug must not stop the watch: this file is set aside
            log.exception("unexpected error publishing the file")
            summary = replace(producer.summary, status="refused", message=repr(exc))
        finally:
            self.current = None
        return await self._outcome(entry, producer, summary)

    async def _outcome(self, entry: Entry, producer: WatchProducer, summary: Summary) -> bool:
        """Count, print and settle a run; move the file once its job is sealed. False (gave
        up, interrupted) ends this poll: the file resumes later."""
        status = summary.status
        if status == "refused":
            if await self._still(entry):
                self.on_result(summary.as_dict())
                await self._refuse(entry, summary.message)
            return True
        if producer.skipped:
            self.counts.skipped += 1
            log.info("already loaded (its job is sealed): skipped", job_id=summary.job_id)
        else:
            self.on_result(summary.as_dict())
        if status not in ("ok", "already_done"):
            if status == "gave_up":
                log.warning(f"gave up on {producer.gave_up_on}: looking again at the next "
                            "poll", error=summary.message)
            return False
        self.counts.published += not producer.skipped
        self.settled[entry.location] = entry.stamp
        if summary.sealed and self.s.done_to is not None:
            await self._move(entry, self.s.done_to, "done")
        return True

    async def _refuse(self, entry: Entry, message: str) -> None:
        """Logged once; not taken again until it changes (or moved to --failed-dir)."""
        self.counts.refused += 1
        self.settled[entry.location] = entry.stamp
        log.warning("file refused: left alone until it changes", error=message)
        if self.s.failed_dir is not None:
            await self._move(entry, str(self.s.failed_dir), "failed")

    async def _move(self, entry: Entry, to: str, why: str) -> None:
        try:
            where = await asyncio.to_thread(self.listing.move, entry, to)
        except Exception as exc:
            log.warning(f"could not move the {why} file", to=redacted(to),
                        error=str(exc).replace(to, redacted(to)))
            return
        log.info(f"{why} file moved", to=redacted(str(where)))

    def handle_signal(self, signum: int) -> None:
        """Stop the file in flight (its producer saves the offset) and the watch."""
        self.stop.set()
        self.halt.set()
        if self.current is not None:
            self.current.handle_signal(signum)  # says so in the log
        elif self.signal is None:
            log.warning("signal received: stopping", signal=signal.Signals(signum).name)
        self.signal = signum
