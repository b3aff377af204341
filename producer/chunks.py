"""Cut a file into batches: byte slices that start and end on record boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from libs.csvfile import COMPLETE, RecordSplitter


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


def iter_chunks(handle: BinaryIO, start: Position, batch_size: int,
                max_record_bytes: int) -> Iterator[Chunk]:
    """Batches of ``batch_size`` records from ``start`` (the handle is positioned there).

    The same file and batch size always give the same batches. Blank lines travel with the
    batch they stand in; trailing blank lines after the last record form no batch.
    """
    splitter = RecordSplitter(max_record_bytes)
    feed = splitter.feed
    lines: list[bytes] = []
    records = 0
    pos = start
    for line in handle:
        lines.append(line)
        if feed(line) == COMPLETE:
            records += 1
            if records == batch_size:
                chunk = _make(pos, lines, records)
                yield chunk
                pos, lines, records = chunk.end, [], 0
    if splitter.open:  # the file ends inside a quoted field: that record still counts
        records += 1
    if records:
        yield _make(pos, lines, records)


def _make(pos: Position, lines: list[bytes], records: int) -> Chunk:
    body = b"".join(lines)
    end = Position(pos.seq + 1, pos.byte + len(body), pos.line + len(lines), pos.rows + records)
    return Chunk(pos.seq, pos.line, end.line - 1, records, pos, end, body)
