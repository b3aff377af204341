"""The reader seam (libs/formats): dialects, the aligned layout, encodings, sniffing hints.

Each reader is checked end to end of the seam: the producer's side (read_header, iter_chunks)
and the consumer's (records, raw), on the same bytes, so they must agree.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.errors import UserError
from libs.formats import Position, Reader, character, reader_for, with_overrides
from libs.formats.aligned import column_starts
from libs.formats.delimited import DEFAULT_SYNTAX, MalformedRecord, Syntax
from libs.formats.encodings import Utf8Stream
from libs.formats.sniff import hints
from libs.schema import from_file
from libs.schema.compile import Reject, plan
from libs.schema.model import Dataset, Dialect
from tests import checker
from tests.test_csv_properties import physical_lines

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS = from_file.load("customers")
NAMES = CUSTOMERS.field_names


def dataset(delimiter: str = ",", quote: str = '"', escape: str | None = None,
            header: bool = True, encoding: str = "utf-8") -> Dataset:
    return replace(CUSTOMERS, dialect=Dialect(delimiter, quote, escape, header),
                   encoding=encoding)


def run(reader: Reader, data: bytes, batch_size: int = 3,
        batch_bytes: int = 1 << 20) -> tuple[tuple[str, ...], list[tuple[int, object]]]:
    """(header columns, every record's outcome) through the producer's and consumer's sides."""
    handle = io.BytesIO(data)
    header = reader.read_header(handle)
    handle.seek(header.end_offset)
    start = Position(0, header.end_offset, header.next_line, 0)
    bound = reader.with_header(header.columns)
    out: list[tuple[int, object]] = []
    for chunk in reader.iter_chunks(handle, start, batch_size, batch_bytes):
        found = list(bound.records(chunk.body, chunk.first_line))
        assert len(found) == chunk.records, "the producer's count is the consumer's"
        assert sorted(bound.raw(chunk.body, chunk.first_line)) == [line for line, _ in found]
        out += found
    return header.columns, out


def row(*values: str) -> list[str]:
    return list(values)


# --- delimited dialects ----------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_read_like_commas(delimiter: str) -> None:
    comma = ('a,"b,' + delimiter + '""x",c\r\n"multi\nline",,\n\nd,e"f,g\n').encode()
    other = comma.replace(b",", b"\x00").replace(delimiter.encode(), b",")
    other = other.replace(b"\x00", delimiter.encode())
    assert other != comma
    header = ",".join(NAMES).encode() + b"\n"
    _, expected = run(reader_for(dataset()), header + comma)
    names, found = run(reader_for(dataset(delimiter)),
                       header.replace(b",", delimiter.encode()) + other)
    assert names == NAMES

    def swap(value: object) -> object:
        if isinstance(value, list):
            table = str.maketrans({",": delimiter, delimiter: ","})
            return [field.translate(table) for field in value]
        return value
    assert found == [(line, swap(value)) for line, value in expected]
    assert found[0] == (2, ["a", f'b{delimiter},"x', "c"])


def test_semicolon_file_values_keep_their_commas() -> None:
    data = b"email;balance\nx@y.io;1,50\n"
    reader = reader_for(dataset(";"))
    assert run(reader, data) == (("email", "balance"), [(2, ["x@y.io", "1,50"])])


def test_escape_char_mysql_style() -> None:
    syntax = Syntax(",", '"', "\\")
    assert syntax.parse_fields(r'"O\"Neil",b', 2) == ['O"Neil', "b"]
    assert syntax.parse_fields(r'"a\\",b', 2) == ["a\\", "b"]
    assert syntax.parse_fields(r'"a\\\"",b', 2) == ['a\\"', "b"]
    assert syntax.parse_fields(r'"a\n""b",c', 2) == ['a\\n"b', "c"]  # other escapes kept
    assert syntax.parse_fields(r'O\"Neil,b', 2) == ['O\\"Neil', "b"]  # outside quotes: text
    with pytest.raises(MalformedRecord):
        syntax.parse_fields(r'"a\"', 2)  # the escaped quote does not close
    # Without the escape character the same record is malformed (issue 10's reading).
    with pytest.raises(MalformedRecord):
        DEFAULT_SYNTAX.parse_fields(r'"O\"Neil",b', 2)


def test_escape_char_record_boundaries() -> None:
    data = b'email,first_name\n"a\\"\nstill a",x\nb,"\\\\"\nc,d\n'
    _, found = run(reader_for(dataset(escape="\\")), data)
    assert found == [(2, ['a"\nstill a', "x"]), (4, ["b", "\\"]), (5, ["c", "d"])]


def test_headerless_file_takes_the_dataset_names() -> None:
    data = codecs.BOM_UTF8 + b"a@b.io,A,B,1,,,,,\n\nc@d.io,C,D,2,,,,,"
    reader = reader_for(dataset(header=False))
    names, found = run(reader, data)
    assert names == NAMES
    assert [line for line, _ in found] == [1, 3]
    assert found[0][1] == ["a@b.io", "A", "B", "1", "", "", "", "", ""]
    assert reader.read_header(io.BytesIO(b"x\n")).end_offset == 0


def test_bad_dialects_are_user_errors() -> None:
    for bad in (dataset(";", ";"), dataset(quote="ab"), dataset("é"), dataset(escape='"')):
        with pytest.raises(UserError):
            reader_for(bad)
    with pytest.raises(UserError, match="encoding"):
        reader_for(dataset(encoding="shift_jis"))
    assert character("tab", "--delimiter") == character("\\t", "--delimiter") == "\t"
    with pytest.raises(UserError):
        character(";;", "--delimiter")


def test_overrides_apply_to_the_dataset() -> None:
    changed = with_overrides(CUSTOMERS, delimiter="tab", quote_char="'", escape_char="\\",
                             encoding="latin-1", no_header=True)
    assert changed.dialect == Dialect("\t", "'", "\\", False)
    assert changed.encoding == "latin-1"
    assert changed.fingerprint != CUSTOMERS.fingerprint  # the dialect travels with the job
    assert with_overrides(CUSTOMERS) == CUSTOMERS


TOKENS = ['"', '""', ";", "\\", '\\"', "\r", "\n", "\r\n", "a", "é", "\n\n", '"q;\r\nx"',
          "x;y;z\n"]


@settings(max_examples=600, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join), st.integers(1, 4),
       st.integers(1, 80), st.booleans(), st.sampled_from([";", "\t", "|"]))
