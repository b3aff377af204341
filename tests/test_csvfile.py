"""Record boundaries, line numbers and the header: the rules both producer and consumer use."""

from __future__ import annotations

import io

import pytest

from libs.csvfile import BLANK, COMPLETE, CONTINUES, RecordSplitter, read_header, split_records
from libs.errors import UserError

pytestmark = pytest.mark.unit


def records(body: bytes, first_line: int = 2, limit: int = 1 << 20) -> list[tuple[int, bytes]]:
    return [(r.line_no, r.data) for r in split_records(body, first_line, limit)]


def test_splitter_states() -> None:
    s = RecordSplitter(1 << 20)
    assert s.feed(b"\n") == BLANK
    assert s.feed(b"\r\n") == BLANK
    assert s.feed(b'a,"b\n') == CONTINUES
    assert s.open
    assert s.feed(b'c""d",e\n') == COMPLETE
    assert not s.open
    assert s.feed(b"x,y") == COMPLETE


def test_lf_crlf_blank_lines_and_no_final_newline() -> None:
    body = b"a,1\r\n\nb,2\n\r\nc,3"
    assert records(body) == [(2, b"a,1\r"), (4, b"b,2"), (6, b"c,3")]


def test_quoted_newlines_span_lines_and_keep_line_of_start() -> None:
    body = b'a,"x\ny\nz",1\nb,"q ""quoted"", with comma",2\n'
    assert records(body, first_line=10) == [
        (10, b'a,"x\ny\nz",1'),
        (13, b'b,"q ""quoted"", with comma",2'),
    ]


def test_unterminated_quote_is_cut_at_the_size_limit() -> None:
    body = b'a,"open\n' + b"line\n" * 10 + b"b,2\n"
    got = records(body, limit=20)
    assert got[0][0] == 2
    assert len(got) > 1, "the open quote must not swallow the rest"
    assert got[-1] == (13, b"b,2")


def test_whitespace_only_line_is_a_record() -> None:
    assert records(b"  \n") == [(2, b"  ")]


def test_header_with_bom_is_read_and_normalised() -> None:
    handle = io.BytesIO(b"\xef\xbb\xbfEmail, First_Name ,x\r\na,b,c\n")
    header = read_header(handle, 1 << 20)
    assert header.columns == ("email", "first_name", "x")
    assert header.next_line == 2
    assert header.end_offset == len(b"\xef\xbb\xbfEmail, First_Name ,x\r\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\nemail\n", "blank"),
        (b"a,\xff\n", "UTF-8"),
        (b"a,b,a\n", "twice"),
    ],
)
def test_bad_headers_are_user_errors(data: bytes, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read_header(io.BytesIO(data), 1 << 20)
