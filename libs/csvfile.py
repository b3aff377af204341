"""Reading users' CSV files: fingerprint, header, record boundaries and fields.

The record syntax, defined here once (the producer's splitter and the consumer's field parser
are both built from the patterns below, so they agree on every record boundary):

- Delimiter ``,``, quote ``"``. Lines end with LF or CRLF; a line empty apart from its line end
  is no record. A lone CR (not followed by LF) is data, also at the end of the data.
- A quote opens a quoted field only as the first character of a field; anywhere else it is a
  literal character (``Wilson"s Mills``).
- In a quoted field ``""`` is one quote and LF / CRLF are data. A ``"`` followed by ``,``, by
  the line end or by the end of the data closes the field; followed by anything else it is
  malformed: the record ends at the end of that physical line (the rest of the line is read as
  unquoted text) and is rejected ``malformed_csv``.
- A quoted field that never closes ends its record at the end of its MAX_RECORD_LINES-th
  physical line, at the first line end past ``max_record_bytes``, or at the end of the data
  (the batch or the file); that record is rejected ``malformed_csv`` too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from libs.constants import MAX_HEADER_BYTES, MAX_RECORD_LINES
from libs.errors import UserError

BOM: Final = b"\xef\xbb\xbf"
READ_CHUNK: Final = 1 << 20

BLANK: Final = 0
CONTINUES: Final = 1
COMPLETE: Final = 2

# The grammar, as pattern text compiled for bytes (splitter) and for str (parser).
_IN_QUOTES: Final = r'(?:[^"]|"")*+'  # the inside of a quoted field: "" is one quote
_QUOTED: Final = r'"' + _IN_QUOTES + r'"'
_PLAIN: Final = r'(?:[^",][^,]*+)?'  # an unquoted field: no quote in its first character
_FIELD: Final = rf"(?:{_QUOTED}|{_PLAIN})"
# The rest of a physical line from a field start; ``open``: it ends inside a quoted field.
_FROM_FIELD: Final = rf'(?:{_FIELD},)*+(?:(?P<open>"{_IN_QUOTES})|{_FIELD})'
_LINE_AT_START: Final = re.compile(_FROM_FIELD.encode())
# A physical line that begins inside a quoted field; ``close``: that field closes on it.
_LINE_IN_QUOTES: Final = re.compile(rf'{_IN_QUOTES}(?P<close>"(?:,{_FROM_FIELD})?)?'.encode())
_RECORD: Final = re.compile(rf"{_FIELD}(?:,{_FIELD})*+")
_FIELDS: Final = re.compile(rf',(?:"({_IN_QUOTES})"|([^,]*+))')  # over "," + a valid record
_QUOTED_AT: Final = re.compile(rf'"{_IN_QUOTES}(")?')


class RecordSplitter:
    """Feed it physical lines without their LF; it says where records end (see the module)."""

    __slots__ = ("_lines", "_max_bytes", "_open", "_size")

    def __init__(self, max_record_bytes: int) -> None:
        self._open = False
        self._lines = 0
        self._size = 0
        self._max_bytes = max_record_bytes

    @property
    def open(self) -> bool:
        """True while a record has started and not ended (inside a quoted field)."""
        return self._open

    def feed(self, line: bytes, terminated: bool = True) -> int:
        """BLANK (no record), CONTINUES (the record goes on) or COMPLETE (it ends here).

        ``terminated`` is False only for a last line without LF: the end of the data.
        """
        if self._open:
            return self._inside(line, terminated)
        if b'"' not in line:
            return BLANK if terminated and (not line or line == b"\r") else COMPLETE
        if not terminated:
            return COMPLETE
        match = _LINE_AT_START.fullmatch(line, 0, len(line) - (line[-1] == 13))
        if match is None or match["open"] is None:  # complete, or malformed: ends here
            return COMPLETE
        self._open, self._lines, self._size = True, 1, len(line) + 1
        return self._bounded()

    def ends(self, lines: list[bytes], terminated: bool = True) -> list[int]:
        """The indices of ``lines`` (physical lines without their LF) on which records end.

        Lines before an end and after the previous one are that record's, or blank lines.
        ``terminated`` is False when the last line has no LF (the end of the data).
        """
        found: list[int] = []
        feed = self.feed
        last = -1 if terminated else len(lines) - 1
        for index, line in enumerate(lines):
            if self._open or b'"' in line or index == last:
                if feed(line, index != last) == COMPLETE:
                    found.append(index)
            elif line and line != b"\r":  # quote-free, not blank: a record of its own
                found.append(index)
        return found

    def _inside(self, line: bytes, terminated: bool) -> int:
        self._lines += 1
        self._size += len(line) + 1
        if not terminated:
            self._open = False
            return COMPLETE
        if b'"' in line:
            match = _LINE_IN_QUOTES.fullmatch(line, 0, len(line) - (line[-1] == 13))
            if match is None or (match["close"] is not None and match["open"] is None):
                self._open = False
                return COMPLETE
        return self._bounded()

    def _bounded(self) -> int:
        if self._lines >= MAX_RECORD_LINES or self._size > self._max_bytes:
            self._open = False
            return COMPLETE
        return CONTINUES


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record's bytes from its first line, without the line end of its last line."""

    line_no: int
    data: bytes


