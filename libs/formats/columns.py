"""A batch's records as columns, for the vectorized validator (``libs.validate_vector``).

``column_batch(reader, body, first_line, width)`` gives the records with ``width`` fields (the
header's count: the *candidates*) as columns of pyarrow strings, and every other record (a
``Reject`` of the reader, or fields of another count) as the reader gives it; the same records
as ``reader.records``, found three ways:

- a *plain* delimited UTF-8 body (no quote character, no NUL, every CR part of a CRLF: the
  reader's own fast case, one record per non-blank line) is split in arrow: lines, the CR of
  each CRLF, blank lines, fields;
- any other delimited UTF-8 body: its records are found as the reader finds them
  (``delimited.record_spans``, which looks only at the lines that hold the quote or are
  blank); the one-line records without a quote that decode and hold no NUL are split in
  arrow, the one-line records holding the quote are read by Python's csv module in bulk,
  where it reads them as the reader does (``csvbulk``), and the others (records over more
  than one line, bytes that do not decode, NUL, malformed quoting) by the reader, record by
  record (``DelimitedReader.record``); the candidates not split in arrow come after the
  others (``ordered`` False);
- other layouts and encodings: ``reader.records``, its candidates' fields made columns.

``ColumnBatch.raw`` indexes the records' bytes (what ``reader.raw`` gives) from the same
split, for the rejects' raw text, without splitting the body again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Final, TypeVar

from libs import arrow
from libs.arrow import pa, pc
from libs.formats import csvbulk, scan
from libs.formats.base import Reader, Record
from libs.formats.delimited import DelimitedReader, RawRecord, Spans, record_spans

T = TypeVar("T")
FEW: Final = 8  # ``values_at`` takes at most size // FEW values from arrow, else makes all


class RawIndex(Mapping[int, bytes]):
    """The records' bytes by first line, as ``reader.raw`` gives them, from a split at hand:
    the physical lines that are records of their own (``own(lines, i)``; the record is the
    line without a CR at its end) and the other records (``other``, by line). Nothing is
    indexed beforehand."""

    def __init__(self, lines: Callable[[], list[bytes]], first_line: int,
                 own: Callable[[list[bytes], int], bool], other: dict[int, bytes]) -> None:
        self._lines, self._first, self._own, self._other = lines, first_line, own, other
        self._cached: list[bytes] | None = None

    def _physical(self) -> list[bytes]:
        if self._cached is None:
            self._cached = self._lines()
        return self._cached

    def __getitem__(self, line_no: int) -> bytes:
        found = self._other.get(line_no)
        if found is not None:
            return found
        lines, at = self._physical(), line_no - self._first
        if 0 <= at < len(lines) and self._own(lines, at):
            return _uncr(lines[at])
        raise KeyError(line_no)

    def __iter__(self) -> Iterator[int]:
        lines = self._physical()
        own = [self._first + at for at in range(len(lines)) if self._own(lines, at)]
        return iter(sorted([*own, *self._other]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class ColumnBatch:
    """The candidates as columns (by header position), the other records in line order."""

    lines: list[int]  # the candidates' line numbers
    others: list[Record]  # every record that is not a candidate, ascending lines
    width: int  # fields per candidate
    _arrays: Callable[[int], arrow.Array]
    _values: Callable[[int], Sequence[str]] | None = None  # None: the arrays' to_pylist
    ordered: bool = True  # the candidates come in line order
    raw: Mapping[int, bytes] | None = None  # the records' bytes by line (None: not at hand)
    _cached: dict[tuple[str, int], Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.lines)

    def array(self, position: int) -> arrow.Array:
        """Header column ``position``'s values of the candidates, as arrow strings."""
        key = ("array", position)
        if key not in self._cached:
            self._cached[key] = self._arrays(position)
        return self._cached[key]  # type: ignore[no-any-return]

    def values(self, position: int) -> Sequence[str]:
        """The same values as Python strings."""
        key = ("values", position)
        if key not in self._cached:
            self._cached[key] = (self.array(position).to_pylist() if self._values is None
                                 else self._values(position))
        return self._cached[key]  # type: ignore[no-any-return]

    def values_at(self, position: int, places: Sequence[int]) -> Sequence[str]:
        """Header column ``position``'s values of the candidates at ``places``, in that
        order: taken from the arrow column if only a few are asked for and the column's
        Python strings are not made yet (a dirty batch's column: a few values to decide)."""
        made = self._cached.get(("values", position))
        if made is not None or self._values is not None or len(places) > self.size // FEW:
            every = self.values(position)
            return every if len(places) == self.size else [every[place] for place in places]
        return arrow.texts_at(self.array(position), places)


