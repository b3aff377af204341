#!/usr/bin/env python3
"""A CSV file of a dataset as a Parquet file holding the same records, to compare the layouts.

The CSV file is read with the dataset's own reader (``libs.formats``: dialect, encoding,
record syntax), so each CSV record becomes one Parquet row, in file order, with the header's
column names. Records Parquet cannot hold are left out and counted by the reason the CSV load
gives them (``dropped``): ``wrong_column_count`` and ``malformed_csv`` (a row has every column,
no quoting), and ``invalid_encoding`` records whose fields cannot be told (else their fields
are kept: the bytes of a field that is not text go into a binary column, and a NUL stays in
its string, so the Parquet load rejects them ``invalid_encoding`` too). So loading the Parquet
file gives the CSV load's table, and its rejects less ``dropped``.

``--types strings`` (the default) writes every column as string (binary where it must);
``--types typed`` types each column as its dataset field declares when every value of it
converts exactly (see ``to_parquet_types``), else keeps it as strings and says so.

Two passes over the CSV file (types, then rows); memory holds one row group being written
(``--row-group-rows``, or the whole file with ``--one-row-group``: one huge row group, the
case the Parquet reader must stream). Prints a JSON summary: rows, dropped by reason, the
columns typed, kept as strings and binary, row groups.

Usage: python scripts/to_parquet.py --in data/customers_sample.csv --out /tmp/c.parquet
       [--dataset customers] [--types typed] [--one-row-group | --row-group-rows N]
       [--compression snappy|zstd|gzip|lz4|none] [--line-map lines.txt]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from libs.formats import reader_for
from libs.formats.base import Position
from libs.formats.delimited import DelimitedReader, MalformedRecord
from libs.schema import from_file
from libs.schema.compile import Reject
from libs.schema.model import Dataset, Field
from libs.schema.names import normalize
from libs.schema.reasons import INVALID_ENCODING, WRONG_COLUMN_COUNT
from scripts.to_parquet_types import Typed, Untypable, typed_column

WRITE_ROWS: Final = 65_536
DEFAULT_GROUP_ROWS: Final = 128 * 1024
Fields = list[str | bytes]


def read_csv(path: Path, dataset: Dataset) -> tuple[tuple[str, ...], Iterator[tuple[int, Any]]]:
    """(the header's names, trimmed and lowercased as the reader reads them; (line, fields or
    the reason the record is dropped) in file order)."""
    reader = reader_for(dataset)
    handle = path.open("rb")
    try:
        header = reader.read_header(handle)
    except BaseException:
        handle.close()
        raise
    start = Position(0, header.end_offset, header.next_line, 0)
    names = tuple(name.strip() for name in header.columns)
    return names, _records(handle, reader, header.columns, start)


def _records(handle: Any, reader: Any, columns: tuple[str, ...],
             start: Position) -> Iterator[tuple[int, Any]]:
    reader = reader.with_header(columns)
    with handle:
        handle.seek(start.byte)
        for chunk in reader.iter_chunks(handle, start, 5000, 8 << 20):
            raws: dict[int, bytes] | None = None
            for line, fields in reader.records(chunk.body, chunk.first_line):
                why = WRONG_COLUMN_COUNT  # the CSV load's reason, if Parquet cannot hold it
                if isinstance(fields, Reject):
                    why = fields.reason
                    if why != INVALID_ENCODING or not isinstance(reader, DelimitedReader):
                        yield line, why
                        continue
                    raws = raws if raws is not None else reader.raw(chunk.body, chunk.first_line)
                    fields = _split_bytes(reader, raws[line], line)
                yield line, fields if fields is not None and len(fields) == len(columns) else why


def _split_bytes(reader: DelimitedReader, data: bytes, line: int) -> Fields | None:
    """The fields of a record that does not decode: bytes where a field is not text; None
    if the record's fields cannot be told."""
    text = data.decode(reader.wire_encoding, "surrogateescape")
    try:
        fields = reader.syntax.parse_fields(text, line)
    except MalformedRecord:
        return None
    return [f.encode(reader.wire_encoding, "surrogateescape")
            if any("\udc80" <= ch <= "\udcff" for ch in f) else f for f in fields]


def field_of(dataset: Dataset, name: str) -> Field | None:
    exact = {f.name: f for f in dataset.fields}
    loose = {normalize(f.name): f for f in dataset.fields}
    return exact.get(name.strip().lower()) or loose.get(normalize(name))


