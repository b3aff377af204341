"""``producer --dry-run``: what a load of the file would reject, without loading it.

In this process, with neither RabbitMQ nor Redis: the file is read with the dataset's reader
and cut into the batches a real run would publish; each batch is validated by the consumer's
own code (``libs.validate.prepare``, the plan the consumer compiles), so the rules, the reasons
and the details are the consumer's. In upsert and merge mode every valid record loads (the
last of a key wins: no ``duplicate_key``); in insert mode, as such a load would:

- a key used twice in the file: the earliest line keeps it, later lines are ``duplicate_key``
  (the keys seen so far are kept in memory, nothing else: memory grows with the distinct keys,
  not with the file);
- a key the target table already holds: ``duplicate_key`` (one query per batch, index lookups,
  ``libs.load.existing``), unless the row was loaded by the real job of this very file (a
  rerun of it changes nothing, so the dry run reports that load's own rejects).

The rejects go to a CSV report (``--rejects-out``; ``_line,_reason,_detail`` then the header's
columns with the record's fields as read; a record that has no fields, ``malformed_csv`` or
``invalid_encoding``, gives its text as one field) and to ``ingest_rejects`` under the dry run's
own job (``ingest_jobs.dry_run``; job id ``job_id_for(..., dry_run=True)``, never the real
job's), emptied at the start of each dry run and sealed at its end. No table of the user's is
written. What cannot be known without writing: ``database_rejected`` (a CHECK, a trigger, a
foreign key) beyond key values the column type refuses.

When PostgreSQL cannot be reached (within ``--retry-budget``) and a dataset file gives the
rules, the dry run goes on without it: no check against the table, no rows in ingest_rejects
(``"database_available": false``). A reflected ``--table`` needs the database.
"""

from __future__ import annotations

import asyncio
import csv
import signal
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TextIO

import structlog

from libs import db, registry
from libs.errors import RetryBudgetExhausted, Stopped, TransientError, UserError
from libs.formats import Reader
from libs.formats.base import Chunk, Header, Position
from libs.load.existing import Found, KeysInTable, keys_in_table
from libs.load.insert import UNTRACKED
from libs.load.merge import operations
from libs.load.prepared import Prepared, RejectRow
from libs.load.target import target_for
from libs.messages import Batch
from libs.retry import retry_transient
from libs.schema.compile import Plan, plan
from libs.schema.from_table import reflect
from libs.schema.model import Dataset
from libs.schema.reasons import DATABASE_REJECTED, DUPLICATE_KEY
from libs.settings import ProducerSettings
from libs.sources import open_source, source_name
from libs.validate import KeyOf, key_function, prepare
from producer.app import Producer, Summary, job_id_for, job_options, write_job_file
from producer.datasets import Resolved, declared, resolve

log = structlog.get_logger("producer")
REPORT_COLUMNS = ("_line", "_reason", "_detail")
FIRST_WINS = ("insert", "replace")  # within the file the first line of a key; else the last


@dataclass
class DryRunSummary(Summary):
    """A real run's summary (nothing published, nothing confirmed) plus what a load would do."""

    dry_run: bool = True
    real_job_id: str = ""  # the job a real run of this file is
    loadable: int = 0  # records a load would put in the table
    rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    rejects_file: str = ""
    table_checked: bool = False  # keys were looked up in the target table
    database_available: bool = True


@dataclass
class _Pending:
    """A validated batch whose key lookup may still be running."""

    prepared: Prepared
    chunk: Chunk
    rejects: list[RejectRow]  # by the rules, and duplicates within the file
    fresh: list[tuple[str, ...]] = field(default_factory=list)  # rows of keys new to the file
    lookup: asyncio.Task[Found] | None = None


def report_path(settings: ProducerSettings) -> Path:
    """``--rejects-out``, else ``<file's stem>.rejects.csv`` next to the file (a remote
    file's: in the working directory)."""
    if settings.rejects_out is not None:
        return settings.rejects_out
    local = open_source(settings.file).local_path
    stem = PurePosixPath(source_name(settings.file)).stem
    return (local.parent if local else Path()) / f"{stem}.rejects.csv"


