"""The record syntax (libs/csvfile.py): boundaries, fields, the header; each rule of the contract.

The producer's splitter and the consumer's parser are both built on these functions; the
property test (test_csv_properties.py) checks that they agree on random input.
"""

from __future__ import annotations

import io

import pytest

from libs.constants import MAX_HEADER_BYTES, MAX_RECORD_LINES
from libs.csvfile import (
    BLANK,
    COMPLETE,
    CONTINUES,
    MalformedRecord,
    RecordSplitter,
    parse_fields,
    read_header,
    split_records,
)
from libs.errors import UserError
from libs.schema import from_file
from libs.schema.compile import plan as make_plan
from producer.chunks import Chunk, Position, iter_chunks

CUSTOMERS = from_file.load("customers")
NAMES = CUSTOMERS.field_names

pytestmark = pytest.mark.unit

BOUND = (f"a record ends after at most {MAX_RECORD_LINES} lines or 16 MiB, or at the end of the "
         "file")


def records(body: bytes, first_line: int = 2, limit: int = 1 << 20) -> list[tuple[int, bytes]]:
    return [(r.line_no, r.data) for r in split_records(body, first_line, limit)]


def fields(text: str, line_no: int = 2) -> list[str]:
    return parse_fields(text, line_no)


def malformed(text: str, line_no: int = 2) -> str:
    with pytest.raises(MalformedRecord) as caught:
        parse_fields(text, line_no)
    return str(caught.value)


# --- record boundaries ----------------------------------------------------------------------


def test_splitter_states() -> None:
    s = RecordSplitter(1 << 20)
    assert s.feed(b"") == BLANK
    assert s.feed(b"\r") == BLANK  # CRLF blank line
    assert s.feed(b'a,"b') == CONTINUES
    assert s.open
    assert s.feed(b'c""d",e') == COMPLETE
    assert not s.open
    assert s.feed(b"x,y", terminated=False) == COMPLETE


def test_a_quote_opens_a_field_only_at_its_start() -> None:
    s = RecordSplitter(1 << 20)
    assert s.feed(b'Wilson"s Mills,x') == COMPLETE  # odd count: literal, no quoted field
    assert s.feed(b'a,O"Neil,b"') == COMPLETE
    assert s.feed(b'a,"b,c') == CONTINUES


def test_doubled_quote_at_a_line_end_keeps_the_field_open() -> None:
    s = RecordSplitter(1 << 20)
    assert s.feed(b'a,"x""') == CONTINUES
    assert s.feed(b'""') == CONTINUES
    assert s.feed(b'"') == COMPLETE  # closes right before the line end


def test_a_malformed_close_ends_the_record_at_its_line_end() -> None:
    s = RecordSplitter(1 << 20)
    # The rest of the line is literal: its `,"` opens nothing.
    assert s.feed(b'"Cafe "Blue" Door",US,"open') == COMPLETE
    assert not s.open
    assert s.feed(b'a,"x') == CONTINUES
    assert s.feed(b'y"z,"w') == COMPLETE  # on a continuation line too


def test_closing_quote_before_crlf_closes_but_before_a_lone_cr_is_malformed() -> None:
    s = RecordSplitter(1 << 20)
    assert s.feed(b'a,"x"\r') == COMPLETE
    assert s.feed(b'a,"x"\rb,"y') == COMPLETE  # malformed: ends here, `"y` opens nothing


def test_lf_crlf_blank_lines_and_no_final_newline() -> None:
    body = b"a,1\r\n\nb,2\n\r\nc,3"
    assert records(body) == [(2, b"a,1"), (4, b"b,2"), (6, b"c,3")]


def test_lone_cr_is_data_inside_a_record_and_at_the_end_of_data() -> None:
    assert records(b"a\rb,c\r\n") == [(2, b"a\rb,c")]
    assert records(b"x\n\r") == [(2, b"x")]  # a last line of only a CR is blank (F11)
    assert records(b"x\r\n\r") == [(2, b"x")]
    assert records(b"x\n\rx") == [(2, b"x"), (3, b"\rx")]
    assert records(b"\r\n\r\r\n") == [(3, b"\r")]
    assert fields("a\rb,c") == ["a\rb", "c"]


