"""Batching and the low watermark."""

from __future__ import annotations

import io
import itertools
import random

import pytest

from libs.csvfile import split_records
from producer.chunks import Chunk, Position, iter_chunks
from producer.watermark import Watermark

pytestmark = pytest.mark.unit

HEADER = b"email,n\n"


def make_file(n: int) -> bytes:
    lines = [HEADER]
    for i in range(n):
        if i % 7 == 0:
            lines.append(f'e{i}@x.io,"multi\nline {i}"\r\n'.encode())
        elif i % 11 == 0:
            lines.append(b"\n")
            lines.append(f"e{i}@x.io,{i}\n".encode())
        else:
            lines.append(f"e{i}@x.io,{i}\n".encode())
    return b"".join(lines)


def chunks_from(data: bytes, start: Position, size: int) -> list[Chunk]:
    handle = io.BytesIO(data)
    handle.seek(start.byte)
    return list(iter_chunks(handle, start, size, 1 << 20))


def fresh() -> Position:
    return Position(0, len(HEADER), 2, 0)


def test_batches_cover_the_file_exactly_once() -> None:
    data = make_file(103)
    chunks = chunks_from(data, fresh(), 10)
    assert b"".join(c.body for c in chunks) == data[len(HEADER):]
    assert sum(c.records for c in chunks) == 103
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert all(c.records == 10 for c in chunks[:-1])
    for before, after in itertools.pairwise(chunks):
        assert after.first_line == before.last_line + 1
        assert after.start == before.end


def test_same_input_same_batches_and_resume_gives_the_same_tail() -> None:
    data = make_file(57)
    full = chunks_from(data, fresh(), 8)
    assert full == chunks_from(data, fresh(), 8)
    resumed = chunks_from(data, full[3].end, 8)
    assert resumed == full[4:]


def test_trailing_blank_lines_make_no_batch_and_no_newline_at_end() -> None:
    data = HEADER + b"a@x.io,1\nb@x.io,2\n\n\n"
    assert [c.records for c in chunks_from(data, fresh(), 2)] == [2]
    data = HEADER + b"a@x.io,1\nb@x.io,2"
    (chunk,) = chunks_from(data, fresh(), 5)
    assert chunk.records == 2
    assert chunk.end.byte == len(data)


def test_unterminated_quote_at_end_counts_as_one_record() -> None:
    data = HEADER + b'a@x.io,1\nb@x.io,"open\nmore\n'
    (chunk,) = chunks_from(data, fresh(), 5)
    assert chunk.records == 2


def test_watermark_is_the_end_of_the_contiguous_confirmed_run() -> None:
    chunks = chunks_from(make_file(50), fresh(), 5)
    mark = Watermark(fresh())
    order = list(range(len(chunks)))
    random.Random(7).shuffle(order)
    confirmed: set[int] = set()
    for seq in order:
        mark.confirm(chunks[seq])
        confirmed.add(seq)
        run = 0
        while run in confirmed:
            run += 1
        expected = chunks[run - 1].end if run else fresh()
        assert mark.position == expected
    assert mark.position == chunks[-1].end
    assert mark.pending == 0


def test_watermark_ignores_confirms_before_it() -> None:
    chunks = chunks_from(make_file(20), fresh(), 5)
    mark = Watermark(chunks[1].end)
    assert not mark.confirm(chunks[0])
    assert mark.confirm(chunks[2])
    assert mark.position == chunks[2].end


@pytest.mark.parametrize("block", [5, 64, 1000])
def test_block_boundaries_do_not_change_the_batches(monkeypatch: pytest.MonkeyPatch,
                                                    block: int) -> None:
    rng = random.Random(block)
    parts = [HEADER]
    for i in range(300):
        kind = rng.random()
        if kind < 0.1:
            parts.append(f'e{i}@x.io,"q\n""x"",\r\n{i}"\n'.encode())
        elif kind < 0.15:
            parts.append(b"\r\n" if kind < 0.12 else b"\n")
        else:
            parts.append(f"e{i}@x.io,{i}{chr(13) if kind > 0.9 else ''}\n".encode())
    data = b"".join(parts) + b"last@x.io,1"
    expected = chunks_from(data, fresh(), 16)
    monkeypatch.setattr("libs.formats.chunking.BLOCK", block)
    assert chunks_from(data, fresh(), 16) == expected
    assert b"".join(c.body for c in expected) == data[len(HEADER):]
    for chunk in expected:
        found = list(split_records(chunk.body, chunk.first_line, 1 << 20))
        assert len(found) == chunk.records, "consumer and producer must agree on records"
        assert found[0].line_no >= chunk.first_line
        assert chunk.last_line - chunk.first_line + 1 == chunk.body.count(b"\n") + (
            0 if chunk.body.endswith(b"\n") else 1)


