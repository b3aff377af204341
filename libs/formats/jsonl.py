"""The ``jsonl`` layout: JSON Lines, one JSON object per line, UTF-8 (RFC 8259).

- A record is one physical line; lines end with LF or CRLF; a line empty apart from its line
  end is no record (as a blank CSV line), a UTF-8 BOM at the start of the file is skipped. A
  record's line number is its physical line (the first line is 1: there is no header). A line
  longer than ``max_record_bytes`` stops the producer (exit 2), as for CSV.
- Batches are the lines verbatim, cut by ``chunking`` as CSV's are (the same resume and batch
  bounds; memory bounded by ``max_record_bytes``).
- No header: the columns are the dataset's fields (``Header.end_offset`` 0, or 3 after a
  BOM, ``next_line`` 1); ``Header.ignored`` lists the keys of the objects in the first
  ``SAMPLE_BYTES`` that fill no column (the producer warns once, as for extra CSV columns).
- Each line -> fields in column order by ``jsonvalues.Columns`` (keys, null, numbers as
  written, nested values). A line that does not decode as UTF-8 (or holds a NUL byte) is
  ``invalid_encoding``; one that is not JSON, or JSON but not an object, ``malformed_json``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Final

from libs import constants as c
from libs.errors import UserError
from libs.formats import chunking
from libs.formats.base import Chunk, Header, Position, Record, stream_extent
from libs.formats.delimited import BOM, decode_record, printable
from libs.formats.jsonvalues import Columns, decode
from libs.schema.compile import Reject
from libs.schema.model import Dataset
from libs.schema.reasons import MALFORMED_JSON

SAMPLE_BYTES: Final = 1 << 20
IGNORED_SHOWN: Final = 20  # keys named in the producer's warning, at most
UTF8: Final = ("utf-8", "utf-8-sig")


class LineSplitter:
    """One record per line that is not blank (blank: empty, or only the CR of a CRLF)."""

    open: Final = False

    def ends(self, lines: list[bytes], terminated: bool = True) -> list[int]:
        return [index for index, line in enumerate(lines) if line and line != b"\r"]


class JsonlReader:
    """The ``jsonl`` layout (see the module); ``columns``: the job's header, by default the
    dataset's fields."""

    def __init__(self, dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES,
                 columns: Sequence[str] = ()) -> None:
        if codecs.lookup(dataset.encoding).name not in UTF8:
            raise UserError(f"JSON Lines are UTF-8 (RFC 8259): the {dataset.encoding} "
                            "encoding cannot be read as JSON Lines")
        self.dataset = dataset
        self.wire_encoding = "utf-8"
        self.max_record_bytes = max_record_bytes
        self.columns = Columns(dataset, tuple(columns) or dataset.field_names)

    def read_header(self, handle: BinaryIO) -> Header:
        """The dataset's fields; UserError for a file with no line to read (empty, a BOM,
        blank lines only)."""
        sample = handle.read(SAMPLE_BYTES)
        start = len(BOM) if sample.startswith(BOM) else 0
        if len(sample) < SAMPLE_BYTES and not sample[start:].strip(b"\r\n"):
            raise UserError("the file holds no line (empty, or only blank lines): expected "
                            "JSON objects, one per line")
        return Header(self.columns.names, start, 1, self._ignored(sample[start:]))

    def _ignored(self, sample: bytes) -> tuple[str, ...]:
        """Keys of the sample's objects that fill no column, in order of appearance."""
        lines = sample.split(b"\n")
        if len(sample) == SAMPLE_BYTES:
            lines.pop()  # may be cut short
        found: dict[str, None] = {}
        for line in lines:
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if type(value) is dict:
                found.update(dict.fromkeys(self.columns.unknown(list(value))))
        return tuple(found)[:IGNORED_SHOWN]

    def iter_chunks(self, handle: BinaryIO, start: Position, batch_size: int,
                    batch_bytes: int) -> Iterator[Chunk]:
        return chunking.iter_chunks(handle, start, batch_size, batch_bytes, LineSplitter(),
                                    None, self.max_record_bytes)

    def records(self, body: bytes, first_line: int) -> Iterator[Record]:
        line_no = first_line
        for line in body.split(b"\n"):
            if line and line != b"\r":
                yield line_no, self._record(line[:-1] if line[-1] == 13 else line)
            line_no += 1

    def _record(self, data: bytes) -> list[str] | Reject:
        return self._fields(data, strict=True)

    def _fields(self, data: bytes, strict: bool) -> list[str] | Reject:
        """The line's fields (``strict`` False: nested values as JSON text whatever the
        field), or the Reject why not."""
        text = decode_record(data, "utf-8")
        if isinstance(text, Reject):
            return text
        pairs = decode(text)
        if isinstance(pairs, Reject):
            return pairs
        try:
            return self.columns.fields(pairs, "\\u" in text, strict=strict)
        except RecursionError:  # a nested value too deep to write back
            return Reject(MALFORMED_JSON, "not readable JSON: nested too deeply")

    def values(self, data: bytes) -> list[str] | None:
        """A record's fields for the rejects export: nested values as JSON text whatever the
        field; None if the line is no JSON object (or two keys fill one column)."""
        found = self._fields(data, strict=False)
        return None if isinstance(found, Reject) else found

    def raw(self, body: bytes, first_line: int) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for offset, line in enumerate(body.split(b"\n")):
            if line and line != b"\r":
                found[first_line + offset] = line[:-1] if line[-1] == 13 else line
        return found

    def with_header(self, columns: Sequence[str]) -> JsonlReader:
        if tuple(columns) == self.columns.names or not columns:
            return self
        return JsonlReader(self.dataset, self.max_record_bytes, columns)

    def printable(self, data: bytes) -> str:
        return printable(data)

    def extent(self, handle: BinaryIO, stored_size: int) -> int | None:
        return stream_extent(handle, stored_size)