def column_batch(reader: Reader, body: bytes, first_line: int, width: int) -> ColumnBatch:
    """The batch's records (see the module); ArrowError if pyarrow cannot take them."""
    if isinstance(reader, DelimitedReader) and reader.wire_encoding == "utf-8":
        if _plain(reader, body):
            try:
                return _split_plain(reader.syntax.delimiter, body, first_line, width)
            except pa.ArrowInvalid:  # not UTF-8: the reader says where, record by record
                pass
        return _split_mixed(reader, body, first_line, width)
    return from_records(list(reader.records(body, first_line)), width)


def _plain(reader: DelimitedReader, body: bytes) -> bool:
    return (reader.syntax.quote_byte not in body and b"\x00" not in body
            and body.count(b"\r") == body.count(b"\r\n"))


def from_records(records: list[Record], width: int) -> ColumnBatch:
    """Records already read (``reader.records``) as a ColumnBatch."""
    picked: list[list[str]] = []
    lines: list[int] = []
    others: list[Record] = []
    for record in records:
        fields = record[1]
        if type(fields) is list and len(fields) == width:
            picked.append(fields)
            lines.append(record[0])
        else:
            others.append(record)
    table = list(zip(*picked, strict=False)) if picked else [()] * width
    return ColumnBatch(lines, others, width, lambda at: arrow.strings(table[at]),
                       lambda at: table[at])


def _split_plain(delimiter: str, body: bytes, first_line: int, width: int) -> ColumnBatch:
    """The reader's fast case in arrow: each non-blank line is a record (its CRLF's CR
    dropped), its fields split at the delimiter."""
    text = pa.array([body], pa.binary()).cast(pa.string())  # ArrowInvalid: not UTF-8
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    if body.endswith(b"\n"):  # the empty piece after the last line end
        lines = lines.slice(0, len(lines) - 1)
    if b"\r" in body:  # each CR ends its line (a CRLF): dropped
        lines = pc.replace_substring(lines, "\r", "")
    filled = pc.not_equal(lines, "")
    if pc.all(filled).as_py() is not False:
        numbers = list(range(first_line, first_line + len(lines)))
    else:  # blank lines are no records; they keep their line numbers
        lines = lines.filter(filled)
        numbers = pc.add(pc.indices_nonzero(filled), first_line).to_pylist()
    found = _fields_of(lines, numbers, delimiter, width, [])
    found.raw = RawIndex(lambda: body.split(b"\n"), first_line, _filled, {})
    return found


def _filled(lines: list[bytes], at: int) -> bool:
    """A line that is a record of a plain body: not blank (nor a last line of only a CR)."""
    return bool(lines[at]) and lines[at] != b"\r"


