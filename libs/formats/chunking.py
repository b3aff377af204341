"""Cut a stream into batches: byte slices that start and end on record boundaries.

Layout-independent: a splitter (``Splitter``) says on which physical lines records end; the
batcher packs those records into batches bounded in records and in bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, count
from operator import add
from typing import BinaryIO, Final, Protocol

from libs.formats.base import Chunk, Position

BLOCK: Final = 4 << 20


class Splitter(Protocol):
    """Where records end, fed physical lines without their LF, in file order."""

    @property
    def open(self) -> bool:
        """True while a record has started and not ended."""
        ...

    def ends(self, lines: list[bytes], terminated: bool = True) -> list[int]:
        """The indices of ``lines`` on which records end (``terminated`` False: the last
        line has no LF, it is the end of the data)."""
        ...


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


def _blocks(handle: BinaryIO, quote: bytes | None) -> Iterator[tuple[list[bytes], bool, bool]]:
    """(lines without LF, every line had an LF, one record per line: no ``quote`` and no blank
    line in the block; never for ``quote`` None)."""
    carry = b""
    while block := handle.read(BLOCK):
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        lines = data[:cut].split(b"\n")
        yield lines, True, (quote is not None and data.find(quote, 0, cut) < 0
                            and b"" not in lines and b"\r" not in lines)
    if carry:
        yield [carry], False, False


class Batcher:
    """Batches of at most ``batch_size`` records and ``batch_bytes`` bytes, in file order.

    A batch ends before the record that would take it past ``batch_bytes``; a record larger
    than that is a batch of its own. Blank lines travel with the record after them; blank
    lines after the last record belong to no batch.
    """

    def __init__(self, start: Position, batch_size: int, batch_bytes: int,
                 splitter: Splitter) -> None:
        self.batch = _Batch(start)
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.splitter = splitter
        self.pending: list[bytes] = []  # lines after the last record's end (not in a batch)

    def block(self, lines: list[bytes], terminated: bool, plain: bool) -> Iterator[Chunk]:
        held = len(self.pending)
        ends: Sequence[int]
        if plain and not self.splitter.open:  # one record per line
            ends = range(held, held + len(lines))
        else:
            ends = self.splitter.ends(lines, terminated)
            if held:
                ends = [held + end for end in ends]
        if held:
            lines = self.pending + lines
        yield from self._add(lines, ends, terminated)
        self.pending = lines[ends[-1] + 1 :] if ends else lines

    def finish(self) -> Iterator[Chunk]:
        if self.splitter.open:  # the file ends inside a quoted field: that record still counts
            yield from self._add(self.pending, [len(self.pending) - 1], True)
        if self.batch.records:
            yield self._cut()

    def _add(self, lines: list[bytes], ends: Sequence[int], terminated: bool) -> Iterator[Chunk]:
        """Put the records that end on lines ``ends`` into batches, cutting by count and size.

        Only the last of ``lines`` may lack its LF (``terminated`` False).
        """
        done, first, last = 0, 0, len(lines) - 1
        while done < len(ends):
            batch = self.batch
            take = min(len(ends) - done, self.batch_size - batch.records)
            part = lines[first : ends[done + take - 1] + 1]
            size = sum(map(len, part)) + len(part) - (not terminated and first + len(part) > last)
            if batch.size + size > self.batch_bytes:
                take, size = _fitting(part, [end - first for end in ends[done : done + take]],
                                      self.batch_bytes - batch.size, size)
                if not take and batch.records:
                    yield self._cut()
                    continue
                take = take or 1  # larger than batch_bytes on its own: a batch of its own
                part = part[: ends[done + take - 1] + 1 - first]
            batch.lines += part
            batch.size += size
            batch.records += take
            batch.terminated = terminated or first + len(part) <= last
            done += take
            first += len(part)
            if batch.records == self.batch_size:
                yield self._cut()

    def _cut(self) -> Chunk:
        chunk = self.batch.cut()
        self.batch = _Batch(chunk.end)
        return chunk


def _fitting(part: list[bytes], ends: list[int], room: int, total: int) -> tuple[int, int]:
    """(records that fit in ``room`` bytes, their size) of ``part``, whose records end on its
    lines ``ends``; ``total`` is the size of all of ``part`` (its last line may lack an LF).
    With none fitting: (0, the first record's size)."""
    sizes = list(map(add, accumulate(map(len, part)), count(1)))
    sizes[-1] = total
    fit = bisect_right([sizes[end] for end in ends], room)
    return fit, sizes[ends[max(fit, 1) - 1]]


def iter_chunks(handle: BinaryIO, start: Position, batch_size: int, batch_bytes: int,
                splitter: Splitter, quote: bytes | None) -> Iterator[Chunk]:
    """Batches from ``start`` (the handle is positioned there), see :class:`Batcher`.

    The same file and settings always give the same batches, from the start or from any
    batch's end (resume depends on it), whatever the block boundaries. ``quote``: the byte
    whose absence from a block (with no blank line) makes every line a record of its own;
    None: always ask the splitter.
    """
    batcher = Batcher(start, batch_size, batch_bytes, splitter)
    for lines, terminated, plain in _blocks(handle, quote):
        yield from batcher.block(lines, terminated, plain)
    yield from batcher.finish()
