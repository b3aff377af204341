"""Reading users' CSV files: fingerprint, header, and record boundaries on raw bytes.

Record boundaries follow RFC 4180: a record starts on a physical line and goes on over the next
lines while a quoted field is open; every ``"`` toggles the quoted state (a doubled quote toggles
twice). Lines end with LF or CRLF. A line that is empty apart from its line end is no record.
The producer and the consumer both split with :class:`RecordSplitter`, so they always agree.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from libs.errors import UserError

BOM: Final = b"\xef\xbb\xbf"
READ_CHUNK: Final = 1 << 20

BLANK: Final = 0
CONTINUES: Final = 1
COMPLETE: Final = 2


class RecordSplitter:
    """Feed it physical lines (with or without their line end); it says where records end."""

    __slots__ = ("_in_quotes", "_max_bytes", "_size")

    def __init__(self, max_record_bytes: int) -> None:
        self._in_quotes = False
        self._size = 0
        self._max_bytes = max_record_bytes

    @property
    def open(self) -> bool:
        """True while a record has started and not ended (an unterminated quoted field)."""
        return self._in_quotes

    def feed(self, line: bytes) -> int:
        """BLANK (no record), CONTINUES (the record goes on) or COMPLETE (the record ends here).

        A record larger than ``max_record_bytes`` is cut at the end of the current line, so an
        unterminated quote can never swallow the rest of a file.
        """
        if not self._in_quotes:
            if len(line) <= 2 and not line.strip(b"\r\n"):
                return BLANK
            if line.count(b'"') & 1:
                self._in_quotes = True
                self._size = len(line)
                return CONTINUES
            return COMPLETE
        self._size += len(line)
        if line.count(b'"') & 1 or self._size > self._max_bytes:
            self._in_quotes = False
            return COMPLETE
        return CONTINUES


@dataclass(frozen=True, slots=True)
class RawRecord:
    line_no: int
    data: bytes


def split_records(body: bytes, first_line: int, max_record_bytes: int) -> Iterator[RawRecord]:
    """The records of a slice of a file that starts at line ``first_line`` on a record boundary."""
    lines = body.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    splitter = RecordSplitter(max_record_bytes)
    start = -1
    for index, line in enumerate(lines):
        state = splitter.feed(line)
        if state == BLANK:
            continue
        if start < 0:
            start = index
        if state == COMPLETE:
            yield RawRecord(first_line + start, b"\n".join(lines[start : index + 1]))
            start = -1
    if start >= 0:
        yield RawRecord(first_line + start, b"\n".join(lines[start:]))


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes: a changed file is a new job."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]
    end_offset: int
    next_line: int


def read_header(handle: BinaryIO, max_record_bytes: int) -> Header:
    """Read the header record at line 1; raise UserError if there is none or it is unreadable."""
    splitter = RecordSplitter(max_record_bytes)
    parts: list[bytes] = []
    for line in handle:
        parts.append(line)
        state = splitter.feed(line.removeprefix(BOM) if len(parts) == 1 else line)
        if state == BLANK:
            raise UserError("line 1 is blank: the header must be the first line")
        if state == COMPLETE:
            break
    if not parts:
        raise UserError("the file is empty: expected a header line")
    raw = b"".join(parts)
    return Header(_parse_header(raw), len(raw), 1 + len(parts))


def _parse_header(raw: bytes) -> tuple[str, ...]:
    try:
        text = raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"the header (line 1) is not valid UTF-8: {exc.reason}") from exc
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) != 1:
        raise UserError("the header (line 1) is not one CSV record")
    columns = tuple(name.strip().lower() for name in rows[0])
    dupes = sorted({name for name in columns if columns.count(name) > 1})
    if dupes:
        raise UserError(f"the header names a column twice: {', '.join(dupes)}")
    return columns