def test_dialect_splitter_and_parser_agree(text: str, batch_size: int, batch_bytes: int,
                                           escape: bool, delimiter: str) -> None:
    """Semicolon, tab or pipe, with or without an escape char: every record counted once by
    both sides, on the lines and with the fields the independent checker finds; the batches
    the same from any resume point."""
    reader = reader_for(dataset(delimiter, escape="\\" if escape else None))
    data = f"email{delimiter}x\n{text.replace(';', delimiter)}".encode()
    handle = io.BytesIO(data)
    header = reader.read_header(handle)
    start = Position(0, header.end_offset, 2, 0)
    handle.seek(start.byte)
    chunks = list(reader.iter_chunks(handle, start, batch_size, batch_bytes))
    lines: list[int] = []
    for chunk in chunks:
        found = [line for line, _ in reader.records(chunk.body, chunk.first_line)]
        assert len(found) == chunk.records
        lines += found
    assert lines == sorted(set(lines))
    dialect = checker.CsvDialect(delimiter, '"', "\\" if escape else None)
    expected = list(checker.iter_records(physical_lines(data), dialect))[1:]
    assert lines == [line for line, _ in expected], "the checker's record boundaries"
    syntax = reader.syntax  # type: ignore[attr-defined]
    for line, record in expected:
        try:
            mine: list[str] | None = syntax.parse_fields(record.decode(), line)
        except MalformedRecord:
            mine = None
        try:
            theirs: list[str] | None = checker.split_fields(record.decode(), dialect)
        except checker.Invalid:
            theirs = None
        assert mine == theirs, record
    for chunk in chunks[:-1]:
        handle.seek(chunk.end.byte)
        assert list(reader.iter_chunks(handle, chunk.end, batch_size, batch_bytes)) == \
            chunks[chunk.seq + 1:]


# --- aligned ---------------------------------------------------------------------------------

USER_PURCHASE = from_file.load("user_purchase")


def test_aligned_sample() -> None:
    data = (ROOT / "data" / "user_purchase_sample.txt").read_bytes()
    reader = reader_for(USER_PURCHASE)
    names, found = run(reader, data)
    assert plan(USER_PURCHASE, names).columns == USER_PURCHASE.field_names
    assert len(found) == 6
    assert found[1] == (3, ["698.797.309-17", "0", "0", "2013-05-13", "1.090,00", "299,99",
                            "11.417.075/0001-99", "36.455.681/0001-20"])
    assert found[0][1] == ["158.813.998-03", "0", "0"] + ["NULL"] * 5


