"""The ``aligned`` layout: whitespace-aligned text with a header line (the user_purchase export).

The rule, from the header line (decoded; a UTF-8 BOM and the line end left out):

- Each column starts where its header name starts; the first column starts at the line's
  start. A name is a run of words separated by single spaces; two or more spaces (or a tab)
  separate names. A run of single-spaced words that is not itself a field's name (after
  ``names.normalize``) but reads as several fields' names in a row is split into them:
  ``DATA DA ÚLTIMA COMPRA TICKET MÉDIO`` is ``data_da_ultima_compra`` then ``ticket_medio``
  when the dataset has both (exports pad short columns with one space only).
- One record per line that is not blank (blank: nothing but spaces, tabs and its line end).
  A record's values are its line cut at the column starts, each value stripped of spaces and tabs;
  the last column runs to the line end. A shorter line leaves the missing columns empty, a
  longer one puts its tail into the last column. A value wider than its column (text in
  the gap, or a column shifted by a character) is still cut at the header's boundaries: the
  wrong value then fails its field's rule and the record is rejected with that reason.
- Columns are counted in characters (code points) of the decoded line; tabs count as one
  character (no tab stops).

``Header.columns`` are the header line cut at the column starts, padding kept: their widths
travel with every batch (the batch's columns), so the consumer cuts lines exactly where the
producer's header said (``with_header``). The plan matches them after normalization.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import BinaryIO, Final

from libs import constants as c
from libs.errors import UserError
from libs.formats import chunking
from libs.formats.base import Chunk, Header, Position, Record, stream_extent
from libs.formats.delimited import BOM, CR_ONLY, decode_record, printable
from libs.formats.encodings import (
    TRANSCODED,
    Utf8Stream,
    codec_name,
    label,
    wire_codec,
)
from libs.schema.compile import Reject
from libs.schema.model import Dataset
from libs.schema.names import normalize

_RUN: Final = re.compile(r"\S+(?: \S+)*")  # a name: words separated by single spaces
_WORD: Final = re.compile(r"\S+")
_BLANK: Final = b" \t\r"


def _blank(line: bytes) -> bool:
    return not line.strip(_BLANK)


class LineSplitter:
    """One record per non-blank line; nothing spans lines."""

    open: Final = False

    def ends(self, lines: list[bytes], terminated: bool = True) -> list[int]:
        return [index for index, line in enumerate(lines) if line.strip(_BLANK)]


def column_starts(line: str, fields: Sequence[str]) -> list[int]:
    """Where each column starts in a header ``line`` (see the module); [] if it has no name."""
    known = {normalize(name) for name in fields}
    starts: list[int] = []
    for run in _RUN.finditer(line):
        words = list(_WORD.finditer(run[0]))
        parts = _split_run([w[0] for w in words], known)
        at = 0
        for size in parts:
            starts.append(run.start() + words[at].start())
            at += size
    if starts:
        starts[0] = 0
    return starts


def _split_run(words: list[str], known: set[str]) -> list[int]:
    """How many words each name of a run has: the whole run, unless it is no known name and
    splits into known names in a row (the fewest names; the first such split)."""
    if normalize(" ".join(words)) in known or len(words) == 1:
        return [len(words)]
    best: list[list[int] | None] = [[]] + [None] * len(words)  # best[i]: split of words[:i]
    for end in range(1, len(words) + 1):
        for begin in range(end):
            head, so_far = best[begin], best[end]
            if (head is not None and (so_far is None or len(head) + 1 < len(so_far))
                    and normalize(" ".join(words[begin:end])) in known):
                best[end] = [*head, end - begin]
    return best[-1] or [len(words)]


def cut(line: str, starts: Sequence[int]) -> list[str]:
    """The values of one line: cut at ``starts`` (the first is 0), stripped of spaces, tabs."""
    ends = [*starts[1:], None]
    return [line[begin:end].strip(" \t") for begin, end in zip(starts, ends, strict=True)]


class AlignedReader:
    """The ``aligned`` layout with the dataset's encoding (see the module)."""

    def __init__(self, dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES,
                 starts: Sequence[int] = ()) -> None:
        self.dataset = dataset
        self.max_record_bytes = max_record_bytes
        self.codec = codec_name(dataset.encoding)
        self.wire_encoding = wire_codec(dataset.encoding)
        self.transcoded = self.codec in TRANSCODED
        self.starts = tuple(starts)

    def _stream(self, handle: BinaryIO) -> BinaryIO:
        return Utf8Stream(handle, self.codec) if self.transcoded else handle  # type: ignore[return-value]

    def read_header(self, handle: BinaryIO) -> Header:
        if not self.dataset.dialect.header:
            raise UserError("the aligned layout needs a header line: its names give the "
                            "column boundaries")
        limit = c.MAX_HEADER_BYTES
        raw = self._stream(handle).readline(limit + 1)
        if not raw:
            raise UserError("the file is empty: expected a header line")
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise UserError(f"the header (line 1) is longer than {limit} bytes")
        content = raw.removesuffix(b"\n").removesuffix(b"\r")
        if b"\r" in content:
            raise UserError(CR_ONLY)
        if self.wire_encoding == "utf-8":
            content = content.removeprefix(BOM)
        try:
            text = content.decode(self.wire_encoding)
        except UnicodeDecodeError as exc:
            raise UserError(f"the header (line 1) is not valid {label(self.wire_encoding)}: "
                            f"{exc.reason}") from exc
        starts = column_starts(text, self.dataset.field_names)
        if not starts:
            raise UserError("line 1 is blank: the header must be the first line")
        names = [text[begin:end] for begin, end in zip(starts, [*starts[1:], None], strict=True)]
        names[-1] = names[-1].rstrip()
        return Header(tuple(names), len(raw), 2)

    def with_header(self, columns: Sequence[str]) -> AlignedReader:
        starts = [0, *accumulate(len(name) for name in columns[:-1])]
        return AlignedReader(self.dataset, self.max_record_bytes, starts)

    def iter_chunks(self, handle: BinaryIO, start: Position, batch_size: int,
                    batch_bytes: int) -> Iterator[Chunk]:
        stream = self._stream(handle)
        if self.transcoded:
            stream.seek(start.byte)
        return chunking.iter_chunks(stream, start, batch_size, batch_bytes, LineSplitter(),
                                    None, self.max_record_bytes)

    def records(self, body: bytes, first_line: int) -> Iterator[Record]:
        if not self.starts:
            raise ValueError("AlignedReader.records needs the header: use with_header()")
        codec, starts = self.wire_encoding, self.starts
        for line_no, data in self.raw(body, first_line).items():
            text = decode_record(data, codec)
            yield line_no, text if isinstance(text, Reject) else cut(text, starts)

    def raw(self, body: bytes, first_line: int) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for offset, line in enumerate(body.split(b"\n")):
            if line.strip(_BLANK):
                found[first_line + offset] = line[:-1] if line.endswith(b"\r") else line
        return found

    def printable(self, data: bytes) -> str:
        return printable(data, self.wire_encoding)

    def extent(self, handle: BinaryIO, stored_size: int) -> int | None:
        return stream_extent(handle, stored_size)
