"""The ``parquet`` layout: a Parquet file read by record batches, in bounded memory.

Units (``base.Position``, ``base.Header``): a record is a row of the file and its "line" is
its 1-based row number (row 1 is the first row: a Parquet file has no header line).
``Position.byte`` counts the rows before the position (not bytes), ``Position.line`` is the
next row's number (``byte + 1``); the header ends at 0 and the data starts at line 1;
``extent`` is the file's row count (from its footer).

Header: the schema's top-level column names, trimmed and lowercased as a CSV header's are, so
``header_plan`` maps them onto the dataset the same way (a required column missing: exit 2;
extra columns: ignored with a warning). A file that is not Parquet (or whose footer is
damaged) is one UserError line.

Reading: ``pq.ParquetFile(handle, pre_buffer=False, buffer_size=BUFFER_BYTES)`` streams each
column chunk through a buffer instead of loading it whole, and ``iter_batches`` decodes at most
``READ_ROWS`` rows at a time (fewer when the footer says rows are large), so a file with one
huge row group is never in memory whole. Resume opens the row group holding the saved row and
skips the rows before it in that group (read and dropped: a row group is the unit a Parquet
file can be entered at). Arrow allocates from the system allocator (see the imports).

Batches: at most ``batch_size`` rows and about ``batch_bytes`` bytes, measured per row as its
values' Arrow size (``row_sizes``: text and binary lengths, fixed widths; the same for a row
however the file is read), cut greedily from the batch's first row exactly as
``chunking.Batcher`` cuts text: so the batches are the same from the start or from any batch's
end, whatever the read granularity (the producer's resume relies on it). A row larger than
``batch_bytes`` is a batch of its own; a row larger than ``max_record_bytes`` stops the
producer there (UserError, after the batches before it), as a CSV line over the limit does.
A batch's body is an Arrow IPC stream of its rows (``IPC_COMPRESSION`` buffers), decoded by
the consumer (``records``), which turns values into text (``parquet_text``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import accumulate, count
from typing import Any, BinaryIO, Final

from libs import constants as c
from libs.arrow import pa, pc  # the allocator is chosen there, before pyarrow loads
from libs.errors import PoisonMessage, UserError
from libs.formats.base import Chunk, Header, Position, Record
from libs.formats.parquet_text import (
    Column,
    booleans,
    convert,
    jsonable,
    record_fields,
    row_json,
)
from libs.schema.compile import Reject
from libs.schema.model import Dataset
from libs.schema.reasons import INVALID_ENCODING

BUFFER_BYTES: Final = 1 << 20  # read buffer of each column chunk's stream
READ_ROWS: Final = 16_384  # rows decoded at a time, at most
IPC_COMPRESSION: Final = "zstd"
_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression=IPC_COMPRESSION)
_OFFSET: Final = 4  # an offset's bytes, counted with each text or list value
_ERRORS: Final = (pa.ArrowException, OSError)


def open_file(handle: BinaryIO) -> Any:
    """``handle`` as a ``pq.ParquetFile`` (streaming reads); UserError if it is not Parquet.
    (pyarrow.parquet is imported here: a consumer, which only decodes IPC, never loads it.)"""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(handle, pre_buffer=False, buffer_size=BUFFER_BYTES,
                              coerce_int96_timestamp_unit="us")
    except _ERRORS as exc:
        raise UserError(f"the file is not a readable Parquet file: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def value_sizes(array: Any) -> Any:
    """Each value's Arrow size in bytes (an int64 array without nulls): text and binary
    lengths plus an offset, fixed widths, nested values summed; see the module."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        sizes = pc.take(value_sizes(array.dictionary), array.indices)
        return pc.add(pc.fill_null(sizes, 0), kind.index_type.bit_width // 8)
    if pa.types.is_null(kind):
        return pa.array([0] * len(array), pa.int64())
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
        lengths = pc.fill_null(pc.cast(pc.binary_length(array), pa.int64()), 0)
        return pc.add(lengths, _OFFSET)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list_sizes(array)
    if pa.types.is_struct(kind):
        total = pa.array([0] * len(array), pa.int64())
        for child in array.flatten():
            total = pc.add(total, value_sizes(child))
        return total
    try:
        width = max(1, kind.bit_width // 8)
    except ValueError:  # maps, views, unions...: measured value by value
        return pa.array([len(repr(jsonable(v, kind))) for v in array.to_pylist()], pa.int64())
    return pa.array([width] * len(array), pa.int64())


def _list_sizes(array: Any) -> Any:
    lengths = pc.fill_null(pc.cast(pc.list_value_length(array), pa.int64()), 0)
    child = value_sizes(array.flatten())
    prefix = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(child)])
    ends = pc.cumulative_sum(lengths)
    inside = pc.subtract(pc.take(prefix, ends), pc.take(prefix, pc.subtract(ends, lengths)))
    return pc.add(inside, _OFFSET)


