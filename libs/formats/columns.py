"""A batch's records as columns, for the vectorized validator (``libs.validate_vector``).

``column_batch(reader, body, first_line, width)`` gives the records with ``width`` fields (the
header's count: the *candidates*) as columns of pyarrow strings, and every other record (a
``Reject`` of the reader, or fields of another count) as the reader gives it. Two ways, with
the same result as ``reader.records``:

- a *plain* delimited body (UTF-8, no quote character, no NUL, every CR part of a CRLF: the
  reader's own fast case, one record per non-blank line) is split in arrow: lines, the CR of
  each CRLF, blank lines, fields;
- any other body (quotes, other encodings, other layouts) is read with ``reader.records`` and
  its candidates' fields turned into columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from libs import arrow
from libs.formats.base import Reader, Record
from libs.formats.delimited import DelimitedReader


@dataclass
class ColumnBatch:
    """The candidates as columns (by header position), the other records in line order."""

    lines: list[int]  # the candidates' line numbers, ascending
    others: list[Record]  # every record that is not a candidate, ascending lines
    _arrays: Callable[[int], arrow.Array]
    _values: Callable[[int], Sequence[str]]
    _fields: Callable[[int], list[str]]
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
            self._cached[key] = self._values(position)
        return self._cached[key]  # type: ignore[no-any-return]

    def fields(self, place: int) -> list[str]:
        """The fields of candidate ``place``, as ``reader.records`` gives them."""
        return self._fields(place)


def column_batch(reader: Reader, body: bytes, first_line: int, width: int) -> ColumnBatch:
    """The batch's records (see the module); ArrowError if pyarrow cannot take them."""
    if isinstance(reader, DelimitedReader) and _plain(reader, body):
        try:
            return _split_plain(reader.syntax.delimiter, body, first_line, width)
        except pa.ArrowInvalid:  # not UTF-8: the reader says where, record by record
            pass
    return from_records(list(reader.records(body, first_line)), width)


def _plain(reader: DelimitedReader, body: bytes) -> bool:
    return (reader.wire_encoding == "utf-8" and reader.syntax.quote_byte not in body
            and b"\x00" not in body and body.count(b"\r") == body.count(b"\r\n"))


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
    return ColumnBatch(lines, others, lambda at: arrow.strings(table[at]),
                       lambda at: table[at], lambda place: picked[place])


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
    parts = pc.split_pattern(lines, delimiter)
    fits = pc.equal(pc.list_value_length(parts), width)
    others: list[Record] = []
    if pc.all(fits).as_py() is False:
        misfits = pc.indices_nonzero(pc.invert(fits)).to_pylist()
        others = [(numbers[i], str(lines[i].as_py()).split(delimiter)) for i in misfits]
        numbers = [numbers[i] for i in pc.indices_nonzero(fits).to_pylist()]
        parts = parts.filter(fits)

    def array(at: int) -> arrow.Array:
        return arrow.as_array(pc.list_element(parts, at))

    def fields(place: int) -> list[str]:
        return [str(value) for value in parts[place].as_py()]

    return ColumnBatch(numbers, others, array, lambda at: array(at).to_pylist(), fields)
