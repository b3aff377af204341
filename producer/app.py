"""The producer's main: read the file, publish batches with confirms, keep the offset."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar

import structlog
from aio_pika.abc import AbstractExchange

from libs import amqp, db, faults, registry
from libs import constants as c
from libs.errors import (
    BrokerRefused,
    FileChanged,
    IngestError,
    OffsetStoreUnavailable,
    RetryBudgetExhausted,
    SourceUnavailable,
    Stopped,
    TransientError,
    UserError,
)
from libs.formats import (
    Reader,
    guess_format,
    layout_of,
    reader_for,
    with_overrides,
)
from libs.formats.base import Header
from libs.formats.compression import open_stream, stored_handle
from libs.formats.sniff import SAMPLE_BYTES, hints
from libs.messages import Batch, Seal, check_columns_fit
from libs.offsets import Offset, OffsetStore
from libs.retry import retry_transient
from libs.schema.model import Dataset
from libs.settings import ProducerSettings
from libs.sources import Source, open_source
from producer.chunks import Chunk, Position
from producer.datasets import Resolved, declared, header_plan, load_mode, resolve
from producer.progress import Progress
from producer.watermark import Watermark

log = structlog.get_logger("producer")
T = TypeVar("T")
STOP_NOTE_TIMEOUT_S: Final = 5.0  # recording why a run stopped: one bounded attempt


@dataclass
class Summary:
    job_id: str = ""
    file: str = ""
    dataset: str = ""
    mode: str = ""
    atomic: bool = False
    status: str = "ok"
    rows_read: int = 0
    rows_confirmed: int = 0
    batches_total: int = 0
    batches_published: int = 0
    batch_size: int = 0
    resumed_from_line: int = 0
    confirmed_up_to_line: int = 0
    offset_store_available: bool = True
    offset_saved: bool = False
    # The job's seal (ingest_jobs), the whole file's totals, once every batch is confirmed.
    sealed: bool = False
    records: int = 0
    batches: int = 0
    bytes: int = 0
    elapsed_s: float = 0.0
    rows_per_s: float = 0.0
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def job_id_for(dataset_name: str, dataset_fingerprint: str, file_digest: str,
               mode: str = "insert", *, atomic: bool = False, max_errors: int | None = None,
               max_error_ratio: float | None = None, dry_run: bool = False) -> str:
    """The job id: derived from the dataset (its rules, dialect, table: the fingerprint), the
    file's content and the options that change the result; the same file under another
    dataset, dialect, mode or options is another job. Only options that are not the default
    add a part, in this order: the mode (not insert), ``atomic`` (not for replace, which always
    is), ``max_errors=N``, ``max_error_ratio=R`` (``repr`` of the float); so a job that uses
    none keeps the id of the previous versions. A dry run's job is another job again
    (``\0dry-run``): it never blocks or resumes a real run."""
    parts = [dataset_fingerprint, file_digest]
    if mode != "insert":
        parts.append(mode)
    if atomic and mode != "replace":
        parts.append("atomic")
    if max_errors is not None:
        parts.append(f"max_errors={max_errors}")
    if max_error_ratio is not None:
        parts.append(f"max_error_ratio={float(max_error_ratio)!r}")
    if dry_run:
        parts.append("dry-run")
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"{dataset_name}-{digest[:24]}"


def job_options(settings: ProducerSettings, mode: str) -> dict[str, Any]:
    """The run's job options as ``job_id_for`` and ``registry.Job`` take them."""
    return {"atomic": settings.atomic or mode == "replace", "max_errors": settings.max_errors,
            "max_error_ratio": settings.max_error_ratio}


