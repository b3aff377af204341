"""Cut a file into batches: byte slices that start and end on record boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

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
    """The batch being built: physical lines without their LF."""

    start: Position
    lines: list[bytes] = field(default_factory=list)
    records: int = 0

    def cut(self, terminated: bool) -> Chunk:
        body = b"\n".join(self.lines) + (b"\n" if terminated else b"")
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


def iter_chunks(handle: BinaryIO, start: Position, batch_size: int,
                max_record_bytes: int) -> Iterator[Chunk]:
    """Batches of ``batch_size`` records from ``start`` (the handle is positioned there).

    The same file and batch size always give the same batches. Blank lines travel with the
    batch they stand in; trailing blank lines after the last record form no batch.
    """
    splitter = RecordSplitter(max_record_bytes)
    feed = splitter.feed
    batch = _Batch(start)
    terminated = True
    for lines, terminated, plain in _blocks(handle):
        if plain and not splitter.open:  # one record per line: cut by slicing
            i = 0
            while i < len(lines):
                take = min(batch_size - batch.records, len(lines) - i)
                batch.lines.extend(lines[i : i + take])
                batch.records += take
                i += take
                if batch.records == batch_size:
                    chunk = batch.cut(terminated)
                    yield chunk
                    batch = _Batch(chunk.end)
            continue
        for line in lines:
            batch.lines.append(line)
            if feed(line) == COMPLETE:
                batch.records += 1
                if batch.records == batch_size:
                    chunk = batch.cut(terminated)
                    yield chunk
                    batch = _Batch(chunk.end)
    if splitter.open:  # the file ends inside a quoted field: that record still counts
        batch.records += 1
    if batch.records:
        yield batch.cut(terminated)
