"""Delimited text (CSV and its dialects): the record syntax, defined here once.

The producer's splitter and the consumer's field parser are both built from the patterns of
one ``Syntax`` (delimiter D, quote Q, optional escape E), so they agree on every record
boundary. (The vector path's split reads one-line quoted records with Python's csv module
instead, where tests show it reads them as ``Syntax.parse_fields`` does: ``csvbulk``.) With
the default dialect (D ``,``, Q ``"``, no E) this is issue 10's syntax:

- Lines end with LF or CRLF; a line empty apart from its line end is no record, and so is a
  line made only of a CR at the end of the data (a CRLF cut short). Any other lone CR (not
  followed by LF) is data. A physical line longer than ``max_record_bytes`` is refused (a
  UserError, see ``chunking.too_long``: CR-only line ends, or beyond the limit).
- Q opens a quoted field only as the first character of a field; anywhere else it is a
  literal character (``Wilson"s Mills``).
- In a quoted field QQ is one Q and LF / CRLF are data. A Q followed by D, by the line end or
  by the end of the data closes the field; followed by anything else it is malformed: the
  record ends at the end of that physical line (the rest of the line is read as unquoted text)
  and is rejected ``malformed_csv``.
- A quoted field that never closes ends its record at the end of its MAX_RECORD_LINES-th
  physical line, at the first line end past ``max_record_bytes``, or at the end of the data
  (the batch or the file); that record is rejected ``malformed_csv`` too, its detail says
  on which line the quote opened and which lines the record covers (``a-b``).
- With an escape character E (MySQL style, ``\\``): inside a quoted field E followed by any
  character keeps that character from ending or closing anything; EQ is a literal Q and EE a
  literal E in the value, E followed by anything else stays as written (both characters).
  Outside quoted fields E is an ordinary character (as a Q there is).

D, Q and E are single ASCII characters, all different: the splitter works on bytes, which is
right for every encoding the producer splits (see ``encodings``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final

from libs import constants as c
from libs.constants import MAX_HEADER_BYTES, MAX_RECORD_LINES
from libs.errors import UserError
from libs.formats import chunking, scan
from libs.formats.base import Chunk, Header, Position, Record, stream_extent
from libs.formats.encodings import (
    TRANSCODED,
    UTF8_BOM,
    Utf8Stream,
    codec_name,
    decode_error,
    label,
    wire_codec,
)
from libs.schema.compile import Reject
from libs.schema.model import Dataset, Dialect
from libs.schema.reasons import INVALID_ENCODING, MALFORMED_CSV

BOM: Final = UTF8_BOM

BLANK: Final = 0
CONTINUES: Final = 1
COMPLETE: Final = 2

CR_ONLY: Final = ("line 1 holds a CR not followed by LF: the file has CR-only line ends "
                  "(classic Mac); convert them to LF first, e.g. tr '\\r' '\\n' < in.csv > "
                  "out.csv")


class MalformedRecord(ValueError):
    """A record that breaks the quoting rules; the message says where (the reject's detail)."""


class Syntax:
    """The compiled patterns of one dialect (see the module); ``Syntax()`` is the default."""

    def __init__(self, delimiter: str = ",", quote: str = '"', escape: str | None = None) -> None:
        chars = [delimiter, quote] + ([escape] if escape else [])
        if any(len(ch) != 1 or not ch.isascii() or ch in "\r\n" for ch in chars):
            raise UserError("the delimiter, quote and escape characters must each be one "
                            "ASCII character other than CR and LF")
        if len(set(chars)) != len(chars):
            raise UserError("the delimiter, quote and escape characters must differ")
        self.delimiter, self.quote, self.escape = delimiter, quote, escape
        self.quote_byte = quote.encode()
        d, q = re.escape(delimiter), re.escape(quote)
        if escape is None:
            inside = rf"(?:[^{q}]|{q}{q})*+"  # the inside of a quoted field: QQ is one Q
        else:
            e = re.escape(escape)
            inside = rf"(?:[^{q}{e}]|{q}{q}|{e}(?s:.)?)*+"
            self._unescape = re.compile(rf"{q}{q}|{e}(?s:.)?")
        field = rf"(?:{q}{inside}{q}|(?:[^{q}{d}][^{d}]*+)?)"
        # The rest of a physical line from a field start; ``open``: it ends inside a quoted field.
        from_field = rf"(?:{field}{d})*+(?:(?P<open>{q}{inside})|{field})"
        self.line_at_start = re.compile(from_field.encode())
        # A physical line that begins inside a quoted field; ``close``: that field closes on it.
        self.line_in_quotes = re.compile(rf"{inside}(?P<close>{q}(?:{d}{from_field})?)?".encode())
        self.record = re.compile(rf"{field}(?:{d}{field})*+")
        self.fields = re.compile(rf"{d}(?:{q}({inside}){q}|([^{d}]*+))")  # over D + a record
        self.quoted_at = re.compile(rf"{q}{inside}({q})?")

    @classmethod
    def of(cls, dialect: Dialect) -> Syntax:
        return cls(dialect.delimiter, dialect.quote_char, dialect.escape_char or None)

    def opens(self, line: bytes) -> bool:
        """True if a record that starts with physical line ``line`` (not empty, without its
        LF; a CR at its end is the line end's) goes on past it: a quoted field is still open
        at its end. A line that breaks the quoting rules ends its record (False). The
        splitter's rule (``RecordSplitter.feed``, which keeps it inline: it runs per line of
        the producer's quoted blocks)."""
        match = self.line_at_start.fullmatch(line, 0, len(line) - (line[-1] == 13))
        return match is not None and match["open"] is not None

    def parse_fields(self, text: str, line_no: int) -> list[str]:
        """The fields of one record (text without its line end) that starts on ``line_no``.

        Raise MalformedRecord for a quote closed before something other than the delimiter or
        the end, or a quoted field that is not closed.
        """
        if self.quote not in text:
            return text.split(self.delimiter)
        if self.record.fullmatch(text) is None:
            raise MalformedRecord(self._where_malformed(text, line_no))
        pairs = self.fields.findall(self.delimiter + text)
        if self.escape is None:
            q = self.quote
            return [quoted.replace(q + q, q) if quoted else plain for quoted, plain in pairs]
        return [self._unescape.sub(self._unescaped, quoted) if quoted else plain
                for quoted, plain in pairs]

    def _unescaped(self, match: re.Match[str]) -> str:
        token = match[0]
        if token == self.quote + self.quote:
            return self.quote
        return token[1:] if token[1:] in (self.quote, self.escape) else token

    def _where_malformed(self, text: str, line_no: int) -> str:
        """The detail for a record that ``record`` does not match: the first fault, located."""
        pos, number, d = 0, 1, self.delimiter
        while True:
            if text.startswith(self.quote, pos):
                match = self.quoted_at.match(text, pos)
                assert match is not None  # the pattern matches any text from a quote
                end = match.end()
                if match[1] is None:
                    return (f"quoted field opened on line {_line_of(text, pos, line_no)} "
                            f"(field {number}) is not closed within lines {line_no}-"
                            f"{_line_of(text, end, line_no)} ({_bound()})")
                if end < len(text) and text[end] != d:
                    line = _line_of(text, end - 1, line_no)
                    column = end - text.rfind("\n", 0, end - 1) - 1
                    return (f"field {number}: closing quote at line {line}, column {column} is "
                            f"followed by {text[end]!r} (a quote inside a quoted field must be "
                            "doubled)")
            else:
                end = text.find(d, pos)
            if end < 0 or end >= len(text):
                return "the record is not valid CSV"  # unreachable for text ``record`` rejects
            pos, number = end + 1, number + 1


DEFAULT_SYNTAX: Final = Syntax()


def _bound() -> str:
    """The record bound as a reject's detail says it (read when used: tests lower it)."""
    return (f"a record ends after at most {MAX_RECORD_LINES} lines or "
            f"{c.MAX_RECORD_BYTES >> 20} MiB, or at the end of the file")


def _line_of(text: str, pos: int, line_no: int) -> int:
    return line_no + text.count("\n", 0, pos)


class RecordSplitter:
    """Feed it physical lines without their LF; it says where records end (see the module)."""

    __slots__ = ("_at_start", "_in_quotes", "_lines", "_max_bytes", "_open", "_quote",
                 "_size")

    def __init__(self, max_record_bytes: int, syntax: Syntax = DEFAULT_SYNTAX) -> None:
        self._open = False
        self._lines = 0
        self._size = 0
        self._max_bytes = max_record_bytes
        self._quote = syntax.quote_byte
        self._at_start = syntax.line_at_start
        self._in_quotes = syntax.line_in_quotes

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
        if self._quote not in line:
            return BLANK if not line or line == b"\r" else COMPLETE  # "\r" at the end: blank
        if not terminated:
            return COMPLETE
        match = self._at_start.fullmatch(line, 0, len(line) - (line[-1] == 13))
        if match is None or match["open"] is None:  # complete, or malformed: ends here
            return COMPLETE
        self._open, self._lines, self._size = True, 1, len(line) + 1
        return self._bounded()

    def ends(self, lines: list[bytes], terminated: bool = True) -> list[int]:
        """The indices of ``lines`` (physical lines without their LF) on which records end.

        Lines before an end and after the previous one are that record's, or blank lines.
        ``terminated`` is False when the last line has no LF (the end of the data).

        As ``record_spans``, only the lines that hold the quote or are blank, and the last
        one if it has no LF, are looked at, found by searching (``scan``); a record that
        starts on one of them (or goes on from the lines before) is fed to its end
        (``_record_end``). Every other line is a record of its own, as ``feed`` would say,
        without a Python step per line.
        """
        found: list[int] = []
        feed, done = self.feed, 0  # the lines before ``done`` are placed
        if self._open and lines:  # a record from the lines before goes on
            done = self._through(_record_end(feed, lines, 0, terminated), found)
        for at in _marked(lines, scan.lines_holding(b"\n".join(lines), self._quote),
                          terminated):
            if at < done:
                continue  # a line of the record before
            found.extend(range(done, at))
            if not lines[at] or lines[at] == b"\r":
                done = at + 1  # blank, no record open: nothing ends on it
            else:
                done = self._through(_record_end(feed, lines, at, terminated), found)
        found.extend(range(done, len(lines)))
        return found

    def _through(self, end: int, found: list[int]) -> int:
        """After the record fed up to line ``end``: that line ends it unless it is still
        open (the data stops inside it); the line after it."""
        if not self._open:
            found.append(end)
        return end + 1

    def _inside(self, line: bytes, terminated: bool) -> int:
        self._lines += 1
        self._size += len(line) + 1
        if not terminated:
            self._open = False
            return COMPLETE
        if self._quote in line:
            match = self._in_quotes.fullmatch(line, 0, len(line) - (line[-1] == 13))
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


# closed(lines, holding): of the lines holding the quote, some known to leave no quoted field
# open at their end (``record_spans``).
Closed = Callable[[list[bytes], list[int]], Container[int]]


@dataclass(frozen=True, slots=True)
class Spans:
    """The records of a body (``record_spans``) in three kinds: the indices of ``lines`` (the
    physical lines without their LF) that are a record of their own, ended by a LF, whose
    data is the line without a CR at its end, ``simple`` (no quote: the delimiter splits
    them) and ``quoted`` (holding the quote); and ``other``, every other record."""

    lines: list[bytes]
    simple: list[int]
    quoted: list[int]
    other: list[RawRecord]


def split_records(body: bytes, first_line: int, max_record_bytes: int,
                  syntax: Syntax = DEFAULT_SYNTAX) -> Iterator[RawRecord]:
    """The records of a slice of a file that starts at line ``first_line`` on a record boundary."""
    lines = body.split(b"\n")
    terminated = not lines[-1]
    if terminated:
        lines.pop()
    splitter = RecordSplitter(max_record_bytes, syntax)
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


def record_spans(body: bytes, first_line: int, max_record_bytes: int,
                 syntax: Syntax = DEFAULT_SYNTAX, closed: Closed | None = None) -> Spans:
    """``split_records`` with the commonest records set apart, for a reader that takes them
    in bulk: the same records (see ``Spans``).

    Only the lines that hold the quote or are blank, and the last one if it has no LF, are
    looked at one by one; they are found by searching the body (``scan``). Every other line
    is a simple record: the splitter would say so, without a Python step per line. A line
    holding the quote is a quoted record of its own unless a quoted field is open at its end
    (``Syntax.opens``); from such a line, and from a last line without LF, the splitter is
    fed line by line until the record ends.

    ``closed(lines, holding)``, if given, names some of the lines holding the quote that are
    known to have no quoted field open at their end (the reader read them whole: see
    ``csvbulk.Quoted``); ``Syntax.opens`` is asked of the others only.
    """
    lines = body.split(b"\n")
    terminated = not lines[-1]
    if terminated:
        lines.pop()
    holding = scan.lines_holding(body, syntax.quote_byte)
    opening = _opening(lines, holding, syntax, closed)
    spans = Spans(lines, [], [], [])
    feed = RecordSplitter(max_record_bytes, syntax).feed
    last = len(lines) - 1
    done = 0  # the lines before it are placed
    for start in _marked(lines, holding, terminated):
        if start < done:
            continue  # a line of the record before
        spans.simple.extend(range(done, start))
        done = start + 1
        if not lines[start] or lines[start] == b"\r":
            continue  # blank
        if start not in opening and (terminated or start < last):
            spans.quoted.append(start)
            continue
        end = _record_end(feed, lines, start, terminated)
        spans.other.append(RawRecord(first_line + start,
                                     _join(lines, start, end, terminated or end < last)))
        done = end + 1
    spans.simple.extend(range(done, len(lines)))
    return spans


def _opening(lines: list[bytes], holding: list[int], syntax: Syntax,
             closed: Closed | None) -> set[int]:
    """The lines of ``holding`` that leave a quoted field open at their end
    (``Syntax.opens``), asked of those ``closed`` does not vouch for only."""
    known = closed(lines, holding) if closed is not None else ()
    opens = syntax.opens
    return {at for at in holding if at not in known and opens(lines[at])}


def _marked(lines: list[bytes], holding: list[int], terminated: bool) -> list[int]:
    """The lines looked at one by one: ``holding`` (the quote), the blank ones, and the last
    one if it has no LF (``terminated`` False); ascending, a line at most twice."""
    marked = sorted(holding + scan.blanks(lines))
    if not terminated:
        marked.append(len(lines) - 1)
    return marked


def _record_end(feed: Callable[[bytes, bool], int], lines: list[bytes], start: int,
                terminated: bool) -> int:
    """The line on which the record that starts on line ``start`` (not blank) ends, its
    lines fed to the splitter (``feed``) one by one: the last line if the data ends inside
    it."""
    last = len(lines) - 1
    end, state = start, feed(lines[start], terminated or start < last)
    while state == CONTINUES and end < last:
        end += 1
        state = feed(lines[end], terminated or end < last)
    return end


def _join(lines: list[bytes], start: int, end: int, terminated: bool) -> bytes:
    """Lines ``start`` to ``end`` (inclusive) without the line end of the last one."""
    data = lines[start] if start == end else b"\n".join(lines[start : end + 1])
    return data[:-1] if terminated and data[-1:] == b"\r" else data


def read_header(handle: BinaryIO, limit: int = MAX_HEADER_BYTES,
                syntax: Syntax = DEFAULT_SYNTAX, codec: str = "utf-8") -> Header:
    """Read the header record at line 1, holding at most ``limit`` bytes of it in memory
    (before its line end).

    Raise UserError if there is none (an empty file, or only a BOM), it is blank, names no
    column, holds NUL bytes (UTF-16 without a BOM is named), is longer than ``limit`` bytes,
    does not decode, is not valid CSV, or holds a CR that is not part of a CRLF (CR-only line
    ends; CRs doubled before the final CRLF, ``\\r\\r\\n``, are named as such).
    """
    raw, state, too_long = _header_bytes(handle, limit, syntax, codec == "utf-8")
    if b"\x00" in raw:  # before the line ends: UTF-16's CRLF is CR NUL LF NUL
        raise UserError(_nul_in_header(raw, codec))
    _check_line_ends(raw)
    if not raw:
        raise UserError("the file is empty: expected a header line")
    if codec == "utf-8" and raw == BOM:
        raise UserError("the file holds only a UTF-8 byte order mark: expected a header line")
    if too_long:
        raise UserError(f"the header (line 1) is longer than {limit} bytes: is this a CSV file?")
    if state == BLANK:
        raise UserError("line 1 is blank: the header must be the first line")
    spelled = _parse_header(raw, syntax, codec)
    if not any(spelled):
        raise UserError("the header (line 1) is empty: it names no column")
    return Header(tuple(name.lower() for name in spelled), len(raw),
                  1 + raw.count(b"\n") + (not raw.endswith(b"\n")), spelled=spelled)


def _check_line_ends(raw: bytes) -> None:
    """UserError for a header record holding a CR not followed by LF (not the CR of a CRLF).

    Only CRs right before its final CRLF (``\\r\\r\\n``: CRLF line ends converted twice)
    are named as such; any other lone CR means CR-only line ends (classic Mac).
    """
    lone = raw.count(b"\r") - raw.count(b"\r\n")
    if not lone:
        return
    if raw.endswith(b"\r\n") and lone == len(raw[:-2]) - len(raw[:-2].rstrip(b"\r")):
        raise UserError("line 1 ends with CR CR LF (\\r\\r\\n: CRLF line ends converted "
                        "twice?); remove the extra CR first, e.g. sed 's/\\r\\r$/\\r/' "
                        "in.csv > out.csv")
    raise UserError(CR_ONLY)


def _nul_in_header(raw: bytes, codec: str) -> str:
    """The message for NUL bytes in the header: most often UTF-16 without a byte order mark."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("the file starts with a UTF-16 byte order mark (NUL bytes in the header): "
                "pass --encoding utf-16")
    if codec in ("utf-8", "iso8859-1", "cp1252") and raw.count(b"\x00") * 3 >= len(raw):
        order = "le" if raw[1::2].count(b"\x00") >= raw[::2].count(b"\x00") else "be"
        return (f"the header (line 1) holds NUL bytes: the file looks like UTF-16 without a "
                f"byte order mark; pass --encoding utf-16{order}")
    return "the header (line 1) holds a NUL byte: is this a text file?"


def _header_bytes(handle: BinaryIO, limit: int, syntax: Syntax,
                  bom: bool) -> tuple[bytes, int, bool]:
    """(the header record's bytes, the splitter's last state, True if it goes on past
    ``limit`` bytes before its line end); never reads more than ``limit + 1`` bytes."""
    splitter = RecordSplitter(limit + 1, syntax)
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
        if bom and len(parts) == 1:
            content = content.removeprefix(BOM)
        state = splitter.feed(content, line.endswith(b"\n"))
    return b"".join(parts), state, False


def _parse_header(raw: bytes, syntax: Syntax, codec: str) -> tuple[str, ...]:
    try:
        text = (raw.removeprefix(BOM) if codec == "utf-8" else raw).decode(codec)
    except UnicodeDecodeError as exc:
        raise UserError(f"the header (line 1) is not valid {label(codec)}: {exc.reason}") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        names = syntax.parse_fields(text, 1)
    except MalformedRecord as exc:
        raise UserError(f"the header (line 1) is not valid CSV: {exc}") from exc
    return tuple(name.strip() for name in names)


def skip_bom(handle: BinaryIO) -> int:
    """For a header-less file: the data's first byte (after a UTF-8 BOM, if any)."""
    return len(BOM) if handle.read(len(BOM)) == BOM else 0


def decode_record(data: bytes, codec: str) -> str | Reject:
    """The record's text, or invalid_encoding (bytes that do not decode, or a NUL)."""
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        return Reject(INVALID_ENCODING, decode_error(data, exc, codec))
    if "\x00" in text:
        return Reject(INVALID_ENCODING, f"NUL character at offset {text.index(chr(0))}")
    return text


def printable(data: bytes, codec: str = "utf-8") -> str:
    """As much of the record's text as decodes; NUL (impossible in PostgreSQL text) shown as \\0."""
    return data.decode(codec, "replace").replace("\x00", "\\0")


class DelimitedReader:
    """The ``delimited`` layout: the dataset's dialect and encoding (see the module)."""

    def __init__(self, dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES) -> None:
        self.dataset = dataset
        self.syntax = (DEFAULT_SYNTAX if dataset.dialect == Dialect()
                       else Syntax.of(dataset.dialect))
        self.max_record_bytes = max_record_bytes
        self.codec = codec_name(dataset.encoding)
        self.wire_encoding = wire_codec(dataset.encoding)
        self.transcoded = self.codec in TRANSCODED

    def _stream(self, handle: BinaryIO) -> BinaryIO:
        return Utf8Stream(handle, self.codec) if self.transcoded else handle  # type: ignore[return-value]

    def read_header(self, handle: BinaryIO) -> Header:
        stream = self._stream(handle)
        if not self.dataset.dialect.header:
            skipped = skip_bom(stream) if self.wire_encoding == "utf-8" else 0
            return Header(self.dataset.field_names, skipped, 1)
        return read_header(stream, MAX_HEADER_BYTES, self.syntax, self.wire_encoding)

    def iter_chunks(self, handle: BinaryIO, start: Position, batch_size: int,
                    batch_bytes: int) -> Iterator[Chunk]:
        stream = self._stream(handle)
        if self.transcoded:
            stream.seek(start.byte)
        splitter = RecordSplitter(self.max_record_bytes, self.syntax)
        return chunking.iter_chunks(stream, start, batch_size, batch_bytes, splitter,
                                    self.syntax.quote_byte, self.max_record_bytes)

    def records(self, body: bytes, first_line: int) -> Iterator[Record]:
        codec, syntax = self.wire_encoding, self.syntax
        if (syntax.quote_byte not in body and b"\x00" not in body
                and body.count(b"\r") == body.count(b"\r\n")):
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                pass
            else:  # fast path: one record per line, no quoting
                delimiter, line_no = syntax.delimiter, first_line
                for line in text.split("\n"):
                    if line and line != "\r":
                        yield line_no, (line[:-1] if line[-1] == "\r" else line).split(delimiter)
                    line_no += 1
                return
        record = self.record
        for raw in split_records(body, first_line, self.max_record_bytes, syntax):
            yield raw.line_no, record(raw.line_no, raw.data)

    def record(self, line_no: int, data: bytes) -> list[str] | Reject:
        """The fields of one record (its bytes, as ``split_records`` gives them), or the
        Reject why not: bytes that do not decode, a NUL, malformed quoting."""
        text = decode_record(data, self.wire_encoding)
        if isinstance(text, Reject):
            return text
        try:
            return self.syntax.parse_fields(text, line_no)
        except MalformedRecord as exc:
            return Reject(MALFORMED_CSV, str(exc))

    def raw(self, body: bytes, first_line: int) -> dict[int, bytes]:
        return {record.line_no: record.data for record in
                split_records(body, first_line, self.max_record_bytes, self.syntax)}

    def with_header(self, columns: Sequence[str]) -> DelimitedReader:
        return self

    def printable(self, data: bytes) -> str:
        return printable(data, self.wire_encoding)

    def extent(self, handle: BinaryIO, stored_size: int) -> int | None:
        return stream_extent(handle, stored_size)