def write_job_file(path: Path, job_id: str) -> None:
    """``{"job_id": ...}`` to ``path`` atomically (a reader sees all of it or nothing)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"job_id": job_id}) + "\n")
    os.replace(tmp, path)


class Producer:
    def __init__(self, settings: ProducerSettings) -> None:
        self.s = settings
        self.source: Source = open_source(settings.file, settings.source_options)
        # A remote source's reads and checks wait on the network: they run in a thread.
        self.remote = self.source.local_path is None
        self.summary = Summary(file=self.source.display, batch_size=settings.batch_size)
        self.stop = asyncio.Event()
        self.signal: int | None = None
        self.store = OffsetStore(settings.redis, settings.offset_ttl_days)
        self.watermark = Watermark(Position(0, 0, 0, 0))
        self.saved: Position | None = None
        self.progress = Progress(enabled=settings.progress)
        self._offset_warned = False
        self._start_rows = 0
        self._batching_recorded = False
        self.reader: Reader  # set by _run, from the dataset and the options
        self.flow = amqp.FlowControl(settings.blocked_timeout, self.stop, self._on_flow)
        self.gave_up_on = "the broker"
        self._registered = False

    async def run(self) -> Summary:
        started = time.monotonic()
        try:
            with open_stream(self.source, self.s.compression, self.s.source) as handle:
                await self._run(handle)
            if self.summary.status not in ("ok", "already_done"):
                await self._record_stop(self.summary.message or self.summary.status)
        except Exception as exc:
            await self._record_stop(str(exc) or type(exc).__name__)
            raise
        finally:
            self.summary.elapsed_s = round(time.monotonic() - started, 3)
            if self.summary.elapsed_s > 0:
                confirmed_now = self.watermark.position.rows - self._start_rows
                self.summary.rows_per_s = round(confirmed_now / self.summary.elapsed_s, 1)
            self.progress.close()
            await self.store.close()
        return self.summary

    async def _run(self, handle: BinaryIO) -> None:
        self._state = self.source.state(stored_handle(handle))
        file_dataset = declared(self.s)
        try:
            spec, header = await self._start_job(file_dataset, handle)
        except RetryBudgetExhausted as exc:
            self._gave_up_on_postgres(str(exc))
            return
        except Stopped as exc:
            self._interrupted(exc)
            return
        job_id = self.summary.job_id
        await self._check_unchanged(handle)  # the job id is the content as it was hashed
        if await self.skip_job(job_id):
            return
        stored = self.source.size()
        extent = self.reader.extent(handle, stored)
        start = await self._resume_position(job_id, header.end_offset, header.next_line,
                                            extent, stored)
        if start is None:
            return
        handle.seek(start.byte)
        self.watermark = Watermark(start)
        self._start_rows = start.rows
        self.progress.start(total=extent, done=start.byte)
        batch = Batch(job_id, spec.name, 0, 2, 2, 0, header.columns, self.s.source, b"",
                      spec.fingerprint)
        await self._publish_file(handle, start, batch, extent, stored)

    async def skip_job(self, job_id: str) -> bool:
        """True ends the run once the job is registered, before anything is published (the
        one who says so sets the summary's status). Every job is published here; the watcher
        (producer/watch.py) skips a job that is sealed already."""
        return False

    async def _start_job(self, file_dataset: Dataset | None,
                         handle: BinaryIO) -> tuple[Dataset, Header]:
        """Resolve the dataset, read and map the header, derive the job id and register the
        job: every refusal (exit 2) comes before anything is published. The dataset that is
        registered (and so reaches the consumers) carries the dialect and encoding options."""
        what = (f"reflect table {self.s.table}" if file_dataset is None
                else f"check dataset {file_dataset.name} against its table")
        resolved = await self._database(what, lambda conn: resolve(conn, self.s, file_dataset))
        spec, header = self._header_and_mode(resolved, handle)
        mode = self.summary.mode
        identity = await asyncio.to_thread(self.source.identity)
        options = job_options(self.s, mode)
        self.summary.atomic = options["atomic"]
        self.summary.job_id = job_id = job_id_for(spec.name, spec.fingerprint, identity.digest,
                                                  mode, **options)
        structlog.contextvars.bind_contextvars(job_id=job_id)
        await self._register(registry.Job(
            job_id, spec.name, spec.fingerprint, self.s.source, mode, columns=header.columns,
            source_path=str(self.source.local_path or self.source.display),
            source_bytes=identity.size, source_digest=identity.digest,
            header_names=header.spelled or None, **options), spec)
        if self.s.job_file is not None:
            write_job_file(self.s.job_file, job_id)
        return spec, header

    def _header_and_mode(self, resolved: Resolved, handle: BinaryIO) -> tuple[Dataset, Header]:
        """The job's reader (``self.reader``), dataset and header; the run's load mode in the
        summary. UserError (exit 2) for a header the dataset or the mode cannot take, or too
        wide for a message. Shared with the dry run."""
        self.reader = reader = self._reader(resolved.dataset)
        spec = reader.dataset
        self.summary.dataset = spec.name
        header = self._read_header(handle, reader)
        if header.ignored:
            log.warning("keys that fill no column ignored (in the first objects)",
                        keys=list(header.ignored))
        mapped = header_plan(resolved, header.columns)
        self.summary.mode = load_mode(self.s.mode, spec, mapped.columns)
        check_columns_fit(header.columns)
        return spec, header

    @staticmethod
    def _read_header(handle: BinaryIO, reader: Reader) -> Header:
        """The header, after one warning if the start of the file suggests another dialect or
        encoding than the dataset's."""
        sample = handle.read(SAMPLE_BYTES)
        handle.seek(0)
        if found := hints(sample, reader.dataset):
            log.warning("the file may not be in the dataset's dialect or encoding", hints=found)
        return reader.read_header(handle)

    async def _database(self, what: str, work: Callable[[db.Conn], Awaitable[T]]) -> T:
        """``work`` on a fresh connection; PostgreSQL unavailable is retried within the retry
        budget (then RetryBudgetExhausted); a refused login or a missing table is permanent."""

        async def once() -> T:
            conn = await db.connect(self.s.postgres, "csv-ingest-producer")
            try:
                async with db.translated(self.s.postgres.url):
                    return await work(conn)
            finally:
                with suppress(Exception):
                    await conn.close(timeout=db.CONNECT_TIMEOUT)

        return await retry_transient(once, budget=self.s.retry_budget,
                                     what=f"PostgreSQL: {what}", stop=self.stop)

    async def _register(self, job: registry.Job, spec: Dataset) -> None:
        """The descriptor and the job (an atomic one's stage too) in PostgreSQL before the
        first publish (idempotent)."""
        error = await self._database("register the job",
                                     lambda conn: registry.register(conn, spec, job))
        self._registered = True
        await self._keep_batching(job.job_id)
        log.info("job registered", dataset=spec.name, fingerprint=spec.fingerprint[:12],
                 mode=job.mode, atomic=job.atomic, max_errors=job.max_errors,
                 max_error_ratio=job.max_error_ratio)
        if error is not None:
            log.warning("this job was stopped earlier; its batches may be refused again",
                        error=error)

    async def _keep_batching(self, job_id: str) -> None:
        """Cut the job's batches as its first run did, if it recorded its batching."""
        kept = await self._database("read the job's batching",
                                    lambda conn: registry.batching(conn, job_id))
        if kept is None or kept == (self.s.batch_size, self.s.batch_bytes):
            return
        log.warning("this job was first published with other batches: keeping them, so that "
                    "no record loads twice", batch_size=kept[0], batch_bytes=kept[1],
                    asked=[self.s.batch_size, self.s.batch_bytes])
        self.s = replace(self.s, batch_size=kept[0], batch_bytes=kept[1])
        self.summary.batch_size = kept[0]

    async def _record_batching(self) -> None:
        """Once per run, after its first confirmed batch: the job's batching (kept if the job
        has one). Before any confirm a refused batch may still be cut smaller."""
        self._batching_recorded = True
        job_id, size, nbytes = self.summary.job_id, self.s.batch_size, self.s.batch_bytes
        try:
            await self._database("record the job's batching", lambda conn: (
                registry.keep_batching(conn, job_id, size, nbytes)))
        except (TransientError, RetryBudgetExhausted, Stopped) as exc:
            log.warning("could not record the job's batching (a rerun with other --batch-size "
                        "may cut other batches)", error=str(exc))

    async def _seal(self, totals: registry.Totals) -> None:
        """Record the whole file's totals in its job (idempotent: a rerun of a complete job,
        or one that died before sealing, seals it with the same totals). The totals come from
        the confirmed position, which counts from the file's start also on a resumed run (the
        saved offset carries the batches and records before it): no need to re-read."""
        job_id = self.summary.job_id
        faults.hit("producer.before_seal")
        try:
            stored = await self._database(
                "seal the job", lambda conn: registry.seal(conn, job_id, totals))
        except RetryBudgetExhausted as exc:
            self._gave_up_on_postgres(f"every batch is confirmed but the job is not sealed: {exc}")
            return
        except Stopped as exc:
            self._interrupted(exc)
            return
        if stored != totals:
            log.warning("the job was sealed earlier with other totals (another --batch-size "
                        "or --batch-bytes?): keeping those", sealed=asdict(stored),
                        this_run=asdict(totals))
        log.info("job sealed", records=stored.records, batches=stored.batches,
                 bytes=stored.bytes)
        self.summary.sealed = True
        self.summary.records, self.summary.batches = stored.records, stored.batches
        self.summary.bytes = stored.bytes
        if self.summary.atomic or self.s.max_errors is not None or (
                self.s.max_error_ratio is not None):
            await self._announce_seal()

    async def _announce_seal(self) -> None:
        """The seal message (x-ingest-kind: seal): a consumer looks at once whether it can
        apply the job (or check its error ratio). Best effort: without it the consumers'
        periodic scan finds the job."""
        seal = Seal(self.summary.job_id, self.summary.dataset)
        try:
            connection = await amqp.connect(self.s.amqp, "csv-ingest-producer")
            try:
                channel = await connection.channel(publisher_confirms=True,
                                                   on_return_raises=True)
                exchange, _ = await amqp.declare(channel, self.s.amqp)
                await amqp.publish(exchange, self.s.amqp, amqp.seal_message(seal),
                                   self.s.publish_timeout)
            finally:
                await amqp.close(connection)
        except IngestError as exc:
            log.warning("could not publish the seal message (a consumer's periodic scan "
                        "will find the job)", error=str(exc))
            return
        log.info("seal message published")

    def _reader(self, spec: Dataset) -> Reader:
        """The file's reader: the dataset's layout with the dialect and encoding options."""
        s = self.s
        layout = layout_of(guess_format(s.source, s.format), spec)  # by --source-name too
        spec = with_overrides(spec, delimiter=s.delimiter, quote_char=s.quote_char,
                              escape_char=s.escape_char, encoding=s.encoding,
                              no_header=s.no_header, layout=layout)
        return reader_for(spec, s.max_record_bytes)

    async def _resume_position(self, job_id: str, header_end: int, next_line: int,
                               extent: int | None, stored: int) -> Position | None:
        """Where to start: the saved offset if usable, else just after the header. ``extent``:
        the stream's end in Position.byte units (None: unknown, a compressed stream);
        ``stored``: the source's size in bytes, the job's total bytes."""
        fresh = Position(0, header_end, next_line, 0)
        try:
            saved = await self.store.load(job_id)
        except OffsetStoreUnavailable as exc:
            self.summary.offset_store_available = False
            log.warning("offset store unavailable: publishing from the start "
                        "(republishing is safe, the consumer dedupes)", error=str(exc))
            return fresh
        if saved is None or saved.byte < header_end or (extent is not None
                                                        and saved.byte > extent):
            return fresh
        if saved.done:
            log.info("file already fully published: nothing to do", rows=saved.rows)
            self.summary.status = "already_done"
            self.summary.rows_confirmed = saved.rows
            self.summary.batches_total = saved.seq
            self.summary.confirmed_up_to_line = saved.line - 1
            self.summary.offset_saved = True
            await self._seal(registry.Totals(saved.rows, saved.seq, stored))
            return None
        log.info("resuming from saved offset", line=saved.line, byte=saved.byte, seq=saved.seq)
        self.summary.resumed_from_line = saved.line
        return Position(saved.seq, saved.byte, saved.line, saved.rows)

    async def _publish_file(self, handle: BinaryIO, start: Position, template: Batch,
                            extent: int | None, stored: int) -> None:
        complete = False
        published = asyncio.Event()  # set when publishing ends, however it ends
        saver = asyncio.create_task(self._save_periodically(published))
        try:
            connection = await retry_transient(
                lambda: amqp.connect(self.s.amqp, "csv-ingest-producer"),
                budget=self.s.retry_budget, what="connect to RabbitMQ", stop=self.stop)
            try:
                amqp.watch_blocked(connection, self.flow)
                channel = await connection.channel(publisher_confirms=True,
                                                   on_return_raises=True)
                exchange, _ = await amqp.declare(channel, self.s.amqp)
                complete = await self._pump(handle, start, template, exchange)
                if complete:
                    await self._check_unchanged(handle)
            finally:
                await amqp.close(connection, self.flow)
        except RetryBudgetExhausted as exc:  # BrokerBlocked, SourceUnavailable too
            if isinstance(exc, SourceUnavailable):
                self.gave_up_on = "the source"
            self.summary.status = "gave_up"
            self.summary.message = str(exc)
        except (BrokerRefused, FileChanged) as exc:  # retrying cannot help: exit 2
            complete = False
            self.summary.status = "refused"
            self.summary.message = str(exc)
        except Stopped:
            pass  # the signal sets the status below
        finally:
            published.set()
            await saver
            await self._final_save(extent, done=complete)
        if complete:
            pos = self.watermark.position
            self.summary.batches_total = pos.seq
            await self._seal(registry.Totals(pos.rows, pos.seq, stored))
        elif self.signal is not None:
            self.summary.status = "interrupted"
            self.summary.message = f"stopped by {signal.Signals(self.signal).name}"

    async def _pump(self, handle: BinaryIO, start: Position, template: Batch,
                    exchange: AbstractExchange) -> bool:
        """Feed batches to N publishing tasks; True once every batch of the file is confirmed."""
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=self.s.parallel)
        feeder = asyncio.create_task(self._feed(queue, handle, start))
        publishers = [asyncio.create_task(self._publish_loop(queue, template, exchange))
                      for _ in range(self.s.parallel)]
        tasks = [feeder, *publishers]
        try:
            finished = await self._await_all(feeder, publishers, queue)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return finished and feeder.result() and self.watermark.pending == 0

    async def _await_all(self, feeder: asyncio.Task[bool], publishers: list[asyncio.Task[None]],
                         queue: asyncio.Queue[Chunk | None]) -> bool:
        """Wait for the tasks; the first error is raised. After a signal, stop feeding and wait
        a bounded time (publish_timeout) for outstanding confirms. True if every task finished."""
        everything: asyncio.Future[Any] = asyncio.gather(feeder, *publishers)
        stop_wait: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({everything, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if everything.done():
                everything.result()
                return True
            self._stop_feeding(feeder, queue)
            _, pending = await asyncio.wait(publishers, timeout=self.s.publish_timeout)
            if pending:
                log.warning("stopped waiting for outstanding confirms")
            return False
        finally:
            stop_wait.cancel()
            everything.cancel()
            with suppress(BaseException):
                await everything

    def _stop_feeding(self, feeder: asyncio.Task[bool],
                      queue: asyncio.Queue[Chunk | None]) -> None:
        """No new batch after a signal: unpublished chunks are dropped (the offset never
        covers them) and each idle publisher gets its end marker."""
        feeder.cancel()
        while not queue.empty():
            queue.get_nowait()
        for _ in range(self.s.parallel):
            queue.put_nowait(None)

    async def _feed(self, queue: asyncio.Queue[Chunk | None], handle: BinaryIO,
                    start: Position) -> bool:
        complete = True
        chunks = self.reader.iter_chunks(handle, start, self.s.batch_size, self.s.batch_bytes)
        # A remote source's reads wait on the network (and its retries): in a thread, so
        # confirms, offset saves and heartbeats go on meanwhile. A local file's stay here.
        try:
            while (chunk := (await asyncio.to_thread(next, chunks, None) if self.remote
                             else next(chunks, None))) is not None:
                if self.stop.is_set():
                    complete = False
                    break
                await queue.put(chunk)
                self.summary.rows_read += chunk.records
                await self._check_unchanged(handle)
        except UserError as exc:  # the file cannot be read on (a line past the record limit):
            complete = False  # the batches before it are published, then exit 2
            self.summary.status = "refused"
            self.summary.message = str(exc)
        for _ in range(self.s.parallel):
            await queue.put(None)
        return complete

    async def _publish_loop(self, queue: asyncio.Queue[Chunk | None], template: Batch,
                            exchange: AbstractExchange) -> None:
        while not self.stop.is_set() and (chunk := await queue.get()) is not None:
            batch = Batch(template.job_id, template.dataset, chunk.seq, chunk.first_line,
                          chunk.last_line, chunk.records, template.columns, template.source,
                          chunk.body, template.fingerprint)
            message = amqp.to_message(batch)
            try:  # an attempt under way finishes (bounded by _await_all); no retry after a stop
                await retry_transient(
                    lambda m=message: self._publish_one(exchange, m),  # type: ignore[misc]
                    budget=self.s.retry_budget, what=f"publish batch {chunk.seq}",
                    stop=self.stop, finish_attempt=True)
            except Stopped:
                return
            faults.hit("producer.after_confirm")
            self.watermark.confirm(chunk)
            if not self._batching_recorded:
                await self._record_batching()
            self.summary.batches_published += 1
            self.progress.advance(chunk.end.byte - chunk.start.byte)

    async def _publish_one(self, exchange: AbstractExchange, message: Any) -> None:
        if faults.armed("producer.unconfirmed"):
            task = asyncio.ensure_future(
                amqp.publish(exchange, self.s.amqp, message, self.s.publish_timeout, self.flow))
            await asyncio.sleep(0.002)
            faults.hit("producer.unconfirmed")
            await task
            return
        await amqp.publish(exchange, self.s.amqp, message, self.s.publish_timeout, self.flow)

    def _on_flow(self, reason: str | None) -> None:
        """Say once why publishing pauses, and when it resumes (log line and progress bar)."""
        if reason is None:
            log.info("RabbitMQ unblocked publishing: resuming")
            self.progress.describe("publishing")
            return
        log.warning("RabbitMQ blocks publishing (memory or disk alarm): waiting for it to clear",
                    reason=reason, blocked_timeout_s=self.s.blocked_timeout)
        self.progress.describe(f"blocked by RabbitMQ: {reason}")

    async def _save_periodically(self, until: asyncio.Event) -> None:
        """A few times a second until ``until`` is set: a kill loses at most that much progress
        (Redis SETs are cheap). Ended by the event, not by a cancel: on Python 3.11 a cancel
        that lands as a command's asyncio.wait_for completes (redis-py's socket timeout) is
        lost (CPython gh-86296), the loop went on and the run waited for it for ever."""
        while not until.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), c.OFFSET_SAVE_INTERVAL_S)
            if not until.is_set():
                await self._save(done=False)

    async def _save(self, done: bool, extent: int | None = None) -> None:
        pos = self.watermark.position
        if pos == self.saved and not done:
            return
        end = extent if done and extent is not None else pos.byte
        offset = Offset(pos.seq, end, pos.line, pos.rows, done)
        try:
            await self.store.save(self.summary.job_id, offset)
        except OffsetStoreUnavailable as exc:
            self.summary.offset_store_available = False
            if not self._offset_warned:
                log.warning("could not save the offset (a rerun may republish more)",
                            error=str(exc))
                self._offset_warned = True
            return
        self.saved = pos
        self.summary.offset_saved = True
        if not done:
            faults.hit("producer.offset_saved")

    async def _final_save(self, extent: int | None, done: bool) -> None:
        pos = self.watermark.position
        self.summary.rows_confirmed = pos.rows
        self.summary.confirmed_up_to_line = pos.line - 1
        self.summary.offset_saved = False
        self.saved = None
        await self._save(done=done, extent=extent)

    async def _record_stop(self, message: str) -> None:
        """The job's ``publish_error``: why this run, which registered the job, ends without
        sealing it (its status shows it; the job stays publishing, a rerun resumes it). One
        attempt of at most STOP_NOTE_TIMEOUT_S: PostgreSQL may be what is down."""
        if not self._registered or self.summary.sealed:
            return
        job_id, postgres = self.summary.job_id, self.s.postgres

        async def write() -> None:
            conn = await db.connect(postgres, "csv-ingest-producer")
            try:
                async with db.translated(postgres.url):
                    await registry.set_publish_error(conn, job_id, message)
            finally:
                with suppress(Exception):
                    await conn.close(timeout=db.CONNECT_TIMEOUT)

        try:
            await asyncio.wait_for(write(), STOP_NOTE_TIMEOUT_S)
        except Exception as exc:  # best effort: the run's own outcome is what matters
            log.warning("could not record in the job's status why the run stopped",
                        error=str(exc) or type(exc).__name__)

    def _gave_up_on_postgres(self, message: str) -> None:
        self.gave_up_on = "PostgreSQL"
        self.summary.status = "gave_up"
        self.summary.message = message

    def _interrupted(self, exc: Stopped) -> None:
        """A signal stopped a retry: the run ends "interrupted" (Stopped without one is a bug:
        raised again)."""
        if self.signal is None:
            raise exc
        self.summary.status = "interrupted"
        self.summary.message = f"stopped by {signal.Signals(self.signal).name}"

    async def _check_unchanged(self, handle: BinaryIO) -> None:
        """FileChanged if the file's size or modification time is not what it was when the
        run opened it (the job is the content as hashed then). Checked after the hash, after
        each batch read and before the job is marked done and sealed. A remote source's check
        (a request, at most every few seconds) runs in a worker thread: confirms, offset saves
        and heartbeats go on meanwhile."""
        stored = stored_handle(handle)  # the stored bytes, compressed or not
        if self.remote:
            now = await asyncio.to_thread(self.source.state, stored)
        else:
            now = self.source.state(stored)
        if now != self._state:
            raise FileChanged(
                f"{self.source.display} changed while it was read (its size or modification "
                f"time, or its version): stopped, not marked done; the batches published so "
                f"far belong to job {self.summary.job_id}, the file as it was hashed. Load a "
                "file once it is complete (write it elsewhere, then move it in); rerun the "
                "same content to finish that job")

    def handle_signal(self, signum: int) -> None:
        log.warning("signal received: stopping", signal=signal.Signals(signum).name)
        self.signal = signum
        self.stop.set()


def exit_code(summary: Summary, signum: int | None) -> int:
    if summary.status in ("ok", "already_done"):
        return c.EXIT_OK
    if summary.status == "interrupted":
        return c.exit_code_of_signal(signum)
    if summary.status == "refused":
        return c.EXIT_USAGE
    return c.EXIT_FAILED