def row_sizes(batch: Any) -> list[int]:
    """Each row's size in bytes: the sum of its values' (``value_sizes``)."""
    total = pa.array([0] * batch.num_rows, pa.int64())
    for column in batch.columns:
        total = pc.add(total, value_sizes(column))
    sizes: list[int] = total.to_pylist()
    return sizes


def encode(slices: Sequence[Any]) -> bytes:
    """Record batch slices as one Arrow IPC stream: one record batch of fresh arrays (copied,
    dictionaries decoded, so the bytes depend only on the rows, not on the batches the rows
    were read in), compressed buffers, no schema metadata."""
    names = slices[0].schema.names
    columns = [pa.concat_arrays([_plain(part.column(i)) for part in slices])
               for i in range(len(names))]
    batch = pa.RecordBatch.from_arrays(columns, names=names)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=_OPTIONS) as writer:
        writer.write_batch(batch)
    body: bytes = sink.getvalue().to_pybytes()
    return body


def _plain(array: Any) -> Any:
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def decode(body: bytes) -> Any:
    """A batch body as a ``pa.Table``; PoisonMessage if it is not an Arrow IPC stream."""
    try:
        return pa.ipc.open_stream(body).read_all()
    except _ERRORS as exc:
        raise PoisonMessage(f"the batch body is not an Arrow IPC stream: {_first_line(exc)}"
                            ) from None


class Cutter:
    """Rows into batches (see the module): ``add`` record batches in file order, ``finish``
    at the end."""

    def __init__(self, start: Position, batch_size: int, batch_bytes: int,
                 max_record_bytes: int) -> None:
        self.start, self.batch_size, self.batch_bytes = start, batch_size, batch_bytes
        self.max_record_bytes = max_record_bytes
        self.slices: list[Any] = []
        self.records = 0
        self.size = 0

    def add(self, batch: Any) -> Iterator[Chunk]:
        """The batches completed by ``batch``'s rows. A row over ``max_record_bytes``: the
        rows before it as a batch, then UserError."""
        sizes = row_sizes(batch)
        over = (next(i for i, size in enumerate(sizes) if size > self.max_record_bytes)
                if sizes and max(sizes) > self.max_record_bytes else None)
        yield from self._rows(batch, sizes, len(sizes) if over is None else over)
        if over is not None:
            yield from self.finish()
            row = self.start.line
            raise UserError(f"row {row} holds about {sizes[over]} bytes, more than the record "
                            f"limit ({self.max_record_bytes} bytes, max_record_bytes)")

    def _rows(self, batch: Any, sizes: list[int], rows: int) -> Iterator[Chunk]:
        total = list(accumulate(sizes, initial=0))
        at = 0
        while at < rows:
            limit = min(rows, at + self.batch_size - self.records)
            end = bisect_right(total, total[at] + self.batch_bytes - self.size, at, limit + 1) - 1
            if end <= at:
                if self.records:
                    yield self._cut()
                    continue
                end = at + 1  # larger than batch_bytes on its own: a batch of its own
            self.slices.append(batch.slice(at, end - at))
            self.records += end - at
            self.size += total[end] - total[at]
            at = end
            if self.records == self.batch_size:
                yield self._cut()

    def finish(self) -> Iterator[Chunk]:
        if self.records:
            yield self._cut()

    def _cut(self) -> Chunk:
        pos, records = self.start, self.records
        end = Position(pos.seq + 1, pos.byte + records, pos.line + records, pos.rows + records)
        chunk = Chunk(pos.seq, pos.line, end.line - 1, records, pos, end, encode(self.slices))
        self.start, self.slices, self.records, self.size = end, [], 0, 0
        return chunk


