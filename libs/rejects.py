"""The failures dataset: a job's rejects exported in line order, exact (``ingest rejects``, the
HTTP API's ``/v1/jobs/{id}/rejects``).

Each reject's record comes out as it was in the file: ``ingest_rejects.raw_bytes`` where the
text alone is not exact, else ``raw`` encoded in the job's encoding; a record whose text was
rebuilt from a row (a displaced duplicate, a reject of an atomic job's apply: its detail ends
with ``libs.load.prepared.REBUILT``) is read from the job's source file
(``libs.rejects_source``) when it is still there and unchanged, else exported as rebuilt, and
its ``_detail`` says so. The forms are in ``libs.rejects_forms``. The rejects are read with a
server-side cursor inside a read-only transaction: memory stays constant whatever their
number; the output comes in pieces of about ``PIECE`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import asyncpg

from libs.db import Conn
from libs.errors import UserError
from libs.formats import Reader, reader_for
from libs.formats.encodings import codec_name
from libs.formats.jsonl import JsonlReader
from libs.load.prepared import REBUILT, rebuilt
from libs.rejects_forms import AlignedCsv, DelimitedCsv, Exported, FieldsCsv, Form, Jsonl
from libs.rejects_source import SourceLines
from libs.schema.model import Dataset, Table

FORMATS: Final = ("csv", "jsonl")
PIECE: Final = 64 << 10
PREFETCH: Final = 1000
_JOB: Final = """
SELECT j.columns, j.header_names, j.source_path, j.source_digest,
       d.descriptor::text AS descriptor
FROM ingest_jobs j LEFT JOIN ingest_datasets d ON d.fingerprint = j.fingerprint
WHERE j.job_id = $1
"""
_REJECTS: Final = ("SELECT line_no, reason, detail, raw, raw_bytes FROM ingest_rejects "
                   "WHERE job_id = $1 ORDER BY line_no")
_REBUILT: Final = ("SELECT EXISTS (SELECT 1 FROM ingest_rejects WHERE job_id = $1 AND "
                   "raw_bytes IS NULL AND (right(detail, $2) = $3 OR right(detail, $4) = $5))")
_WIDTHS: Final = ("SELECT max(length(line_no::text)), max(length(reason)), "
                  "max(length(detail)) FROM ingest_rejects WHERE job_id = $1")
UNAVAILABLE: Final = "; the file's record is not available: "


@dataclass(frozen=True)
class JobFile:
    """What the export needs of a job: its reader (layout, dialect, encoding as registered),
    its header as the batches carried it (``columns``) and as the file spelled it
    (``header``: ``ingest_jobs.header_names``, else ``columns``), and its source file."""

    job_id: str
    reader: Reader
    columns: tuple[str, ...]
    header: tuple[str, ...]
    source: SourceLines


async def export(conn: Conn, job_id: str, fmt: Literal["csv", "jsonl"], *,
                 source: Path | None = None) -> AsyncIterator[bytes]:
    """The rejects of ``job_id`` in ``fmt`` (``csv``: the job's own layout, dialect and
    encoding, a JSON Lines job's fields as CSV; ``jsonl``: UTF-8 JSON lines; see
    ``libs.rejects_forms``), in line order, as
    pieces of bytes. ``source``: the job's file, where ``ingest_jobs.source_path`` is not
    (it is used only if its sha256 is the job's ``source_digest``).

    UserError (raised by the first ``__anext__``, before any output) for an unknown job or
    format. Runs its queries in one read-only REPEATABLE READ transaction on ``conn`` (one
    snapshot: rejects committed meanwhile by a job still loading are not half in it; inside
    a caller's transaction, a savepoint of that one); asyncpg's errors propagate (the caller
    translates them).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown rejects format {fmt!r}: use csv or jsonl")
    isolation: Literal["repeatable_read"] | None = (
        None if conn.is_in_transaction() else "repeatable_read")
    async with conn.transaction(isolation=isolation, readonly=True):
        job = await job_file(conn, job_id, source)
        try:
            if await conn.fetchval(_REBUILT, job_id, *_markers()):
                await job.source.get(0)  # check the file now: its note has a known length
            form = await _form(conn, job, fmt)
            buffer = bytearray(form.head())
            async for rec in conn.cursor(_REJECTS, job_id, prefetch=PREFETCH):
                buffer += form.row(await _exported(rec, job))
                if len(buffer) >= PIECE:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)
        finally:
            job.source.close()


def _markers() -> list[object]:
    args: list[object] = []
    for marker in REBUILT:
        args += [len(marker), marker]
    return args


# The IANA charset (RFC 2978) of each supported codec, as the CSV export writes it.
CHARSETS: Final = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "iso-8859-1",
                   "cp1252": "windows-1252", "utf-16": "utf-16", "utf-16-le": "utf-16le",
                   "utf-16-be": "utf-16be"}