def test_aligned_column_rule() -> None:
    fields = ("a_b", "c", "d_e", "f")
    line = "A B   C    D E F"
    assert column_starts(line, fields) == [0, 6, 11, 15]
    assert column_starts("  X  Y", ("x", "y")) == [0, 5]  # the first column starts at 0
    assert column_starts("UNKNOWN NAME  Y", ("y",)) == [0, 14]  # no split: kept whole
    assert column_starts("", ()) == []


def test_aligned_lines_shorter_longer_and_shifted() -> None:
    ds = replace(USER_PURCHASE, fields=USER_PURCHASE.fields[:3], primary_key=())
    data = (b"CPF    PRIVATE  INCOMPLETO\r\n"
            b"1      0        1\r\n"
            b"   \t  \r\n"
            b"2      0\n"
            b"3      0        1        extra tail\n"
            b"4444444444 1    0\n")
    names, found = run(reader_for(ds), data)
    assert [n.strip() for n in names] == ["CPF", "PRIVATE", "INCOMPLETO"]
    assert found == [(2, ["1", "0", "1"]), (4, ["2", "0", ""]),
                     (5, ["3", "0", "1        extra tail"]),
                     (6, ["4444444", "444 1", "0"])]  # text in the gap: still cut


def test_aligned_needs_a_header_and_decodes_each_line() -> None:
    with pytest.raises(UserError, match="header"):
        reader_for(replace(USER_PURCHASE, dialect=Dialect(header=False))).read_header(
            io.BytesIO(b"x\n"))
    ds = replace(USER_PURCHASE, fields=USER_PURCHASE.fields[:2], primary_key=(),
                 encoding="cp1252")
    _names, found = run(reader_for(ds), b"CPF  PRIVATE\nJo\xe3o 1\nx\x81y 0\n")
    assert found[0] == (2, ["João", "1"])
    assert found[1] == (3, Reject("invalid_encoding", "byte 0x81 at offset 1 is not cp1252"))


# --- encodings -------------------------------------------------------------------------------

LATIN = "email;first_name\nzé@x.io;Zoë\nñ@x.io;Ñandú\n"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_single_byte_encodings(encoding: str) -> None:
    reader = reader_for(dataset(";", encoding=encoding))
    assert run(reader, LATIN.encode(encoding))[1] == [
        (2, ["zé@x.io", "Zoë"]), (3, ["ñ@x.io", "Ñandú"])]
    assert reader.printable("Zoë".encode(encoding)) == "Zoë"


def test_cp1252_undecodable_byte_is_invalid_encoding() -> None:
    data = b'email,first_name\na@x.io,\x80uro\nb@x.io,b\x8fad\n"c@x.io","q\x9d"\n'
    _, found = run(reader_for(dataset(encoding="cp1252")), data)
    assert found[0] == (2, ["a@x.io", "€uro"])
    assert found[1] == (3, Reject("invalid_encoding", "byte 0x8f at offset 8 is not cp1252"))
    assert found[2] == (4, Reject("invalid_encoding", "byte 0x9d at offset 11 is not cp1252"))


def test_utf8_with_bom() -> None:
    data = codecs.BOM_UTF8 + "email,first_name\nzé@x.io,Zoë\n".encode()
    for encoding in ("utf-8", "utf-8-sig"):
        assert run(reader_for(dataset(encoding=encoding)), data) == (
            ("email", "first_name"), [(2, ["zé@x.io", "Zoë"])])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16le", "utf-16be"])
