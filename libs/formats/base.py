"""The reader interface: one per input layout, shared by the producer and the consumer.

The producer reads the header (``read_header``) and cuts the file into batches
(``iter_chunks``: byte slices that start and end on record boundaries); the consumer turns a
batch back into records (``records``) and shows a reject's raw text (``raw``). Both sides get
their reader from the job's Dataset (``libs.formats.reader_for``), never from local settings, so
they read every file with the same layout, dialect and encoding.

Offsets (``Header.end_offset``, ``Position.byte``) count bytes of the stream the reader splits:
the file itself, or its UTF-8 transcoding for a UTF-16 file (see ``encodings``); the parquet
layout counts rows instead, and its lines are row numbers (see ``parquet``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeAlias

if TYPE_CHECKING:  # the interface's types only: importing it loads no schema module
    from libs.schema.compile import Reject
    from libs.schema.model import Dataset


@dataclass(frozen=True)
class Header:
    """The header as read and where the data starts.

    Delimited: names trimmed and lowercased, empty names kept in their places. Aligned: the
    header line cut at the column starts, padding included (the widths are the boundaries).
    Header-less: the dataset's field names, ``end_offset`` 0 (or after a BOM), ``next_line`` 1.
    ``ignored``: names the data uses that fill no column, where the header does not show them
    (JSON Lines: keys of the first objects); the producer warns about them once.
    ``spelled``: a delimited header's names as the file spells them (case kept, surrounding
    spaces trimmed, without the byte order mark), for the rejects export; empty otherwise.
    """

    columns: tuple[str, ...]
    end_offset: int
    next_line: int
    ignored: tuple[str, ...] = ()
    spelled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Position:
    """A record boundary: the next batch's number, byte offset and line, and rows before it."""

    seq: int
    byte: int
    line: int
    rows: int


@dataclass(frozen=True)
class Chunk:
    seq: int
    first_line: int
    last_line: int
    records: int
    start: Position
    end: Position
    body: bytes


Record: TypeAlias = "tuple[int, list[str] | Reject]"


class Reader(Protocol):
    """One input layout with its dialect and encoding (see the module)."""

    dataset: Dataset
    wire_encoding: str  # the encoding of the batches' bytes (utf-8 for a transcoded file)

    def read_header(self, handle: BinaryIO) -> Header:
        """The header at the start of ``handle``; UserError on a bad one."""
        ...

    def iter_chunks(self, handle: BinaryIO, start: Position, batch_size: int,
                    batch_bytes: int) -> Iterator[Chunk]:
        """Batches from ``start``; the handle is positioned at ``start.byte`` (a transcoding
        reader re-reads from the file's start and skips to it)."""
        ...

    def records(self, body: bytes, first_line: int) -> Iterator[Record]:
        """(line, fields or the Reject why not) for each record of a batch body."""
        ...

    def raw(self, body: bytes, first_line: int) -> dict[int, bytes]:
        """Each record's bytes (without its line end) by its first line."""
        ...

    def with_header(self, columns: Sequence[str]) -> Reader:
        """The reader for a file with this header (aligned: the column boundaries)."""
        ...

    def printable(self, data: bytes) -> str:
        """A record's bytes as text for a reject's raw column (as much as decodes)."""
        ...

    def extent(self, handle: BinaryIO, stored_size: int) -> int | None:
        """The end of the data in ``Position.byte`` units (the progress bar's total and the
        bound of a saved offset); None when unknown before the end is read (a compressed
        stream). ``stored_size``: the source's bytes as stored."""
        ...


def stream_extent(handle: BinaryIO, stored_size: int) -> int | None:
    """A byte stream's end: ``stored_size``, unless the stream declares its own ``extent``
    attribute (a decompressing stream: None, unknown)."""
    declared: int | None = getattr(handle, "extent", stored_size)
    return declared