def test_crlf_and_lf_inside_a_quoted_field_are_data() -> None:
    body = b'a,"x\r\ny\nz",1\r\nb,2\n'
    assert records(body) == [(2, b'a,"x\r\ny\nz",1'), (5, b"b,2")]
    assert fields('a,"x\r\ny\nz",1') == ["a", "x\r\ny\nz", "1"]


def test_quoted_newlines_span_lines_and_keep_line_of_start() -> None:
    body = b'a,"x\ny\nz",1\nb,"q ""quoted"", with comma",2\n'
    assert records(body, first_line=10) == [
        (10, b'a,"x\ny\nz",1'),
        (13, b'b,"q ""quoted"", with comma",2'),
    ]


def test_lone_quotes_do_not_swallow_the_next_records() -> None:
    body = (b'a,Wilson"s Mills,x\nb,2\nc,O"Neil\nd,4\n'
            b'e,"O\\"Jones",5\nf,6\n')
    assert [line for line, _ in records(body)] == [2, 3, 4, 5, 6, 7]


def test_quote_right_at_the_end_of_data() -> None:
    assert records(b'a,"x"') == [(2, b'a,"x"')]
    assert fields('a,"x"') == ["a", "x"]
    assert records(b'a,b"') == [(2, b'a,b"')]
    assert fields('a,b"') == ["a", 'b"']
    assert records(b'a,"') == [(2, b'a,"')]
    assert malformed('a,"') == ("quoted field opened on line 2 (field 2) is not closed within "
                                f"lines 2-2 ({BOUND})")
    assert records(b'b,"x\n') == [(2, b'b,"x')]  # open at the end of data: one record


def test_unterminated_quote_ends_after_max_record_lines() -> None:
    body = b'a,"open\n' + b"line\n" * (MAX_RECORD_LINES + 5) + b"b,2\n"
    got = records(body)
    assert got[0][0] == 2
    assert got[0][1].count(b"\n") == MAX_RECORD_LINES - 1
    assert [line for line, _ in got[1:]] == list(range(2 + MAX_RECORD_LINES,
                                                       2 + MAX_RECORD_LINES + 7))
    assert got[-1] == (2 + MAX_RECORD_LINES + 6, b"b,2")
    assert malformed(got[0][1].decode()) == (
        f"quoted field opened on line 2 (field 2) is not closed within lines 2-"
        f"{MAX_RECORD_LINES + 1} ({BOUND})")


def test_unterminated_quote_is_cut_at_the_size_limit() -> None:
    body = b'a,"open\n' + b"line\n" * 10 + b"b,2\n"
    got = records(body, limit=20)
    # 8 + 5 + 5 = 18 bytes, then 23 > 20: the record ends with the line that passes the limit
    assert got[0] == (2, b'a,"open\nline\nline\nline')
    assert got[-1] == (13, b"b,2")
    assert len(got) == 1 + 7 + 1, "the open quote must not swallow the rest"


def test_whitespace_only_line_is_a_record() -> None:
    assert records(b"  \n") == [(2, b"  ")]


# --- fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("a,b,,c", ["a", "b", "", "c"]),
    ('"a,b","c""d",""', ["a,b", 'c"d', ""]),
    ('Wilson"s Mills,O"Neil,x"', ['Wilson"s Mills', 'O"Neil', 'x"']),
    ('"C:\\Users\\hal\\",US', ["C:\\Users\\hal\\", "US"]),
    (' "a",b', [' "a"', "b"]),  # a space first: the quote is not at the field's start
    ('"""",x', ['"', "x"]),
    (",", ["", ""]),
])
def test_fields(text: str, expected: list[str]) -> None:
    assert fields(text) == expected