class DryRun(Producer):
    """The producer's start (dataset, header, user errors), then validation instead of
    publishing (see the module)."""

    def __init__(self, settings: ProducerSettings) -> None:
        super().__init__(settings)
        self.summary: DryRunSummary = DryRunSummary(
            file=self.source.display, batch_size=settings.batch_size,
            offset_store_available=False)
        self.conn: db.Conn | None = None
        self.keys: tuple[KeyOf, str] | None = None
        self.lookup: KeysInTable | None = None
        self.mapped_columns: tuple[str, ...] = ()
        self.seen: dict[object, int] = {}
        self.by_reason: Counter[str] = Counter()

    async def run(self) -> Summary:
        summary = await super().run()
        if summary.elapsed_s > 0:
            summary.rows_per_s = round(summary.rows_read / summary.elapsed_s, 1)
        return summary

    async def _run(self, handle: BinaryIO) -> None:
        try:
            await self._dry_run(handle)
        except RetryBudgetExhausted as exc:
            self._gave_up(exc)
        except TransientError as exc:  # PostgreSQL lost during the run: a rerun starts over
            self._gave_up(exc)
        except Stopped:
            if self.signal is None:
                raise
        finally:
            if self.conn is not None:
                await self.conn.close()
        if self.signal is not None and self.summary.status == "ok":
            self.summary.status = "interrupted"
            self.summary.message = f"stopped by {signal.Signals(self.signal).name}"

    def _gave_up(self, exc: Exception) -> None:
        self.gave_up_on = "PostgreSQL"
        self.summary.status = "gave_up"
        self.summary.message = str(exc)

    async def _dry_run(self, handle: BinaryIO) -> None:
        resolved = await self._resolve(declared(self.s))
        spec, header = self._header_and_mode(resolved, handle)  # as a real run refuses
        mode = self.summary.mode
        mapped = plan(spec, header.columns, partial=True)  # as the consumer compiles it
        self.mapped_columns = mapped.columns
        # Upsert and merge take every valid record of a key (the last one wins): no duplicates.
        # Replace keeps insert's rule within the file (the table is emptied first).
        self.keys = key_function(mapped) if mode in ("insert", "replace") else None
        digest = (await asyncio.to_thread(self.source.identity)).digest
        options = job_options(self.s, mode)
        self.summary.real_job_id = job_id_for(spec.name, spec.fingerprint, digest, mode,
                                              **options)
        self.summary.job_id = job_id_for(spec.name, spec.fingerprint, digest, mode, **options,
                                         dry_run=True)
        structlog.contextvars.bind_contextvars(job_id=self.summary.job_id)
        out = self._open_report()
        with out:
            if self.summary.database_available:
                await self._connect(spec, mapped)
            complete = await self._validate(handle, header, mapped, out)
        if complete and self.conn is not None:
            async with db.translated(self.s.postgres.url):
                await registry.seal(self.conn, self.summary.job_id, registry.Totals(
                    self.summary.records, self.summary.batches, self.summary.bytes))
            self.summary.sealed = True
        log.info("dry run done", records=self.summary.records, loadable=self.summary.loadable,
                 rejected=self.summary.rejected, report=self.summary.rejects_file)

    async def _resolve(self, dataset: Dataset | None) -> Resolved:
        """The dataset as a real run resolves it; with a dataset file and PostgreSQL out of
        reach, the file's rules alone (no table check)."""
        what = (f"reflect table {self.s.table}" if dataset is None
                else f"check dataset {dataset.name} against its table")
        try:
            return await self._database(what, lambda conn: resolve(conn, self.s, dataset))
        except RetryBudgetExhausted as exc:
            if dataset is None:
                raise
            log.warning("PostgreSQL unreachable: dry run with the dataset file's rules only "
                        "(no check against the table, no rejects in ingest_rejects)",
                        error=str(exc))
            self.summary.database_available = False
            return Resolved(dataset, reflected=False)

    def _open_report(self) -> TextIO:
        path = report_path(self.s)
        if path.resolve() == self.source.local_path:
            raise UserError(f"--rejects-out {path} is the input file")
        try:
            out = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write the rejects report {path}: {exc.strerror}; name "
                            "another file with --rejects-out") from exc
        self.summary.rejects_file = str(path)
        return out

    async def _connect(self, spec: Dataset, mapped: Plan) -> None:
        """The dry run's job registered (its report emptied) and the table's key lookup."""
        url = self.s.postgres.url
        self.conn = conn = await retry_transient(
            lambda: db.connect(self.s.postgres, "csv-ingest-dry-run"),
            budget=self.s.retry_budget, what="connect to PostgreSQL", stop=self.stop)
        job = registry.Job(self.summary.job_id, spec.name, spec.fingerprint, self.s.source,
                           self.summary.mode, dry_run=True)
        async with db.translated(url):
            await registry.register(conn, spec, job)
            await registry.restart_dry_run(conn, job.job_id)
            if self.s.job_file is not None:
                write_job_file(self.s.job_file, job.job_id)
            reflected = await reflect(conn, spec.table.name, spec.table.schema)
        if self.summary.mode == "insert":  # a key the table holds is a duplicate
            self.lookup = keys_in_table(target_for(mapped, reflected), reflected)
        self.summary.table_checked = self.lookup is not None

    async def _validate(self, handle: BinaryIO, header: Header, mapped: Plan,
                        out: TextIO) -> bool:
        """Every batch a real run would publish, validated; True if the whole file was read.

        A batch's key lookup runs in PostgreSQL while the next batch is validated here."""
        s, summary = self.s, self.summary
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*REPORT_COLUMNS, *(name.strip() for name in header.columns)])
        start = Position(0, header.end_offset, header.next_line, 0)
        handle.seek(start.byte)
        summary.bytes = self.source.size()
        self.progress.start(total=self.reader.extent(handle, summary.bytes), done=start.byte)
        self.progress.describe("validating")
        pending: _Pending | None = None
        refused: UserError | None = None
        try:
            try:
                for chunk in self.reader.iter_chunks(handle, start, s.batch_size,
                                                     s.batch_bytes):
                    prepared = prepare(self._batch_of(chunk, header), mapped, self.reader,
                                       first_wins=self.summary.mode in FIRST_WINS)
                    if pending is not None:
                        await self._finish(pending, writer)
                    pending = self._start(prepared, chunk)
                    await asyncio.sleep(0)  # the lookup goes out; signals are handled
                    if self.stop.is_set():
                        return False
            except UserError as exc:  # a line past the record limit: a real run stops there
                refused = exc
            if pending is not None:
                await self._finish(pending, writer)
                pending = None
        finally:
            if pending is not None and pending.lookup is not None:
                pending.lookup.cancel()
                with suppress(BaseException):
                    await pending.lookup
        if refused is not None:
            summary.status = "refused"
            summary.message = str(refused)
            return False
        summary.batches_total = summary.batches
        return True

    def _batch_of(self, chunk: Chunk, header: Header) -> Batch:
        """The batch message a real run would publish for ``chunk``."""
        spec = self.reader.dataset
        return Batch(self.summary.job_id, spec.name, chunk.seq, chunk.first_line,
                     chunk.last_line, chunk.records, header.columns, self.s.source,
                     chunk.body, spec.fingerprint)

    def _start(self, prepared: Prepared, chunk: Chunk) -> _Pending:
        """Duplicates within the file (the earliest line keeps a key), and the lookup of the
        batch's new keys in the table, started."""
        pending = _Pending(prepared, chunk, list(prepared.rejects))
        if self.summary.mode == "merge":  # the operation codes, as the consumer checks them
            codes = self.reader.dataset.load.merge
            pending.rejects += operations(prepared, self.mapped_columns, codes)[1]
        if self.keys is None:
            return pending
        key_of, name = self.keys
        seen = self.seen
        for row in prepared.rows:
            key, line = key_of(row), int(row[-1])
            first = seen.setdefault(key, line)
            if first == line:
                pending.fresh.append(row)
                continue
            pending.rejects.append(prepared.rejected(line, DUPLICATE_KEY,
                                                     f"{name} {key} already on line {first}"))
        if self.lookup is not None and self.conn is not None and pending.fresh:
            pending.lookup = asyncio.create_task(self._find(self.lookup, self.conn,
                                                            pending.fresh))
        return pending

    async def _find(self, lookup: KeysInTable, conn: db.Conn,
                    rows: list[tuple[str, ...]]) -> Found:
        async with db.translated(self.s.postgres.url):
            return await lookup.find(conn, rows)

    async def _finish(self, pending: _Pending, writer: Any) -> None:
        """The batch's keys found in the table are duplicates; its rejects are reported."""
        prepared, rejects = pending.prepared, pending.rejects
        if pending.lookup is not None:
            taken = await pending.lookup
            for at, job in taken.held.items():
                if job == self.summary.real_job_id:
                    continue  # loaded by this file's own job: a real rerun changes nothing
                why = UNTRACKED if job is None else f"key already loaded from job {job}"
                line = int(pending.fresh[at][-1])
                rejects.append(prepared.rejected(line, DUPLICATE_KEY, why))
            for at, why in taken.refused.items():
                line = int(pending.fresh[at][-1])
                rejects.append(prepared.rejected(line, DATABASE_REJECTED, why))
        rejects.sort(key=lambda r: r.line_no)
        if self.conn is not None:
            async with db.translated(self.s.postgres.url):
                await registry.add_rejects(self.conn, self.summary.job_id, rejects)
        self._write(writer, prepared, rejects)
        self._count(pending.chunk, rejects)

    def _count(self, chunk: Chunk, rejects: list[RejectRow]) -> None:
        summary = self.summary
        summary.batches += 1
        summary.records += chunk.records
        summary.rows_read = summary.records
        summary.loadable += chunk.records - len(rejects)
        summary.rejected += len(rejects)
        self.by_reason.update(r.reason for r in rejects)
        summary.rejects_by_reason = dict(sorted(self.by_reason.items()))
        self.progress.advance(len(chunk.body))

    @staticmethod
    def _write(writer: Any, prepared: Prepared, rejects: list[RejectRow]) -> None:
        """The report's rows: each reject with its record's fields as read."""
        if not rejects:
            return
        reader = prepared.reader
        raw = reader.raw(prepared.body, prepared.first_line)
        for r in rejects:
            data = raw.get(r.line_no, b"")
            writer.writerow([r.line_no, r.reason, r.detail, *_fields(reader, data, r.line_no)])


def _fields(reader: Reader, data: bytes, line_no: int) -> list[str]:
    """A record's fields as the reader reads them; its text as one field when it has none."""
    for _, fields in reader.records(data, line_no):
        if type(fields) is list:
            return fields
        break
    return [reader.printable(data)]