def test_utf16_is_transcoded_and_resumes(encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("libs.formats.encodings.BLOCK", 7)  # decoder state across blocks
    text = "email,first_name\n" + "".join(f"u{i}@x.io,Zoë 漢字 {i}\n" for i in range(20))
    bom = {"utf-16": b"", "utf-16le": codecs.BOM_UTF16_LE, "utf-16be": codecs.BOM_UTF16_BE}
    data = bom[encoding] + text.encode(encoding)
    reader = reader_for(dataset(encoding=encoding))
    assert reader.wire_encoding == "utf-8"
    handle = io.BytesIO(data)
    header = reader.read_header(handle)
    assert header.columns == ("email", "first_name")
    start = Position(0, header.end_offset, 2, 0)
    chunks = list(reader.iter_chunks(handle, start, 6, 1 << 20))
    assert b"".join(c.body for c in chunks) == text.encode()[len("email,first_name\n"):]
    assert [v for c in chunks for _, v in reader.records(c.body, c.first_line)][3] == \
        ["u3@x.io", "Zoë 漢字 3"]
    handle.seek(12345)  # the producer's seek means nothing: the reader skips to the offset
    assert list(reader.iter_chunks(handle, chunks[1].end, 6, 1 << 20)) == chunks[2:]


def test_bad_utf16_becomes_invalid_encoding() -> None:
    data = codecs.BOM_UTF16_LE + "email\na\n".encode("utf-16-le") + b"\x00\xd8\n\x00b\x00\n\x00x"
    reader = reader_for(dataset(encoding="utf-16"))
    _, found = run(reader, data)
    assert found[0] == (2, ["a"])
    assert isinstance(found[1][1], Reject)
    assert found[1][1].reason == "invalid_encoding"
    assert found[2] == (4, ["b"])
    assert isinstance(found[3][1], Reject)  # the odd last byte


def test_utf8_stream_reads_lines_bounded() -> None:
    stream = Utf8Stream(io.BytesIO("ab\ncd".encode("utf-16")), "utf-16")
    assert stream.readline(2) == b"ab"
    assert stream.readline() == b"\n"
    assert stream.read() == b"cd"
    assert stream.seek(1) == 1
    assert stream.read(2) == b"b\n"


# --- hints -----------------------------------------------------------------------------------

def test_hints_for_a_semicolon_latin1_file() -> None:
    sample = ("email;first_name;last_name\n" + "zé@x.io;Zoë;Müller\n" * 40).encode("latin-1")
    found = hints(sample, CUSTOMERS)
    assert len(found) == 2
    assert "--encoding" in found[0]
    assert "utf-8" in found[0]
    assert "try --delimiter ';'" in found[1]
    assert hints(sample, dataset(";", encoding="latin-1")) == []


def test_hints_utf8_under_latin1_tab_and_utf16_bom() -> None:
    assert "--encoding utf-8" in hints("email,a\nzé,b\n".encode(), dataset(encoding="cp1252"))[0]
    assert "--delimiter tab" in hints(b"email\tfirst_name\n", CUSTOMERS)[0]
    assert "utf-16" in hints("email\n".encode("utf-16"), CUSTOMERS)[0]
    assert hints(b"email,first_name\na,b\n", CUSTOMERS) == []
    assert hints(b"email\n", CUSTOMERS) == []  # one column, nothing else: no hint


def test_producer_reader_takes_the_options() -> None:
    from libs.settings import ProducerSettings
    from producer.app import Producer

    settings = ProducerSettings(file=Path("x.csv"), delimiter=";", encoding="latin-1",
                                escape_char="\\", no_header=True)
    reader = Producer(settings)._reader(CUSTOMERS)
    assert reader.dataset.dialect == Dialect(";", '"', "\\", False)
    assert reader.dataset.encoding == "latin-1"
    assert Producer(ProducerSettings(file=Path("x.csv")))._reader(CUSTOMERS).dataset == CUSTOMERS


def test_prepare_reads_with_the_jobs_reader() -> None:
    """The consumer side: a semicolon latin-1 batch, decoded and split by the dataset's reader;
    keys from a libs.schema plan (single, composite, none)."""
    from libs.messages import Batch
    from libs.validate import prepare

    ds = dataset(";", encoding="latin-1")
    body = "zé@x.io;Zoë;M;1;;;;;\nZé@x.io;Z;M;1;;;;;\nbad;a\n".encode("latin-1")
    batch = Batch("j", "customers", 0, 2, 4, 3, NAMES, "f.csv", body)
    out = prepare(batch, plan(ds, NAMES), reader_for(ds))
    assert [row[:2] for row in out.rows] == [("zé@x.io", "Zoë")]
    assert [(r.line_no, r.reason, r.raw) for r in out.rejects] == [
        (3, "duplicate_key", "Zé@x.io;Z;M;1;;;;;"), (4, "wrong_column_count", "bad;a")]
    assert out.rejects[0].detail == "email zé@x.io already on line 2"
    pair = replace(ds, primary_key=("email", "first_name"))
    out = prepare(batch, plan(pair, NAMES), reader_for(pair))
    assert [r.line_no for r in out.rejects] == [4]
    assert list(out.duplicates) == []
    keyless = replace(ds, primary_key=())
    twice = Batch("j", "customers", 0, 2, 3, 2, NAMES, "f.csv",
                  (body.split(b"\n")[0] + b"\n") * 2)
    out = prepare(twice, plan(keyless, NAMES), reader_for(keyless))
    assert len(out.rows) == 2
    assert out.rejects == []