def test_a_quote_closed_before_other_text_is_malformed_and_says_where() -> None:
    text = 'f@x.org,Fay,Grant,,1980-05-05,"Cafe "Blue" Door",US,,1.00'
    assert malformed(text) == ("field 6: closing quote at line 2, column 37 is followed by 'B' "
                               "(a quote inside a quoted field must be doubled)")
    assert malformed('a,"O\\"Jones",b', 7).startswith(
        "field 2: closing quote at line 7, column 6 is followed by 'J'")
    assert malformed('a,"x\ny"z', 4).startswith("field 2: closing quote at line 5, column 2 ")
    assert "followed by '\\r'" in malformed('"x"\r')
    assert "followed by ' '" in malformed('"x" ,y')


def test_an_unclosed_quoted_field_names_its_lines() -> None:
    assert malformed('a,b,"x\ny\nz', 10) == (
        f"quoted field opened on line 10 (field 3) is not closed within lines 10-12 ({BOUND})")
    assert malformed('a,"x""', 3) == (
        f"quoted field opened on line 3 (field 2) is not closed within lines 3-3 ({BOUND})")


# --- the header -----------------------------------------------------------------------------


def test_header_with_bom_is_read_and_normalised() -> None:
    handle = io.BytesIO(b"\xef\xbb\xbfEmail, First_Name ,x\r\na,b,c\n")
    header = read_header(handle)
    assert header.columns == ("email", "first_name", "x")
    assert header.next_line == 2
    assert header.end_offset == len(b"\xef\xbb\xbfEmail, First_Name ,x\r\n")


def test_header_keeps_empty_names_and_plan_ignores_them() -> None:
    names = b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance"
    header = read_header(io.BytesIO(b"," + names + b",,\r\nx\n"))
    assert header.columns[0] == header.columns[-1] == header.columns[-2] == ""
    plan = make_plan(CUSTOMERS, header.columns)
    assert plan.extra == ("", "", "")
    assert plan.field_count == 12
    assert plan.index[0] == 1


