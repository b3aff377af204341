"""The column split's shortcuts give what the reader gives, record by record.

The vector path's split (libs/formats/columns.py) finds a batch's records without a Python
step per line and reads the quoted ones in bulk; each shortcut is checked against the slow
path it stands for:

- ``delimited.record_spans`` (lines found by search, ``scan``) against ``split_records`` (the
  splitter fed every line), with and without csv's word on the quoted lines
  (``csvbulk.Quoted.closed``): every body of up to 6 bytes over ``a , " CR LF``, and over
  ``a | " \\ CR LF`` in a dialect with an escape character, with small record bounds too;
  hypothesis bodies of the tokens of tests/test_csv_properties.py;
- ``RecordSplitter.ends`` (the producer's cut: lines found by search) against the splitter
  fed every line, the lines given in one call or two (a record open across them): every body
  of up to 6 bytes over ``a , " CR LF`` and over ``a | " \\ CR LF``, with small record
  bounds too;
- ``scan.undecodable`` against decoding each line on its own, whatever the decoding window;
- ``csvbulk`` (Python's csv module) against ``Syntax.parse_fields``: every text of up to 7
  characters over ``a , " space`` gives the same fields, or is refused exactly where
  ``parse_fields`` raises MalformedRecord (two other dialects: up to 6), and what csv reads
  has no quoted field open at its end (``Syntax.opens``); and ``csvbulk.Quoted``'s records
  against ``DelimitedReader.record`` (fields, or the Reject with its reason and detail) for
  every text of up to 7 characters over ``a , " CR space``, and hypothesis lists of records
  (non-UTF-8 bytes, NUL, an escape character).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.formats import csvbulk, scan
from libs.formats.base import Record
from libs.formats.delimited import (
    COMPLETE,
    Closed,
    DelimitedReader,
    MalformedRecord,
    RawRecord,
    RecordSplitter,
    Syntax,
    record_spans,
    split_records,
)
from libs.schema import from_file
from libs.schema.model import Dialect
from tests.test_csv_properties import TOKENS

pytestmark = pytest.mark.unit

FIRST = 7  # the first line's number in every body
BOUNDS = [(1 << 20, 10_000), (4, 2), (3, 1)]  # (max record bytes, MAX_RECORD_LINES)
DIALECTS = [Dialect(), Dialect(delimiter=";", quote_char="'"), Dialect(delimiter="\t"),
            Dialect(delimiter="|", escape_char="\\")]


@cache
def reader_of(dialect: Dialect) -> DelimitedReader:
    return DelimitedReader(replace(from_file.load("customers"), dialect=dialect))


def uncr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def spans_records(body: bytes, max_bytes: int, syntax: Syntax,
                  closed: Closed | None) -> list[RawRecord]:
    """The records of ``record_spans``, checked for their kinds, in line order."""
    spans = record_spans(body, FIRST, max_bytes, syntax, closed)
    lines = body.split(b"\n")
    assert spans.lines == (lines[:-1] if body.endswith(b"\n") or not body else lines)
    ended = len(lines) - 1  # the lines before it end with a LF
    assert all(i < ended and syntax.quote_byte not in spans.lines[i] for i in spans.simple)
    assert all(i < ended and syntax.quote_byte in spans.lines[i] for i in spans.quoted)
    own = [RawRecord(FIRST + i, uncr(spans.lines[i])) for i in spans.simple + spans.quoted]
    return sorted(own + spans.other, key=lambda record: record.line_no)


def assert_same_records(body: bytes, max_bytes: int, reader: DelimitedReader) -> None:
    """``record_spans`` finds the records of ``split_records``, with and without csv's
    reading of the quoted lines (``csvbulk.Quoted``)."""
    syntax = reader.syntax
    expected = list(split_records(body, FIRST, max_bytes, syntax))
    assert spans_records(body, max_bytes, syntax, None) == expected, (body, max_bytes)
    assert spans_records(body, max_bytes, syntax, csvbulk.Quoted(reader).closed) == expected


def fed_ends(splitter: RecordSplitter, lines: list[bytes], terminated: bool) -> list[int]:
    """Where records end, the splitter fed every line (what ``ends`` stands for)."""
    last = -1 if terminated else len(lines) - 1
    return [at for at, line in enumerate(lines) if splitter.feed(line, at != last) == COMPLETE]


def assert_same_ends(body: bytes, max_bytes: int, syntax: Syntax) -> None:
    """``RecordSplitter.ends`` (lines found by search) says what feeding every line says,
    the lines given in one call or cut into two (a record open across the cut)."""
    lines = body.split(b"\n")
    terminated = not lines[-1]
    if terminated:
        lines.pop()
    reference = RecordSplitter(max_bytes, syntax)
    expected = fed_ends(reference, lines, terminated)
    for cut in range(len(lines) + terminated):  # in two calls: the first one's lines end in LF
        splitter = RecordSplitter(max_bytes, syntax)
        found = splitter.ends(lines[:cut])
        found += [cut + at for at in splitter.ends(lines[cut:], terminated)]
        assert (found, splitter.open) == (expected, reference.open), (body, cut)


@pytest.mark.parametrize(("alphabet", "dialect"), [(b'a,"\r\n', DIALECTS[0]),
                                                   (b"a|\"\\\r\n", DIALECTS[3])])
@pytest.mark.parametrize(("max_bytes", "max_lines"), BOUNDS)
def test_record_spans_finds_the_records_of_split_records(
        alphabet: bytes, dialect: Dialect, max_bytes: int, max_lines: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("libs.formats.delimited.MAX_RECORD_LINES", max_lines)
    reader = reader_of(dialect)
    for size in range(7):
        for body in itertools.product(alphabet, repeat=size):
            assert_same_records(bytes(body), max_bytes, reader)
            assert_same_ends(bytes(body), max_bytes, reader.syntax)


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join), st.sampled_from(BOUNDS),
       st.sampled_from([DIALECTS[0], DIALECTS[3]]))
def test_record_spans_on_random_bodies(body: bytes, bounds: tuple[int, int],
                                       dialect: Dialect) -> None:
    max_bytes, max_lines = bounds
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("libs.formats.delimited.MAX_RECORD_LINES", max_lines)
        assert_same_records(body, max_bytes, reader_of(dialect))
        assert_same_ends(body, max_bytes, reader_of(dialect).syntax)


def decodes(line: bytes, refused: tuple[bytes, ...]) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(byte in line for byte in refused)


LINE_BYTES = [b"a", b"\xc3\xa9", b"\xc3", b"\xa9", b"\xff", b"\x00", b"\xed\xa0\x80", b"\r",
              b"\xf0\x9f\x98\x80", b"\xf0\x9f", b"\xe2\x82", b",", b"xyz" * 7]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.lists(st.sampled_from(LINE_BYTES), max_size=8).map(b"".join), max_size=12),
       st.sampled_from([1, 2, 5, 1 << 14]), st.sampled_from([(b"\x00",), (b"\x00", b"\r")]))
def test_undecodable_lines_are_those_that_do_not_decode_alone(
        lines: list[bytes], window: int, refused: tuple[bytes, ...]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "WINDOW", window)
        assert scan.undecodable(lines, refused) == \
            {at for at, line in enumerate(lines) if not decodes(line, refused)}


def parsed(syntax: Syntax, text: str) -> list[str] | None:
    try:
        return syntax.parse_fields(text, 2)
    except MalformedRecord:
        return None


def texts_over(alphabet: str, longest: int) -> list[str]:
    return ["".join(chars) for size in range(1, longest + 1)
            for chars in itertools.product(alphabet, repeat=size)]


@pytest.mark.parametrize(("alphabet", "longest", "syntax"), [
    ('a," ', 7, Syntax()), ("a;'\", ", 6, Syntax(";", "'")), ('a\t" ,', 6, Syntax("\t"))])
def test_csv_reads_every_short_text_as_parse_fields(alphabet: str, longest: int,
                                                    syntax: Syntax) -> None:
    texts = texts_over(alphabet, longest)  # one reader over all: a refusal stops nothing
    found = csvbulk.fields_of(texts, syntax)
    assert found == [parsed(syntax, text) for text in texts]
    assert csvbulk.fields_of(texts[::-1], syntax) == found[::-1]
    # what csv reads has no quoted field open at its end (``Quoted.closed``)
    assert not any(syntax.opens(text.encode()) for text, fields in zip(texts, found,
                                                                      strict=True) if fields)


def test_a_quote_open_at_a_texts_end_does_not_take_the_next_texts() -> None:
    texts = ['a,"b', 'c"', "d", '"e""', 'f,"g"', '"']
    assert csvbulk.fields_of(texts, Syntax()) == [None, ['c"'], ["d"], None, ["f", "g"], None]


def bulk_records(reader: DelimitedReader, lines: list[bytes]) -> list[Record]:
    """The records ``csvbulk.Quoted`` gives for ``lines`` (each a record of its own)."""
    quoted = csvbulk.Quoted(reader)
    places = list(range(len(lines)))
    quoted.closed(lines, places)
    return quoted.records(FIRST, lines, places)


def test_a_field_past_csvs_size_limit_is_left_to_the_reader() -> None:
    reader = reader_of(Dialect())
    lines = [b'"' + b"x" * (csv.field_size_limit() + 1) + b'"', b'"a",b\r']
    assert bulk_records(reader, lines) == [
        (FIRST, ["x" * (csv.field_size_limit() + 1)]), (FIRST + 1, ["a", "b"])]


def assert_read_as_the_reader_reads(dialect: Dialect, lines: list[bytes]) -> None:
    reader = reader_of(dialect)
    assert bulk_records(reader, lines) == [
        (FIRST + at, reader.record(FIRST + at, uncr(line))) for at, line in enumerate(lines)]


@pytest.mark.parametrize(("alphabet", "longest", "dialect"), [
    ('a,"\r ', 7, Dialect()), ("a;'\r\",", 6, DIALECTS[1]), ('a\t"\r ', 6, DIALECTS[2])])
def test_bulk_records_are_the_readers_for_every_short_text(alphabet: str, longest: int,
                                                           dialect: Dialect) -> None:
    lines = [text.encode() for text in texts_over(alphabet, longest)]
    assert_read_as_the_reader_reads(dialect, lines)


RECORD_TOKENS = ['"', '""', ",", ";", "|", "\\", "\r", "a", " ", "é", "\x00", '"x,y"']


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.lists(st.sampled_from(RECORD_TOKENS), max_size=10).map("".join)
                .map(str.encode) | st.sampled_from([b"\xff", b'"\xc3",a', b"\xe9\"x\""]),
                max_size=20),
       st.sampled_from(DIALECTS))
def test_bulk_records_on_random_records(lines: list[bytes], dialect: Dialect) -> None:
    assert_read_as_the_reader_reads(dialect, lines)