def read_rows(metadata: Any, batch_size: int, batch_bytes: int) -> int:
    """Rows to decode at a time: a batch's worth, at most READ_ROWS, fewer for large rows
    (the footer's uncompressed size per row)."""
    rows = max(1, metadata.num_rows)
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return int(max(1, min(batch_size, READ_ROWS, batch_bytes * rows // max(1, size))))


def group_at(metadata: Any, row: int) -> tuple[int, int]:
    """(the row group holding row index ``row``, the index of its first row)."""
    first = 0
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        if row < first + rows:
            return group, first
        first += rows
    return int(metadata.num_row_groups), first


class ParquetReader:
    """The ``parquet`` layout (see the module). Text is UTF-8 by the format: the dataset's
    encoding and dialect do not apply (its encoding is set to utf-8)."""

    wire_encoding = "utf-8"

    def __init__(self, dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES) -> None:
        self.dataset = dataset if dataset.encoding == "utf-8" else replace(dataset,
                                                                           encoding="utf-8")
        self.max_record_bytes = max_record_bytes

    def read_header(self, handle: BinaryIO) -> Header:
        names = tuple(name.strip().lower() for name in open_file(handle).schema_arrow.names)
        if not names:
            raise UserError("the Parquet file has no column")
        return Header(names, 0, 1)

    def extent(self, handle: BinaryIO, stored_size: int) -> int | None:
        rows: int = open_file(handle).metadata.num_rows
        return rows

    def iter_chunks(self, handle: BinaryIO, start: Position, batch_size: int,
                    batch_bytes: int) -> Iterator[Chunk]:
        parquet = open_file(handle)
        meta = parquet.metadata
        group, first = group_at(meta, start.byte)
        if group >= meta.num_row_groups:
            return
        cutter = Cutter(start, batch_size, batch_bytes, self.max_record_bytes)
        batches = parquet.iter_batches(batch_size=read_rows(meta, batch_size, batch_bytes),
                                       row_groups=range(group, meta.num_row_groups))
        skip = start.byte - first
        try:
            for batch in batches:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                yield from cutter.add(batch.slice(skip) if skip else batch)
                skip = 0
        except _ERRORS as exc:
            yield from cutter.finish()  # the rows read before it
            raise UserError(f"the Parquet file cannot be read on after row "
                            f"{cutter.start.line - 1}: {_first_line(exc)}") from None
        yield from cutter.finish()

    def records(self, body: bytes, first_line: int) -> Iterator[Record]:
        """(row number, its values as text in column order, or the Reject why not) for a
        batch body (an Arrow IPC stream) or for records as ``raw`` gives them (JSON objects,
        one a line: the rejects export reads a record back so)."""
        if body[:1] == b"{":
            yield from _json_records(body, first_line)
            return
        columns = self._columns(decode(body))
        faults: dict[int, str] = {}
        for column in reversed(columns):  # the first column's fault wins
            faults.update(column.faults)
        rows = map(list, zip(*(column.texts for column in columns), strict=True))
        if not faults:
            yield from zip(count(first_line), rows)
            return
        for index, (line, fields) in enumerate(zip(count(first_line), rows)):
            yield line, (Reject(INVALID_ENCODING, faults[index]) if index in faults
                         else fields)

    def _columns(self, table: Any) -> list[Column]:
        names = table.schema.names
        truth = booleans(self.dataset, [name.strip().lower() for name in names])
        return [convert(table.column(i).combine_chunks(), name, truth[i])
                for i, name in enumerate(names)]

    def raw(self, body: bytes, first_line: int) -> dict[int, bytes]:
        if body[:1] == b"{":
            return {line: data for line, data in zip(count(first_line), body.split(b"\n"))
                    if data}
        table = decode(body)
        columns = self._columns(table)
        nulls = [table.column(i).is_null().to_pylist() for i in range(table.num_columns)]
        names = table.schema.names
        return {first_line + row: row_json(names, columns, nulls, row)
                for row in range(table.num_rows)}

    def with_header(self, columns: Sequence[str]) -> ParquetReader:
        return self

    def printable(self, data: bytes) -> str:
        return data.decode("utf-8", "replace")


def _json_records(body: bytes, first_line: int) -> Iterator[Record]:
    for line, data in zip(count(first_line), body.split(b"\n")):
        if not data:
            continue
        fields = record_fields(data)
        yield line, fields if fields is not None else Reject(
            INVALID_ENCODING, "the record is not a JSON object of a Parquet row")
