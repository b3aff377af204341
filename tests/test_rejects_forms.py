"""The rejects export's forms (libs/rejects_forms.py) on their own: dialect quoting, a
header-less dataset, UTF-16 records with undecodable bytes, the aligned widths. The rows are
read back with the independent checker's splitter."""

from __future__ import annotations

import io

import pytest

from libs.formats import reader_for
from libs.formats.encodings import Utf8Stream
from libs.rejects_forms import AlignedCsv, DelimitedCsv, Exported, Jsonl
from libs.schema.model import Dataset, Dialect, Table
from tests.checker import CsvDialect, decode, iter_records, split_fields

pytestmark = pytest.mark.unit


def dataset(dialect: Dialect | None = None, encoding: str = "utf-8",
            layout: str = "delimited") -> Dataset:
    return Dataset("t", Table("t"), (), dialect=dialect or Dialect(), encoding=encoding,
                   layout=layout)


@pytest.mark.parametrize(("delimiter", "quote", "escape"),
                         [(",", '"', None), (";", "'", None), ("|", '"', "\\"),
                          ("\t", '"', None)])
def test_prefix_fields_are_quoted_as_the_dialect_reads_them(
        delimiter: str, quote: str, escape: str | None) -> None:
    reader = reader_for(dataset(Dialect(delimiter, quote, escape)))
    form = DelimitedCsv(reader, ("a", "b"))
    detail = f"x{delimiter}y {quote}q{quote} \\ back\\{quote} line\nend"
    record = f"1{delimiter}{quote}odd".encode()  # malformed: kept as it came
    out = form.head() + form.row(Exported(7, "malformed_csv", detail, "", record, True))
    dialect = CsvDialect(delimiter, quote, escape)
    rows = list(iter_records(iter(io.BytesIO(out).readlines()), dialect))
    assert split_fields(decode(rows[0][1], dialect), dialect) == [
        "_line", "_reason", "_detail", "a", "b"]
    row = rows[1][1]
    assert row.endswith(delimiter.encode() + record)
    lead = split_fields(decode(row[: -len(record)], dialect), dialect)
    assert lead == ["7", "malformed_csv", detail, ""]


def test_a_header_less_dataset_has_no_header_line() -> None:
    reader = reader_for(dataset(Dialect(header=False)))
    form = DelimitedCsv(reader, ("a", "b"))
    assert form.head() == b""
    assert form.row(Exported(1, "r", "d", "x,y", b"x,y", True)) == b"1,r,d,x,y\n"


def test_a_rebuilt_record_is_one_field() -> None:
    form = DelimitedCsv(reader_for(dataset()), ("a", "b"))
    row = form.row(Exported(3, "duplicate_key", "d; why", "a,b", b"a,b", False))
    assert row == b'3,duplicate_key,d; why,"a,b"\n'


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_records_come_back_as_the_file_bytes(encoding: str) -> None:
    unit = "utf-16-le" if encoding == "utf-16" else encoding
    bad = b"\x00\xd8" if unit == "utf-16-le" else b"\xd8\x00"  # a lone high surrogate
    record = "é,".encode(unit) + bad + "x".encode(unit)
    wire = Utf8Stream(io.BytesIO(("\ufeff" if encoding == "utf-16" else "").encode(unit)
                                 + record), encoding).read()
    reader = reader_for(dataset(encoding=encoding))
    form = DelimitedCsv(reader, ("a", "b"))
    out = form.head() + form.row(Exported(2, "invalid_encoding", "d", "", wire, True))
    prefix = (("\ufeff" if encoding == "utf-16" else "")
              + "_line,_reason,_detail,a,b\n2,invalid_encoding,d,")
    assert out == prefix.encode(unit) + record + "\n".encode(unit)
    jsonl = Jsonl(reader, ("a", "b")).row(Exported(2, "invalid_encoding", "d", "é,\ufffdx",
                                                    wire, True))
    assert b'"raw_base64"' in jsonl


def test_aligned_leading_columns_have_one_width() -> None:
    reader = reader_for(dataset(layout="aligned"))
    form = AlignedCsv(reader, ("CPF   ", "NAME"), (3, 11, 20))
    head = form.head().decode()
    row = form.row(Exported(123, "invalid_cpf", "cpf\tbad\nvalue", "", b"1.2-3 Ann", True))
    width = len("_line") + 2 + len("invalid_cpf") + 2 + 20 + 2
    assert head == "_line".ljust(7) + "_reason".ljust(13) + "_detail".ljust(22) + "CPF   NAME\n"
    assert row.decode() == "123".ljust(7) + "invalid_cpf".ljust(13) + \
        "cpf bad value".ljust(22) + "1.2-3 Ann\n"
    assert head.index("CPF") == row.decode().index("1.2") == width