def plan_types(path: Path, dataset: Dataset, typed: bool) -> list[Any]:
    """Pass 1: each column's Arrow type (a Typed column, pa.string() or pa.binary())."""
    names, records = read_csv(path, dataset)
    kinds: list[Any] = [typed_column(dataset, field_of(dataset, n)) if typed else None
                        for n in names]
    binary = [False] * len(names)
    for _, fields in records:
        if isinstance(fields, str):
            continue
        for i, value in enumerate(fields):
            if isinstance(value, bytes):
                binary[i] = True
                kinds[i] = None
            elif kinds[i] is not None:
                try:
                    kinds[i].value(value)
                except Untypable:
                    kinds[i] = None
    return [pa.binary() if binary[i] else (kinds[i] or pa.string()) for i in range(len(names))]


def _array(values: list[Any], kind: Any) -> Any:
    if isinstance(kind, Typed):
        return pa.array([kind.value(v) for v in values], kind.type)
    if kind.equals(pa.binary()):
        return pa.array([v.encode() if isinstance(v, str) else v for v in values], kind)
    return pa.array(values, kind)


class Groups:
    """Rows into a Parquet file in row groups of ``group_rows`` (None: one row group)."""

    def __init__(self, writer: Any, schema: Any, kinds: list[Any], group_rows: int | None):
        self.writer, self.schema, self.kinds, self.group_rows = writer, schema, kinds, group_rows
        self.columns: list[list[Any]] = [[] for _ in kinds]
        self.pending: list[Any] = []
        self.rows = self.groups = 0

    def add(self, fields: Fields) -> None:
        for column, value in zip(self.columns, fields, strict=True):
            column.append(value)
        self.rows += 1
        if len(self.columns[0]) == WRITE_ROWS:
            self._batch()
            if self.group_rows is not None and sum(
                    b.num_rows for b in self.pending) >= self.group_rows:
                self._flush(final=False)

    def close(self) -> None:
        if self.columns[0]:
            self._batch()
        self._flush(final=True)

    def _batch(self) -> None:
        arrays = [_array(v, k) for v, k in zip(self.columns, self.kinds, strict=True)]
        self.pending.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.columns = [[] for _ in self.kinds]

    def _flush(self, final: bool) -> None:
        table = pa.Table.from_batches(self.pending, self.schema)
        size = self.group_rows or table.num_rows
        while table.num_rows and (table.num_rows >= size or final):
            self.writer.write_table(table.slice(0, size), row_group_size=size)
            table, self.groups = table.slice(size), self.groups + 1
        self.pending = table.to_batches()


def write(path: Path, out: Path, dataset: Dataset, kinds: list[Any], group_rows: int | None,
          compression: str, line_map: Path | None = None) -> dict[str, Any]:
    """Pass 2: the rows, in row groups of ``group_rows`` (None: one row group); ``line_map``:
    a file to write each row's CSV line number to, one a line."""
    names, records = read_csv(path, dataset)
    schema = pa.schema([(n, k.type if isinstance(k, Typed) else k) for n, k in zip(
        names, kinds, strict=True)])
    dropped: Counter[str] = Counter()
    lines: list[str] = []
    with pq.ParquetWriter(out, schema, compression=compression) as writer:
        groups = Groups(writer, schema, kinds, group_rows)
        for line, fields in records:
            if isinstance(fields, str):
                dropped[fields] += 1
                continue
            groups.add(fields)
            if line_map is not None:
                lines.append(f"{line}\n")
        groups.close()
    if line_map is not None:
        line_map.write_text("".join(lines))
    return {"rows": groups.rows, "dropped": dict(dropped), "row_groups": groups.groups}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in", dest="source", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", default="customers")
    parser.add_argument("--datasets-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--types", choices=("strings", "typed"), default="strings")
    groups = parser.add_mutually_exclusive_group()
    groups.add_argument("--row-group-rows", type=int, default=DEFAULT_GROUP_ROWS)
    groups.add_argument("--one-row-group", action="store_true")
    parser.add_argument("--compression", default="snappy",
                        choices=("snappy", "zstd", "gzip", "lz4", "none"))
    parser.add_argument("--line-map", type=Path,
                        help="write each row's CSV line number to this file, one a line")
    args = parser.parse_args(argv)
    dataset = from_file.load(args.dataset, args.datasets_dir)
    kinds = plan_types(args.source, dataset, args.types == "typed")
    summary = write(args.source, args.out, dataset, kinds,
                    None if args.one_row_group else args.row_group_rows, args.compression,
                    args.line_map)
    schema = pq.read_schema(args.out)
    for kind, test in (("typed", lambda k: isinstance(k, Typed)),
                       ("binary", lambda k: not isinstance(k, Typed) and k.equals(pa.binary())),
                       ("string", lambda k: not isinstance(k, Typed) and k.equals(pa.string()))):
        summary[f"{kind}_columns"] = [n for n, k in zip(schema.names, kinds, strict=True)
                                      if test(k)]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
