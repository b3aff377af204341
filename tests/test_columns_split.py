"""The column split's shortcuts give what the reader gives, record by record.

The vector path's split (libs/formats/columns.py) finds a batch's records without a Python
step per line; each shortcut is checked against the slow path it stands for:

- ``delimited.record_spans`` (lines found by search, ``scan``) against ``split_records`` (the
  splitter fed every line): every body of up to 6 bytes over ``a , " CR LF``, and over
  ``a | " \\ CR LF`` in a dialect with an escape character, with small record bounds too;
  hypothesis bodies of the tokens of tests/test_csv_properties.py;
- ``scan.undecodable`` against decoding each line on its own, whatever the decoding window.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.formats import scan
from libs.formats.delimited import RawRecord, Syntax, record_spans, split_records
from tests.test_csv_properties import TOKENS

pytestmark = pytest.mark.unit

FIRST = 7  # the first line's number in every body
BOUNDS = [(1 << 20, 10_000), (4, 2), (3, 1)]  # (max record bytes, MAX_RECORD_LINES)
SYNTAXES = [Syntax(), Syntax("|", '"', "\\")]


def uncr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def spans_records(body: bytes, max_bytes: int, syntax: Syntax) -> list[RawRecord]:
    """The records of ``record_spans``, checked for their kinds, in line order."""
    lines, simple, other = record_spans(body, FIRST, max_bytes, syntax)
    split = body.split(b"\n")
    assert lines == (split[:-1] if body.endswith(b"\n") or not body else split)
    ended = len(split) - 1  # the lines before it end with a LF
    assert all(i < ended and syntax.quote_byte not in lines[i] for i in simple)
    own = [RawRecord(FIRST + i, uncr(lines[i])) for i in simple]
    return sorted(own + other, key=lambda record: record.line_no)


def assert_same_records(body: bytes, max_bytes: int, syntax: Syntax) -> None:
    """``record_spans`` finds the records of ``split_records``."""
    assert spans_records(body, max_bytes, syntax) == \
        list(split_records(body, FIRST, max_bytes, syntax)), (body, max_bytes)


@pytest.mark.parametrize(("alphabet", "syntax"), [(b'a,"\r\n', SYNTAXES[0]),
                                                  (b"a|\"\\\r\n", SYNTAXES[1])])
@pytest.mark.parametrize(("max_bytes", "max_lines"), BOUNDS)
def test_record_spans_finds_the_records_of_split_records(
        alphabet: bytes, syntax: Syntax, max_bytes: int, max_lines: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("libs.formats.delimited.MAX_RECORD_LINES", max_lines)
    for size in range(7):
        for body in itertools.product(alphabet, repeat=size):
            assert_same_records(bytes(body), max_bytes, syntax)


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join), st.sampled_from(BOUNDS),
       st.sampled_from(SYNTAXES))
def test_record_spans_on_random_bodies(body: bytes, bounds: tuple[int, int],
                                       syntax: Syntax) -> None:
    max_bytes, max_lines = bounds
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("libs.formats.delimited.MAX_RECORD_LINES", max_lines)
        assert_same_records(body, max_bytes, syntax)


def decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in line


LINE_BYTES = [b"a", b"\xc3\xa9", b"\xc3", b"\xa9", b"\xff", b"\x00", b"\xed\xa0\x80", b"\r",
              b"\xf0\x9f\x98\x80", b"\xf0\x9f", b"\xe2\x82", b",", b"xyz" * 7]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.lists(st.sampled_from(LINE_BYTES), max_size=8).map(b"".join), max_size=12),
       st.sampled_from([1, 2, 5, 1 << 14]))
def test_undecodable_lines_are_those_that_do_not_decode_alone(lines: list[bytes],
                                                              window: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "WINDOW", window)
        assert scan.undecodable(lines) == {at for at, line in enumerate(lines)
                                           if not decodes(line)}
