"""Cut a stream into batches: byte slices that start and end on record boundaries.

Layout-independent: a splitter (``Splitter``) says on which physical lines records end; the
batcher packs those records into batches bounded in records and in bytes.

Where every line is a record of its own (a block without the quote byte, up to its first
blank line) the batcher does not split the block into lines: a batch is a slice of it, that
ends after its last record found by a regular expression over the lines (or after the last LF
within the batch's byte bound). Splitting a file into a million line objects and joining them
back was most of the producer's CPU per file; the batches are the same bytes either way.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, count
from operator import add
from typing import BinaryIO, Final, Protocol

from libs.errors import UserError
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
    """The batch being built: its body in pieces (whole physical lines with their LF; the
    last piece's last line lacks it at the end of unterminated data), its physical lines and
    its body's size in bytes."""

    start: Position
    pieces: list[bytes] = field(default_factory=list)
    lines: int = 0
    records: int = 0
    size: int = 0

    def cut(self) -> Chunk:
        body = b"".join(self.pieces)  # one piece (the usual case): that piece, not a copy
        pos = self.start
        end = Position(pos.seq + 1, pos.byte + len(body), pos.line + self.lines,
                       pos.rows + self.records)
        return Chunk(pos.seq, pos.line, end.line - 1, self.records, pos, end, body)


class _TooLong(Exception):
    """A physical line past the limit; ``data`` starts with it (its first ``limit + 1`` bytes
    at least). Its line number is the batcher's next line: every line before it was fed."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data


def _blocks(handle: BinaryIO, quote: bytes | None,
            limit: int) -> Iterator[tuple[bytearray, int, bool, bool]]:
    """(data, end, every line had an LF, no quote) for each block: the physical lines are
    ``data[:end]`` split on LF (without the last one's LF, which is at ``end`` when they all
    had one). No quote: ``quote`` is not in the block (never for ``quote`` None), so each of
    its lines that is not blank is a record of its own.

    ``data`` is one buffer, read into and reused by the next block (no new 4 MiB object per
    block, no copy to put the start of a line before the next block): what the batcher keeps
    of a block it copies out (:func:`_copy`).

    Memory is bounded: a physical line longer than ``limit`` bytes (its LF excluded) is never
    held whole, :class:`_TooLong` is raised as soon as it passes ``limit``, after the lines
    before it.
    """
    buf = bytearray(BLOCK)
    have = 0  # at the front of buf: the start of a line the blocks before did not end
    while True:
        if len(buf) < have + BLOCK:
            buf.extend(bytes(have + BLOCK - len(buf)))
        got = _read_into(handle, buf, have)
        if not got:
            break
        end = have + got
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            if end > limit:
                raise _TooLong(bytes(buf[: limit + 1]))
            have = end
            continue
        at = _first_too_long(buf, cut, end, limit)
        if at >= 0:
            if at:
                yield buf, at - 1, True, False  # the lines before it are read
            raise _TooLong(bytes(buf[at : at + limit + 1]))
        yield buf, cut, True, quote is not None and buf.find(quote, 0, cut) < 0
        have = end - cut - 1
        buf[:have] = buf[cut + 1 : end]
    if have:
        yield buf, have, False, False


def _read_into(handle: BinaryIO, buf: bytearray, at: int) -> int:
    """Up to BLOCK bytes of ``handle`` into ``buf`` from ``at``; 0 at the end."""
    read_into = getattr(handle, "readinto", None)  # a file; a decoding stream only reads
    if read_into is None:
        data = handle.read(BLOCK)
        buf[at : at + len(data)] = data
        return len(data)
    with memoryview(buf) as view:
        got: int = read_into(view[at : at + BLOCK])
    return got


def _copy(data: bytearray, start: int, stop: int) -> bytes:
    """``data[start:stop]`` as bytes, copied once."""
    with memoryview(data) as view:
        return bytes(view[start:stop])


def _first_too_long(data: bytearray, cut: int, end: int, limit: int) -> int:
    """Where the first physical line of ``data[:end]`` longer than ``limit`` starts (a line
    of ``data[:cut]``, else the unfinished one after the LF at ``cut``); -1 if none is."""
    if cut > limit:  # only then can a line before the cut be too long
        lines = data[:cut].split(b"\n")
        if max(map(len, lines)) > limit:
            index = next(i for i, text in enumerate(lines) if len(text) > limit)
            return sum(map(len, lines[:index])) + index
    return cut + 1 if end - cut - 1 > limit else -1


@lru_cache(maxsize=64)
def _records_upto(n: int) -> re.Pattern[bytes]:
    """Matches 1 to ``n`` whole lines (each with its LF) that are not blank (blank: empty, or
    only the CR of a CRLF), as many as there are before a blank one."""
    return re.compile(rb"(?:(?!\r\n).+\n){1,%d}" % n)


def too_long(data: bytes, line: int, limit: int) -> UserError:
    """The error for physical line ``line`` (``data``: at least its first ``limit + 1`` bytes).

    A lone CR in it (a CR not followed by LF) means CR-only line ends (classic Mac): whole
    records run together on one line. Else the line is simply beyond the record size limit.
    """
    data = data[: limit + 1]  # the same answer whatever the blocks
    if data.count(b"\r") > data.count(b"\r\n") + data.endswith(b"\r"):
        return UserError(cr_only(line))
    return UserError(f"line {line} is longer than {limit} bytes, the record limit "
                     "(max_record_bytes): a record that large is beyond it; is this a CSV file "
                     "with LF or CRLF line ends?")


def cr_only(line: int) -> str:
    """The message for CR-only line ends found on physical line ``line``."""
    return (f"line {line} holds a CR not followed by LF: the file has CR-only line ends "
            "(classic Mac); convert them to LF first, e.g. tr '\\r' '\\n' < in.csv > "
            "out.csv")


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

    @property
    def next_line(self) -> int:
        """The physical line the next block starts with."""
        return self.batch.start.line + self.batch.lines + len(self.pending)

    def block(self, data: bytearray, end: int, terminated: bool,
              no_quote: bool) -> Iterator[Chunk]:
        """The batches completed by the lines ``data[:end]`` (see :func:`_blocks`)."""
        start = 0
        if no_quote and not self.splitter.open and not self.pending:
            start = yield from self._add_plain(data, end + 1)
            if start > end:
                return
        lines = _copy(data, start, end).split(b"\n")
        ends: Sequence[int] = self.splitter.ends(lines, terminated)
        held = len(self.pending)
        if held:
            ends = [held + end for end in ends]
            lines = self.pending + lines
        yield from self._add(lines, ends, terminated)
        self.pending = lines[ends[-1] + 1 :] if ends else lines

    def flush(self) -> Iterator[Chunk]:
        """The batch being built, if it holds a record (the data stops here: a UserError)."""
        if self.batch.records:
            yield self._cut()

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
            # the LF of the part's last line, unless it is the unterminated end of the data
            batch.pieces.append(b"\n".join([*part, b""] if terminated or first + len(part) <= last
                                            else part))
            batch.lines += len(part)
            batch.size += size
            batch.records += take
            done += take
            first += len(part)
            if batch.records == self.batch_size:
                yield self._cut()

    def _add_plain(self, data: bytearray, end: int) -> Generator[Chunk, None, int]:
        """As :meth:`_add` for the whole lines ``data[:end]``, quote-free: each line a record
        up to the first blank one. Each batch's part is a slice, cut after its last record by
        count (the regular expression) or by bytes (the last LF within the room left). Returns
        where it stopped: ``end``, or the start of a blank line (the caller splits the rest)."""
        pos = 0
        while pos < end:
            batch = self.batch
            want = self.batch_size - batch.records
            match = _records_upto(want).match(data, pos, end)
            if match is None:
                return pos  # a blank line
            stop = match.end()
            room = self.batch_bytes - batch.size
            if stop - pos > room:
                # the records that fit: up to the last LF within the room left, if any
                last = data.rfind(b"\n", pos, min(pos + room, end)) if room > 0 else -1
                if last < 0 and batch.records:
                    yield self._cut()
                    continue
                # none fits an empty batch: the first record is a batch of its own
                stop = last + 1 if last >= 0 else data.index(b"\n", pos) + 1
                lines = data.count(b"\n", pos, stop)
            elif stop == end or data.startswith((b"\n", b"\r\n"), stop):
                lines = data.count(b"\n", pos, stop)  # maybe fewer than wanted
            else:
                lines = want
            batch.pieces.append(_copy(data, pos, stop))
            batch.lines += lines
            batch.records += lines
            batch.size += stop - pos
            pos = stop
            if batch.records == self.batch_size:
                yield self._cut()
        return pos

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
                splitter: Splitter, quote: bytes | None, max_line_bytes: int) -> Iterator[Chunk]:
    """Batches from ``start`` (the handle is positioned there), see :class:`Batcher`.

    The same file and settings always give the same batches, from the start or from any
    batch's end (resume depends on it), whatever the block boundaries. ``quote``: the byte
    whose absence from a block makes every line that is not blank a record of its own; None:
    always ask the splitter. A physical line longer than ``max_line_bytes`` is a
    UserError (see :func:`too_long`), raised after the batch of the records complete before
    it and before any batch holding it is made.
    """
    batcher = Batcher(start, batch_size, batch_bytes, splitter)
    try:
        for data, end, terminated, no_quote in _blocks(handle, quote, max_line_bytes):
            yield from batcher.block(data, end, terminated, no_quote)
    except _TooLong as long:
        line = batcher.next_line
        yield from batcher.flush()  # the records complete before that line: their batch
        raise too_long(long.data, line, max_line_bytes) from None
    except UserError:
        yield from batcher.flush()  # the records complete before that line: their batch
        raise
    yield from batcher.finish()