def split_records(body: bytes, first_line: int, max_record_bytes: int) -> Iterator[RawRecord]:
    """The records of a slice of a file that starts at line ``first_line`` on a record boundary."""
    lines = body.split(b"\n")
    terminated = not lines[-1]
    if terminated:
        lines.pop()
    splitter = RecordSplitter(max_record_bytes)
    start, last = 0, len(lines) - 1
    for end in splitter.ends(lines, terminated):
        while start < end and (not lines[start] or lines[start] == b"\r"):
            start += 1  # blank lines before the record
        yield RawRecord(first_line + start, _join(lines, start, end, terminated or end < last))
        start = end + 1
    if splitter.open:  # the data ends inside a quoted field: that is the last record
        while not lines[start] or lines[start] == b"\r":
            start += 1
        yield RawRecord(first_line + start, _join(lines, start, last, True))


def _join(lines: list[bytes], start: int, end: int, terminated: bool) -> bytes:
    """Lines ``start`` to ``end`` (inclusive) without the line end of the last one."""
    data = lines[start] if start == end else b"\n".join(lines[start : end + 1])
    return data[:-1] if terminated and data[-1:] == b"\r" else data


class MalformedRecord(ValueError):
    """A record that breaks the quoting rules; the message says where (the reject's detail)."""


def parse_fields(text: str, line_no: int) -> list[str]:
    """The fields of one record (text without its line end) that starts on line ``line_no``.

    Raise MalformedRecord for a quote closed before something other than ``,`` or the end, or
    a quoted field that is not closed.
    """
    if '"' not in text:
        return text.split(",")
    if _RECORD.fullmatch(text) is None:
        raise MalformedRecord(_where_malformed(text, line_no))
    return [quoted.replace('""', '"') if quoted else plain
            for quoted, plain in _FIELDS.findall("," + text)]


def _where_malformed(text: str, line_no: int) -> str:
    """The detail for a record that ``_RECORD`` does not match: the first fault, located."""
    pos, number = 0, 1
    while True:
        if text.startswith('"', pos):
            match = _QUOTED_AT.match(text, pos)
            assert match is not None  # the pattern matches any text from a quote
            end = match.end()
            if match[1] is None:
                return (f"quoted field opened on line {_line_of(text, pos, line_no)} "
                        f"(field {number}) is not closed by line {_line_of(text, end, line_no)}")
            if end < len(text) and text[end] != ",":
                line = _line_of(text, end - 1, line_no)
                column = end - text.rfind("\n", 0, end - 1) - 1
                return (f"field {number}: closing quote at line {line}, column {column} is "
                        f"followed by {text[end]!r} (a quote inside a quoted field must be "
                        "doubled)")
        else:
            end = text.find(",", pos)
        if end < 0 or end >= len(text):
            return "the record is not valid CSV"  # unreachable for text _RECORD rejects
        pos, number = end + 1, number + 1


def _line_of(text: str, pos: int, line_no: int) -> int:
    return line_no + text.count("\n", 0, pos)


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes: a changed file is a new job."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Header:
    """The header as read: names trimmed and lowercased, empty names kept in their places."""

    columns: tuple[str, ...]
    end_offset: int
    next_line: int


CR_ONLY: Final = ("line 1 holds a CR not followed by LF: the file has CR-only line ends "
                  "(classic Mac); convert them to LF first, e.g. tr '\\r' '\\n' < in.csv > "
                  "out.csv")


def read_header(handle: BinaryIO, limit: int = MAX_HEADER_BYTES) -> Header:
    """Read the header record at line 1, holding at most ``limit`` bytes of it in memory
    (before its line end).

    Raise UserError if there is none, it is blank, longer than ``limit`` bytes, not UTF-8,
    not valid CSV, or its line holds a CR that is not part of a CRLF (CR-only line ends).
    """
    raw, state, too_long = _header_bytes(handle, limit)
    if raw.replace(b"\r\n", b"").find(b"\r") >= 0:
        raise UserError(CR_ONLY)
    if not raw:
        raise UserError("the file is empty: expected a header line")
    if too_long:
        raise UserError(f"the header (line 1) is longer than {limit} bytes: is this a CSV file?")
    if state == BLANK:
        raise UserError("line 1 is blank: the header must be the first line")
    return Header(_parse_header(raw), len(raw), 1 + raw.count(b"\n") + (not raw.endswith(b"\n")))


def _header_bytes(handle: BinaryIO, limit: int) -> tuple[bytes, int, bool]:
    """(the header record's bytes, the splitter's last state, True if it goes on past
    ``limit`` bytes before its line end); never reads more than ``limit + 1`` bytes."""
    splitter = RecordSplitter(limit + 1)
    parts: list[bytes] = []
    size, state = 0, CONTINUES
    while state == CONTINUES:
        room = limit + 1 - size  # the record's bytes so far, its last LF included
        line = handle.readline(room) if room > 0 else b""
        if room <= 0 or (len(line) == room and not line.endswith(b"\n")):
            return b"".join((*parts, line)), state, True
        if not line:
            break
        parts.append(line)
        size += len(line)
        content = line.removesuffix(b"\n")
        state = splitter.feed(content.removeprefix(BOM) if len(parts) == 1 else content,
                              line.endswith(b"\n"))
    return b"".join(parts), state, False


def _parse_header(raw: bytes) -> tuple[str, ...]:
    try:
        text = raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"the header (line 1) is not valid UTF-8: {exc.reason}") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        names = parse_fields(text, 1)
    except MalformedRecord as exc:
        raise UserError(f"the header (line 1) is not valid CSV: {exc}") from exc
    return tuple(name.strip().lower() for name in names)
