"""A job's source file read back for the rejects export: the records whose bytes no reject kept.

A displaced duplicate (insert mode) or a reject of an atomic job's apply was written with its
text rebuilt from a row (``libs.load.prepared.REBUILT``): its bytes were in another batch. The
export takes them from the job's file when that file is still there and is the job's file (its
sha256 is ``ingest_jobs.source_digest``): the file is hashed once, then read once, sequentially,
with the dataset's reader (``libs.formats``), in step with the rejects (both in line order), so
memory holds one batch of the file whatever its size. A gzip or zstd file (known by its magic
bytes) is decompressed as it is read (``libs.formats.compression``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

import structlog

from libs.csvfile import fingerprint
from libs.errors import UserError
from libs.formats import Reader
from libs.formats.base import Chunk, Position
from libs.formats.compression import ZSTD_MAGIC, decompressed, sniff

log = structlog.get_logger(__name__)
BATCH_RECORDS: Final = 5000
BATCH_BYTES: Final = 8 << 20


class SourceLines:
    """The file's records by line, asked for in increasing line order (see the module).

    ``get(line)`` is the record's bytes as the reader splits them (without its line end; for
    a UTF-16 file, its UTF-8 transcoding), or None: the line starts no record, or the file is
    unavailable (``why`` says why, logged once as a warning).
    """

    def __init__(self, job_id: str, path: Path | None, digest: str | None,
                 reader: Reader) -> None:
        self.job_id, self.path, self.digest, self.reader = job_id, path, digest, reader
        self.why: str | None = None
        self._handle: BinaryIO | None = None
        self._chunks: Iterator[Chunk] | None = None
        self._records: dict[int, bytes] = {}
        self._last = 0  # the last line of the batch in hand

    async def get(self, line: int) -> bytes | None:
        if self._chunks is None and self.why is None:
            await self._open()
        while self._chunks is not None and line > self._last:
            chunk = await asyncio.to_thread(_next, self._chunks)
            if chunk is None:
                self._chunks = None
                break
            self._records = self.reader.raw(chunk.body, chunk.first_line)
            self._last = chunk.last_line
        return self._records.get(line)

    async def _open(self) -> None:
        self.why = await asyncio.to_thread(self._check)
        if self.why is not None:
            log.warning("the job's source file is unavailable: rebuilt records are exported "
                        "as rebuilt, not as in the file", job_id=self.job_id, why=self.why)
            return
        assert self.path is not None
        raw = self.path.open("rb")
        kind = sniff(raw.read(len(ZSTD_MAGIC)))
        raw.seek(0)
        self._handle = handle = decompressed(raw, kind, str(self.path))
        try:
            header = self.reader.read_header(handle)
        except UserError as exc:  # the file hashed as the job's: cannot happen but by a race
            self.why = f"{self.path}: {exc}"
            return
        start = Position(0, header.end_offset, header.next_line, 0)
        handle.seek(start.byte)
        self._chunks = self.reader.iter_chunks(handle, start, BATCH_RECORDS, BATCH_BYTES)

    def _check(self) -> str | None:
        """Why the file cannot be used, or None."""
        if self.path is None:
            return "the job records no source file (pass --source FILE)"
        if not self.path.is_file():
            return f"source file {self.path} not found"
        if self.digest is None:
            return f"the job records no digest to check {self.path} against"
        try:
            if fingerprint(self.path) != self.digest:
                return f"{self.path} is not the job's file (its sha256 differs)"
        except OSError as exc:
            return f"source file {self.path} cannot be read: {exc.strerror}"
        return None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _next(chunks: Iterator[Chunk]) -> Chunk | None:
    """The next batch, or None at the end (or where the file stops being readable: a line
    past the record limit stopped the job there too)."""
    try:
        return next(chunks, None)
    except UserError:
        return None
