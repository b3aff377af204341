"""Property test: the producer's splitter, the consumer's parser and the checker agree.

Random mixes of quotes, CR, LF, CRLF, commas, blank lines, non-UTF-8 bytes and NUL go through
the producer's chunker (producer/chunks.py), the batch message (libs/messages.py) and the
consumer's prepare() (libs/validate.py). For every input: each record the producer counts is
exactly one row or one reject in the consumer, on the same lines the independent checker
(tests/checker.py) finds; batches are deliverable and bounded; prepare() never raises. The
record bounds are made small (lines, bytes) so the unclosed-quote rules are reached.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.csvfile import MalformedRecord, parse_fields
from libs.errors import UserError
from libs.messages import Batch, decode
from libs.schema import from_file
from libs.schema.compile import plan
from libs.validate import prepare
from producer.chunks import Chunk, Position, iter_chunks
from tests import checker

pytestmark = pytest.mark.unit

HEADER = b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n"
FRESH = Position(0, len(HEADER), 2, 0)  # just after the header
PLAN = plan(from_file.load("customers"), tuple(HEADER.decode().strip().split(",")))
TOKENS = [b'"', b'""', b",", b"\r", b"\n", b"\r\n", b"a", b"x y", b"\xff", b"\x00", b"\xc3\xa9",
          b"\n\n", b"\r\n\r\n", b'"q,\r\nx"', b",,,,,,,,", b"e@x.io,A,B,1,,,,,\n",
          b'f@x.io,"O""B",C,"multi\nline",,,,,\r\n', b'g@x.io,W"s,C,1,,,,,\n',
          b"y" * 45, b'"' + b"z" * 40, b"\r\r\n", b"\n\r"]  # long lines near the bounds

inputs = st.tuples(
    st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join),
    st.integers(1, 6),  # batch size
    st.integers(1, 160),  # batch bytes
    st.sampled_from([90, 120, 1 << 20]),  # max record bytes (the header is 76 bytes)
    st.sampled_from([2, 3, 100]),  # max record lines
    st.sampled_from([1, 7, 33, 4 << 20]),  # the producer's read block (bytes)
)


def physical_lines(data: bytes) -> Iterator[bytes]:
    """Lines with their LF, as a file yields them (CR alone does not end a line)."""
    parts = data.split(b"\n")
    yield from (part + b"\n" for part in parts[:-1])
    if parts[-1]:
        yield parts[-1]


def outcome_lines(batch: Batch, max_record_bytes: int) -> list[int]:
    """The lines of the consumer's rows and rejects for one batch; prepare() must not raise."""
    prepared = prepare(batch, PLAN, max_record_bytes)
    lines = [int(row[-1]) for row in prepared.rows] + [r.line_no for r in prepared.rejects]
    assert len(lines) == len(set(lines)), "one outcome per record"
    return sorted(lines)


def checker_fields(text: str) -> list[str] | None:
    try:
        return checker.split_fields(text)
    except checker.Invalid:
        return None


def product_fields(text: str) -> list[str] | None:
    try:
        return parse_fields(text, 2)
    except MalformedRecord:
        return None


@settings(max_examples=800, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(inputs)
def test_splitter_parser_and_checker_agree(case: tuple[bytes, int, int, int, int, int]) -> None:
    body, batch_size, batch_bytes, max_bytes, max_lines, block = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("libs.formats.chunking.BLOCK", block)
        patch.setattr("libs.formats.delimited.MAX_RECORD_LINES", max_lines)
        patch.setattr(checker, "MAX_LINES", max_lines)
        patch.setattr(checker, "MAX_BYTES", max_bytes)
        check_one(body, batch_size, batch_bytes, max_bytes)


def chunks_of(body: bytes, batch_size: int, batch_bytes: int, max_bytes: int,
              start: Position = FRESH) -> list[Chunk]:
    handle = io.BytesIO(HEADER + body)
    handle.seek(start.byte)
    return list(iter_chunks(handle, start, batch_size, max_bytes, batch_bytes))


def check_one(body: bytes, batch_size: int, batch_bytes: int, max_bytes: int) -> None:
    try:
        expected = list(checker.iter_records(physical_lines(HEADER + body)))[1:]
    except checker.TooLong as long:  # the producer refuses the file at that line (exit 2)
        with pytest.raises(UserError, match=f"^line {long.line_no} "):
            chunks_of(body, batch_size, batch_bytes, max_bytes)
        return
    chunks = chunks_of(body, batch_size, batch_bytes, max_bytes)
    with pytest.MonkeyPatch.context() as patch:  # the blocks change nothing
        patch.setattr("libs.formats.chunking.BLOCK", 4 << 20)
        assert chunks == chunks_of(body, batch_size, batch_bytes, max_bytes)
    for chunk in chunks[:-1]:  # a resume from any batch's end gives the same tail
        assert chunks_of(body, batch_size, batch_bytes, max_bytes, chunk.end) == \
            chunks[chunk.seq + 1:]
    consumer_lines: list[int] = []
    for chunk in chunks:
        assert 1 <= chunk.records <= batch_size
        assert len(chunk.body) <= batch_bytes or chunk.records == 1
        batch = Batch("customers-p", "customers", chunk.seq, chunk.first_line, chunk.last_line,
                      chunk.records, PLAN.dataset.field_names, "p.csv", chunk.body)
        delivered = decode(batch.headers(), chunk.body)  # never a dead letter
        lines = outcome_lines(delivered, max_bytes)
        assert len(lines) == chunk.records, "the producer's count is the consumer's"
        assert all(chunk.first_line <= line <= chunk.last_line for line in lines)
        consumer_lines += lines
    assert consumer_lines == [line for line, _ in expected], "same record boundaries"
    published = b"".join(chunk.body for chunk in chunks)
    assert body.startswith(published)
    tail = body[len(published):]  # blank lines only: LF, CRLF, or a CR that ends the data
    assert not tail.removesuffix(b"\r").replace(b"\r\n", b"").replace(b"\n", b"")
    assert not tail.endswith(b"\r") or body.endswith(b"\n\r") or body == b"\r"
    for _, record in expected:  # and the same fields, or both malformed
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert checker_fields(text) == product_fields(text), text