def test_header_in_quotes_over_two_lines() -> None:
    header = read_header(io.BytesIO(b'"a\nb",c\nx,y\n'))
    assert header.columns == ("a\nb", "c")
    assert header.next_line == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\nemail\n", "blank"),
        (b"\r\nemail\n", "blank"),
        (b"a,\xff\n", "UTF-8"),
        (b'a,"b"c\n', "not valid CSV: field 2: closing quote at line 1, column 5"),
        (b'a,"b\nc\n', "not valid CSV: quoted field opened on line 1 (field 2)"),
        (b"a,b\rc,d\re,f\r", "CR-only line ends"),
        (b"a,b\r", "CR-only line ends"),
        (b"a,b\rc,d\r\n", "CR-only line ends"),
        (b"a,b\r\rc\r\n", "CR-only line ends"),
        (b"a,b\r\r\n", "line 1 ends with CR CR LF"),  # F13: not CR-only line ends
        (b"\xef\xbb\xbf", "only a UTF-8 byte order mark"),  # F13: not "lacks columns"
        (b",,\n", "the header (line 1) is empty"),
        (b" , \r\nx\n", "the header (line 1) is empty"),
        ("email,x\n".encode("utf-16-le"), "looks like UTF-16 .*--encoding utf-16le$"),
        ("email,x\n".encode("utf-16-be"), "looks like UTF-16 .*--encoding utf-16be$"),
        ("email,x\n".encode("utf-16"), "UTF-16 byte order mark.*--encoding utf-16$"),
        (b"a,b\x00\n", "holds a NUL byte"),
    ],
)
def test_bad_headers_are_user_errors(data: bytes, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_header(io.BytesIO(data))


def test_cr_only_error_says_how_to_convert() -> None:
    with pytest.raises(UserError) as caught:
        read_header(io.BytesIO(b"email,x\ra,b\r" * 10))
    assert "tr '\\r' '\\n'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_header_is_read_with_bounded_memory() -> None:
    handle = io.BytesIO(b"a," * (2 * MAX_HEADER_BYTES) + b"\n")
    with pytest.raises(UserError, match="longer than"):
        read_header(handle)
    assert handle.tell() <= MAX_HEADER_BYTES + 1
    cr_only = io.BytesIO(b"a,b\r" * MAX_HEADER_BYTES)
    with pytest.raises(UserError, match="CR-only"):
        read_header(cr_only)
    assert cr_only.tell() <= MAX_HEADER_BYTES + 1


@pytest.mark.parametrize(("names", "message"), [
    (("email", "email"), "names 'email' more than once"),
    (("", "city", "x", "", "x"), "names 'city', 'x' more than once$"),
])
def test_duplicate_names_are_a_user_error_naming_them(names: tuple[str, ...],
                                                      message: str) -> None:
    with pytest.raises(UserError, match=message):
        make_plan(CUSTOMERS, (*NAMES, *names))


def test_two_empty_names_are_not_duplicates() -> None:
    plan = make_plan(CUSTOMERS, ("", *NAMES, ""))
    assert plan.extra == ("", "")


def test_header_of_exactly_the_limit_is_read() -> None:
    names = b"email," + b"x" * (MAX_HEADER_BYTES - 6)
    assert len(names) == MAX_HEADER_BYTES
    assert read_header(io.BytesIO(names + b"\na\n")).columns[0] == "email"
    assert read_header(io.BytesIO(names)).next_line == 2  # and no line end at all
    with pytest.raises(UserError, match="longer than"):
        read_header(io.BytesIO(names + b"x\n"))
    with pytest.raises(UserError, match="longer than"):
        read_header(io.BytesIO(b'"a\n' + names + b'"\n'))  # a quoted header going on


def test_crlf_header_with_quoted_crlf_and_a_crlf_end_is_not_cr_only() -> None:
    header = read_header(io.BytesIO(b'a,"x\r\ny",b\r\nrow\r\n'))
    assert header.columns == ("a", "x\r\ny", "b")
    assert header.next_line == 3


# --- physical lines past the record limit (F6) ------------------------------------------------


def chunk_until_refused(data: bytes, limit: int, block: int) -> tuple[list[Chunk], str]:
    """The batches made before the UserError and its message."""
    got: list[Chunk] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("libs.formats.chunking.BLOCK", block)
        with pytest.raises(UserError) as caught:
            got.extend(iter_chunks(io.BytesIO(data), Position(0, 0, 2, 0), 2, limit, 1 << 20))
    return got, str(caught.value)


@pytest.mark.parametrize("block", [1, 5, 64, 4 << 20])
def test_a_cr_only_part_stops_after_the_batches_before_it(block: int) -> None:
    data = b"a,1\nb,2\nc,3\n" + b"d,4\re,5\r" * 20 + b"\n"
    chunks, message = chunk_until_refused(data, 100, block)
    assert [(c.first_line, c.records) for c in chunks] == [(2, 2), (4, 1)]  # lines 2-4
    assert message.startswith("line 5 holds a CR not followed by LF: the file has CR-only "
                              "line ends")


@pytest.mark.parametrize("block", [1, 5, 64, 4 << 20])
def test_an_over_long_line_names_its_line_and_the_limit(block: int) -> None:
    data = b'a,1\n"q\nq",2\n' + b"x" * 101 + b"\r\nb,2\n"
    chunks, message = chunk_until_refused(data, 100, block)
    assert [(c.first_line, c.records) for c in chunks] == [(2, 2)]
    assert message.startswith("line 5 is longer than 100 bytes, the record limit")
    assert "CR-only" not in message


def test_a_line_of_exactly_the_limit_is_read_and_a_crlf_split_by_it_is_no_lone_cr() -> None:
    data = b"x" * 99 + b"\r\n" + b"y" * 100 + b"\n"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("libs.formats.chunking.BLOCK", 7)
        chunks = list(iter_chunks(io.BytesIO(data), Position(0, 0, 2, 0), 5, 100, 1 << 20))
    assert [c.records for c in chunks] == [2]
    _, message = chunk_until_refused(b"x" * 100 + b"\r\n", 100, 7)
    assert "CR-only" not in message  # the 101st byte is the CR of a CRLF


def test_an_open_quoted_field_spans_up_to_max_record_lines() -> None:
    lines = b"\n".join(b"l%d" % i for i in range(MAX_RECORD_LINES))  # exactly the bound
    body = b'a,"' + lines + b'",1\nb,2\n'
    assert [line for line, _ in records(body)] == [2, 2 + MAX_RECORD_LINES]
