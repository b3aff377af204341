"""A batch's one-line records that hold the quote, read in bulk by Python's ``csv`` module
where it reads them as ``Syntax.parse_fields`` does.

The column split (``columns``) splits the quote-free records in arrow; the others were read
by the reader one by one (``DelimitedReader.record``: decode, regular expressions, ~19 µs
each). In a dirty file most of those are one line with a quoted field (``"call back, after
6pm"``, ``"O""Brien"``): about 12% of its records. ``csv.reader`` (C) with the dialect's
delimiter D and quote Q, ``doublequote`` and ``strict`` reads such a text by the rules of
``delimited``, when the dialect has no escape character and the text holds no CR or LF
(csv ends a record at either): Q opens a quoted field only as a field's first character
(elsewhere it is data, as a space before it is), QQ in a quoted field is one Q, a closing Q
followed by anything but D or the end is an error, and so is a quoted field still open at
the end of the data. tests/test_columns_split.py checks every text of up to 7 characters
over ``a , " space`` (and two other dialects) against ``parse_fields``, and the records
against the reader's.

Every other record is left to the reader, so its result (fields, or the Reject with its
detail) is the reader's own: the records csv refuses (malformed quoting, a field past csv's
size limit), those holding a CR other than the line end's, those that do not decode or hold
a NUL, and every record of a dialect with an escape character. Records over more than one
line never come here.

What csv reads also tells ``record_spans`` that no quoted field is open at the end of the
line (``Quoted.closed``), so the splitter's rule is asked of the other lines only.
"""

from __future__ import annotations

import csv
from collections.abc import Container, Iterable, Iterator
from typing import TYPE_CHECKING

from libs.formats import scan
from libs.formats.base import Record
from libs.formats.delimited import DelimitedReader, Syntax

if TYPE_CHECKING:
    import _csv


class Quoted:
    """A batch's one-line records that hold the quote, read by csv in bulk: ``closed`` reads
    the lines for ``record_spans``, ``records`` gives the records of those it found to be
    records of their own."""

    def __init__(self, reader: DelimitedReader) -> None:
        self._reader = reader
        self._read: dict[int, list[str]] = {}

    def closed(self, lines: list[bytes], places: list[int]) -> Container[int]:
        """Read ``lines[place]`` for each of ``places`` (physical lines without LF, a CR at
        the end the line end's) as one record each; the places csv read. No quoted field is
        open at the end of those: csv reads a text as ``Syntax.parse_fields`` does, which
        reads it only if ``Syntax.record`` matches it whole, and then no quote is open at its
        end (``Syntax.opens`` is False; tests/test_columns_split.py checks both)."""
        data = [_uncr(lines[at]) for at in places]
        found = _read(self._reader.syntax, data)
        self._read = {at: fields for at, fields in zip(places, found, strict=True) if fields}
        return self._read

    def records(self, first_line: int, lines: list[bytes], places: list[int]) -> list[Record]:
        """``(line, reader.record(line, data))`` for the records of their own at ``places``
        (after ``closed``: those csv read are not read again), the body starting on line
        ``first_line``."""
        record, read = self._reader.record, self._read
        return [(first_line + at,
                 read.get(at) or record(first_line + at, _uncr(lines[at]))) for at in places]


def _read(syntax: Syntax, data: list[bytes]) -> list[list[str] | None]:
    """csv's fields of each line it may read (UTF-8 without NUL or CR, in a dialect without
    an escape character); None for the others."""
    if syntax.escape is not None or not data:
        return [None] * len(data)
    bad = scan.undecodable(data, (b"\x00", b"\r"))
    if not bad:
        return fields_of(b"\n".join(data).decode("utf-8").split("\n"), syntax)
    found: list[list[str] | None] = [None] * len(data)
    places = [at for at in range(len(data)) if at not in bad]
    if places:
        texts = b"\n".join([data[at] for at in places]).decode("utf-8").split("\n")
        for at, fields in zip(places, fields_of(texts, syntax), strict=True):
            found[at] = fields
    return found


def fields_of(texts: list[str], syntax: Syntax) -> list[list[str] | None]:
    """csv's fields of each text (one record, not empty, without CR or LF: see the module);
    None where csv refuses it.

    One reader reads them all. A quoted field still open at a text's end makes csv read on
    into the next texts (``line_num`` counts the texts read): that record is refused and the
    texts it took after the first are read again, each on its own.
    """
    found: list[list[str] | None] = []
    rows = _reader(texts, syntax)
    while True:
        try:
            for fields in rows:
                if rows.line_num == len(found) + 1:
                    found.append(fields)
                else:
                    _ran_on(found, texts[len(found) : rows.line_num], syntax)
        except csv.Error:  # refused; csv starts afresh on the next text
            if rows.line_num == len(found) + 1:
                found.append(None)
            else:
                _ran_on(found, texts[len(found) : rows.line_num], syntax)
        else:
            return found


def _ran_on(found: list[list[str] | None], texts: list[str], syntax: Syntax) -> None:
    """After ``found``, a record csv read from ``texts`` (more than one): refused, and the
    texts after the first read alone."""
    found.append(None)
    found.extend(_alone(texts[1:], syntax))


def _alone(texts: list[str], syntax: Syntax) -> Iterator[list[str] | None]:
    """csv's fields of each text read on its own (None: refused)."""
    for text in texts:
        try:
            yield next(_reader((text,), syntax))
        except csv.Error:
            yield None


def _uncr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def _reader(texts: Iterable[str], syntax: Syntax) -> _csv.Reader:
    """A csv reader of ``texts`` in the dialect of ``syntax`` (no escape character)."""
    return csv.reader(texts, delimiter=syntax.delimiter, quotechar=syntax.quote,
                      doublequote=True, strict=True, quoting=csv.QUOTE_MINIMAL,
                      skipinitialspace=False)