def reference_batches(data: bytes, size: int, limit: int) -> list[tuple[int, int]]:
    """(records, body bytes) of each batch, by the rule read literally: a record (with the
    blank lines before it) joins the batch unless the batch is full or would pass ``limit``."""
    body = data[len(HEADER):]
    line_ends = [i + 1 for i, byte in enumerate(body) if byte == 10] + [len(body)]
    spans, begin = [], 0
    for record in split_records(body, 2, 1 << 20):
        last = record.line_no - 2 + record.data.count(b"\n")
        end = line_ends[last] if last < len(line_ends) else len(body)
        spans.append(end - begin)
        begin = end
    batches: list[list[int]] = []
    for span in spans:
        if not batches or len(batches[-1]) == size or sum(batches[-1]) + span > limit:
            batches.append([])
        batches[-1].append(span)
    return [(len(b), sum(b)) for b in batches]


def plain_file(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return HEADER + b"".join(f"e{i}@x.io,{'v' * rng.randrange(0, 300)}\n".encode()
                             for i in range(n))


@pytest.mark.parametrize(("size", "limit"), [(50, 1000), (7, 250), (1000, 64), (3, 1 << 20)])
def test_batches_are_bounded_in_bytes(size: int, limit: int) -> None:
    for data in (plain_file(400, size), make_file(300)):
        handle = io.BytesIO(data)
        handle.seek(len(HEADER))
        chunks = list(iter_chunks(handle, fresh(), size, 1 << 20, limit))
        assert [(c.records, len(c.body)) for c in chunks] == reference_batches(data, size, limit)
        assert b"".join(c.body for c in chunks) == data[len(HEADER):]
        assert all(len(c.body) <= limit or c.records == 1 for c in chunks)
        for chunk in chunks:  # resuming at any batch's end gives the same tail
            handle.seek(chunk.end.byte)
            tail = list(iter_chunks(handle, chunk.end, size, 1 << 20, limit))
            assert tail == chunks[chunk.seq + 1:]


@pytest.mark.parametrize("block", [7, 100, 4096])
def test_byte_bound_is_the_same_whatever_the_blocks(monkeypatch: pytest.MonkeyPatch,
                                                    block: int) -> None:
    data = plain_file(300, 1) + b"\n\nlate@x.io,1\r\n" + plain_file(200, 2)[len(HEADER):]
    expected = chunks_from_bytes(data, 20, 900)
    monkeypatch.setattr("libs.formats.chunking.BLOCK", block)
    assert chunks_from_bytes(data, 20, 900) == expected
    assert [(c.records, len(c.body)) for c in expected] == reference_batches(data, 20, 900)


def chunks_from_bytes(data: bytes, size: int, limit: int) -> list[Chunk]:
    handle = io.BytesIO(data)
    handle.seek(len(HEADER))
    return list(iter_chunks(handle, fresh(), size, 1 << 20, limit))


def test_a_record_larger_than_the_bound_is_a_batch_of_its_own() -> None:
    data = HEADER + b"a@x.io,1\n" + b"big@x.io," + b"z" * 500 + b"\nb@x.io,2\nc@x.io,3\n"
    chunks = chunks_from_bytes(data, 10, 100)
    assert [c.records for c in chunks] == [1, 1, 2]
    assert len(chunks[1].body) == len(b"big@x.io,") + 501
    quoted = HEADER + b'a@x.io,1\nbig@x.io,"' + b"z\n" * 50 + b'"\nb@x.io,2\n'
    chunks = chunks_from_bytes(quoted, 10, 100)
    assert [(c.records, c.first_line, c.last_line) for c in chunks] == [
        (1, 2, 2), (1, 3, 53), (1, 54, 54)]