async def charset(conn: Conn, job_id: str, fmt: Literal["csv", "jsonl"]) -> str:
    """The charset of ``export``'s bytes, for a Content-Type: the job's encoding for CSV (the
    file's own), utf-8 for JSON lines. UserError for an unknown job."""
    if fmt == "jsonl":
        return "utf-8"
    job = await job_file(conn, job_id)
    return CHARSETS.get(codec_name(job.reader.dataset.encoding), "utf-8")


async def job_file(conn: Conn, job_id: str, source: Path | None = None) -> JobFile:
    """The job's reader, header and source file; UserError for an unknown job."""
    row = await conn.fetchrow(_JOB, job_id)
    if row is None:
        raise UserError(f"no job {job_id} in ingest_jobs")
    dataset = _dataset(row["descriptor"])
    path = source if source is not None else (
        Path(row["source_path"]) if row["source_path"] else None)
    reader = reader_for(dataset)
    columns = tuple(row["columns"] or ())
    return JobFile(job_id, reader, columns, tuple(row["header_names"] or columns),
                   SourceLines(job_id, path, row["source_digest"], reader))


def _dataset(descriptor: str | None) -> Dataset:
    """The job's registered dataset; the default dialect (UTF-8, ``,``) for a job of a
    version that registered none."""
    if descriptor is None:
        return Dataset("csv", Table("csv"), ())
    return Dataset.from_descriptor(json.loads(descriptor), "ingest_datasets")


async def _form(conn: Conn, job: JobFile, fmt: str) -> Form:
    if fmt == "jsonl":
        return Jsonl(job.reader, job.columns)
    if isinstance(job.reader, JsonlReader):
        return FieldsCsv(job.columns, job.reader.values)
    if job.reader.dataset.layout == "parquet":  # a record's raw text is its JSON object
        from libs.formats.parquet_text import record_fields

        return FieldsCsv(job.columns, record_fields)
    if job.reader.dataset.layout != "aligned":
        return DelimitedCsv(job.reader, job.header)
    row = await conn.fetchrow(_WIDTHS, job.job_id)
    assert row is not None  # an aggregate
    note = len(UNAVAILABLE) + len(job.source.why or "")
    return AlignedCsv(job.reader, job.columns,
                      (row[0] or 0, row[1] or 0, (row[2] or 0) + note))


async def _exported(rec: asyncpg.Record, job: JobFile) -> Exported:
    """A reject with its record's bytes (see the module)."""
    line, reason = int(rec["line_no"]), str(rec["reason"])
    detail, text = rec["detail"] or "", rec["raw"] or ""
    wire = job.reader.wire_encoding
    if rec["raw_bytes"] is not None:
        return Exported(line, reason, detail, text, bytes(rec["raw_bytes"]), True)
    if not rebuilt(detail):
        return Exported(line, reason, detail, text, text.encode(wire, "replace"), True)
    data = await job.source.get(line)
    if data is None:
        why = job.source.why or f"line {line} of the source file starts no record"
        return Exported(line, reason, detail + UNAVAILABLE + why, text,
                        text.encode(wire, "replace"), False)
    bare = next(detail[: -len(m)] for m in REBUILT if detail.endswith(m))
    return Exported(line, reason, bare, job.reader.printable(data), data, True)