def _split_mixed(reader: DelimitedReader, body: bytes, first_line: int,
                 width: int) -> ColumnBatch:
    """Any other UTF-8 delimited body: the records are found as ``split_records`` finds them
    (``record_spans``); the one-line quote-free ones that decode and hold no NUL are split in
    arrow, the one-line quoted ones read by csv in bulk where it reads them as the reader
    does (``csvbulk``), every other one by the reader (``DelimitedReader.record``)."""
    quoted = csvbulk.Quoted(reader)
    spans = record_spans(body, first_line, reader.max_record_bytes, reader.syntax,
                         quoted.closed)
    simple, text, refused = _simple_texts(spans, first_line, b"\r" in body)
    extra = quoted.records(first_line, spans.lines, spans.quoted)
    extra += [(raw.line_no, reader.record(raw.line_no, raw.data))
              for raw in [*spans.other, *refused]]
    extra.sort(key=itemgetter(0))
    found = _fields_of(text, [first_line + i for i in simple], reader.syntax.delimiter, width,
                       extra)
    found.raw = RawIndex(lambda: spans.lines, first_line, _in(spans.simple, spans.quoted),
                         {raw.line_no: raw.data for raw in spans.other})
    return found


def _simple_texts(spans: Spans, first_line: int,
                  has_cr: bool) -> tuple[list[int], arrow.Array, list[RawRecord]]:
    """The simple records that decode and hold no NUL: their places in ``spans.lines`` and
    their texts in arrow (the CR of a CRLF dropped); and the others, for the reader."""
    lines, simple = spans.lines, spans.simple
    data = [lines[i] for i in simple]
    bad = sorted(scan.undecodable(data))
    refused = [RawRecord(first_line + simple[k], _uncr(data[k])) for k in bad]
    if bad:
        simple, data = _without(simple, bad), _without(data, bad)
    text = pa.array(data, pa.binary()).cast(pa.string())
    if has_cr:  # the CR of a CRLF line end
        text = pc.if_else(pc.ends_with(text, "\r"), pc.utf8_slice_codeunits(text, 0, -1), text)
    return simple, arrow.as_array(text), refused


def _in(first: list[int], second: list[int]) -> Callable[[list[bytes], int], bool]:
    """Whether line ``at`` is in ``first`` or ``second`` (each ascending): by bisection, so
    that no set of a batch's lines is made for the few lines looked up."""
    def found(lines: list[bytes], at: int) -> bool:
        return _holds(first, at) or _holds(second, at)
    return found


def _holds(ascending: list[int], at: int) -> bool:
    place = bisect_left(ascending, at)
    return place < len(ascending) and ascending[place] == at


def _without(items: list[T], places: list[int]) -> list[T]:
    """``items`` but those at ``places`` (ascending), by slices."""
    kept: list[T] = []
    start = 0
    for at in places:
        kept += items[start:at]
        start = at + 1
    return kept + items[start:]


def _uncr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def _fields_of(texts: Any, numbers: list[int], delimiter: str, width: int,
               records: list[Record]) -> ColumnBatch:
    """Records of one line each (``texts``, arrow strings, at lines ``numbers``) split at the
    delimiter, and ``records`` read otherwise (ascending lines): the candidates as columns
    (those of ``records`` after the others), every other record apart in line order."""
    parts = pc.split_pattern(texts, delimiter)
    fits = pc.equal(pc.list_value_length(parts), width)
    others: list[Record] = [record for record in records
                            if not (type(record[1]) is list and len(record[1]) == width)]
    if pc.all(fits).as_py() is False:
        misfits = pc.indices_nonzero(pc.invert(fits)).to_pylist()
        others += [(numbers[i], str(texts[i].as_py()).split(delimiter)) for i in misfits]
        others.sort(key=lambda record: record[0])
        numbers = [numbers[i] for i in pc.indices_nonzero(fits).to_pylist()]
        parts = parts.filter(fits)
    found = [record for record in records
             if type(record[1]) is list and len(record[1]) == width]
    if found:  # the candidates the reader read come after the others (lines not in order)
        numbers = numbers + [record[0] for record in found]
        parts = pa.concat_arrays([parts, pa.array([record[1] for record in found], parts.type)])

    def array(at: int) -> arrow.Array:
        return arrow.as_array(pc.list_element(parts, at))

    return ColumnBatch(numbers, others, width, array, ordered=not found)
