"""Cut a file into batches: byte slices that start and end on record boundaries."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate, count
from operator import add
from typing import BinaryIO, Final

from libs.constants import DEFAULT_BATCH_BYTES
from libs.csvfile import COMPLETE, RecordSplitter

BLOCK: Final = 4 << 20


@dataclass(frozen=True)
class Position:
    """A record boundary: the next batch's number, byte offset and line, and rows before it."""

    seq: int
    byte: int
    line: int
    rows: int


@dataclass(frozen=True)
class Chunk:
    seq: int
    first_line: int
    last_line: int
    records: int
    start: Position
    end: Position
    body: bytes


@dataclass
class _Batch:
    """The batch being built: physical lines without their LF, and its body's size in bytes."""

    start: Position
    lines: list[bytes] = field(default_factory=list)
    records: int = 0
    size: int = 0
    terminated: bool = True  # its last line has an LF

    def cut(self) -> Chunk:
        body = b"\n".join(self.lines) + (b"\n" if self.terminated else b"")
        pos = self.start
        end = Position(pos.seq + 1, pos.byte + len(body), pos.line + len(self.lines),
                       pos.rows + self.records)
        return Chunk(pos.seq, pos.line, end.line - 1, self.records, pos, end, body)


def _blocks(handle: BinaryIO) -> Iterator[tuple[list[bytes], bool, bool]]:
    """(lines without LF, every line had an LF, no quote and no blank line in the block)."""
    carry = b""
    while block := handle.read(BLOCK):
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        lines = data[:cut].split(b"\n")
        yield lines, True, data.find(b'"', 0, cut) < 0 and b"" not in lines and b"\r" not in lines
    if carry:
        yield [carry], False, False


class _Batcher:
    """Batches of at most ``batch_size`` records and ``batch_bytes`` bytes, in file order.

    A batch ends before the record that would take it past ``batch_bytes``; a record larger
    than that is a batch of its own. Blank lines travel with the record after them; blank
    lines after the last record belong to no batch.
    """

    def __init__(self, start: Position, batch_size: int, batch_bytes: int,
                 max_record_bytes: int) -> None:
        self.batch = _Batch(start)
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.splitter = RecordSplitter(max_record_bytes)
        self.pending: list[bytes] = []  # blank lines and the lines of an unfinished record
        self.pending_size = 0

    def block(self, lines: list[bytes], terminated: bool, plain: bool) -> Iterator[Chunk]:
        if plain and not self.splitter.open:
            if self.pending:  # blank lines before this block's first record
                yield from self._lines(lines[:1], True)
                lines = lines[1:]
            yield from self._plain(lines)
        else:
            yield from self._lines(lines, terminated)

    def finish(self) -> Iterator[Chunk]:
        if self.splitter.open:  # the file ends inside a quoted field: that record still counts
            yield from self._record(True)
        if self.batch.records:
            yield self._cut()

    def _lines(self, lines: list[bytes], terminated: bool) -> Iterator[Chunk]:
        feed, pending = self.splitter.feed, self.pending
        last = len(lines) - 1
        for index, line in enumerate(lines):
            ended = terminated or index < last
            pending.append(line)
            self.pending_size += len(line) + ended
            if feed(line, ended) == COMPLETE:
                yield from self._record(ended)
                pending = self.pending

    def _record(self, ended: bool) -> Iterator[Chunk]:
        """The pending lines end a record: add it to this batch or start the next one."""
        if self.batch.records and self.batch.size + self.pending_size > self.batch_bytes:
            yield self._cut()
        batch = self.batch
        batch.lines += self.pending
        batch.size += self.pending_size
        batch.records += 1
        batch.terminated = ended
        self.pending, self.pending_size = [], 0
        if batch.records == self.batch_size:
            yield self._cut()

    def _plain(self, lines: list[bytes]) -> Iterator[Chunk]:
        """Lines that are one record each, all with an LF: cut by slicing."""
        ends = list(map(add, accumulate(map(len, lines)), count(1)))  # bytes up to line i's end
        i, n = 0, len(lines)
        while i < n:
            batch = self.batch
            base = ends[i - 1] if i else 0
            stop = bisect_right(ends, base + self.batch_bytes - batch.size, i,
                                min(n, i + self.batch_size - batch.records))
            if stop == i:  # line i does not fit
                if batch.records:
                    yield self._cut()
                    continue
                stop = i + 1  # larger than batch_bytes on its own: a batch of its own
            batch.lines += lines[i:stop]
            batch.size += ends[stop - 1] - base
            batch.records += stop - i
            batch.terminated = True
            i = stop
            if batch.records == self.batch_size:
                yield self._cut()

    def _cut(self) -> Chunk:
        chunk = self.batch.cut()
        self.batch = _Batch(chunk.end)
        return chunk


def iter_chunks(handle: BinaryIO, start: Position, batch_size: int, max_record_bytes: int,
                batch_bytes: int = DEFAULT_BATCH_BYTES) -> Iterator[Chunk]:
    """Batches from ``start`` (the handle is positioned there), see :class:`_Batcher`.

    The same file and settings always give the same batches, from the start or from any
    batch's end (resume depends on it), whatever the block boundaries.
    """
    batcher = _Batcher(start, batch_size, batch_bytes, max_record_bytes)
    for lines, terminated, plain in _blocks(handle):
        yield from batcher.block(lines, terminated, plain)
    yield from batcher.finish()
