"""The forms of the rejects export (``libs.rejects``): CSV in the job's own layout, and JSONL.

- ``csv``, delimited datasets: the header ``_line``, ``_reason``, ``_detail`` then the
  file's header names as it spells them (``ingest_jobs.header_names``; for a job registered
  before they were kept, its columns as read: ``ingest_jobs.columns``, trimmed and
  lowercased), then one line per reject: the three fields, quoted
  as the dialect quotes (delimiter, quote and escape character of the job's dataset), then
  the record's bytes exactly as they were in the file (wrong field count, odd quoting and
  undecodable bytes included), in the file's encoding. Dropping the three leading columns
  gives a file of the same dataset. A header-less dataset gets no header line (the file then
  loads as its dataset reads files). Lines end with LF.
- ``csv``, aligned datasets: an aligned file of its own: three leading columns ``_line``,
  ``_reason``, ``_detail`` padded to one width for the whole export, then the original header
  line and each rejected line exactly as in the file. Dropping the three leading columns is
  cutting the first N characters of every line (N: where the original header starts on the
  first line); the detail is on one line (tabs, CR and LF shown as spaces).
- ``csv``, a layout that is not text in columns (``jsonl``, ``parquet``): CSV of its own,
  RFC 4180 quoting, UTF-8, lines ending with LF: the header ``_line``, ``_reason``,
  ``_detail`` then the job's columns, then per reject the three fields and the record's
  fields as its reader reads them (``values``: JSON Lines nested values as JSON text; a
  Parquet row's values from its JSON object, ``libs.formats.parquet_text.record_fields``); a
  record without fields (not a JSON object, undecodable) gives its text as one field.
- ``jsonl``: one object per reject, ``line``, ``reason``, ``detail``, ``raw`` (the record's
  text), ``raw_base64`` (only when ``raw`` does not give the file's bytes back: undecodable
  bytes, a NUL) and ``fields`` (header name -> value) when the record reads as the header's
  fields, else null.

A record whose bytes could not be had (``Exported.exact`` False: rebuilt from a row, the
source file unavailable) is written as its rebuilt text: one field (CSV), ``fields`` null.
"""

from __future__ import annotations

import base64
import codecs
import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from libs.formats import Reader
from libs.formats.encodings import TRANSCODED, codec_name, file_bytes
from libs.load.prepared import exact_bytes

PREFIX: Final = ("_line", "_reason", "_detail")
GAP: Final = 2  # spaces after each leading column of the aligned form


@dataclass(frozen=True, slots=True)
class Exported:
    """One reject as exported: ``data`` is the record's bytes as the batch carried them (the
    file's own, or for a UTF-16 file their UTF-8 transcoding); ``exact`` False: they are
    the rebuilt ``text`` encoded, not the file's record."""

    line: int
    reason: str
    detail: str
    text: str
    data: bytes
    exact: bool


class Form(Protocol):
    def head(self) -> bytes:
        """What comes before the first reject."""
        ...

    def row(self, r: Exported) -> bytes:
        """One reject, with its line end."""
        ...


class Encoding:
    """Text and records in the file's encoding: ``text`` encodes exported text (what does
    not fit shown as a backslash escape); ``record`` gives a record's file bytes."""

    def __init__(self, reader: Reader, stream: bool) -> None:
        codec = codec_name(reader.dataset.encoding)
        self.wire = reader.wire_encoding
        if codec not in TRANSCODED:
            self.text: Callable[[str], bytes] = lambda t: t.encode(self.wire, "backslashreplace")
            self.record: Callable[[bytes], bytes] = lambda data: data
            return
        if not stream and codec == "utf-16":  # one record alone: no BOM, the native order
            codec = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"
        self.text = codecs.getincrementalencoder(codec)("backslashreplace").encode
        self.record = lambda data: file_bytes(data, self.text)


class DelimitedCsv:
    """The CSV form of a delimited dataset (see the module)."""

    def __init__(self, reader: Reader, columns: Sequence[str]) -> None:
        dialect = reader.dataset.dialect
        self.header = dialect.header
        self.d, self.q, self.e = dialect.delimiter, dialect.quote_char, dialect.escape_char
        self.special = {self.d, self.q, "\r", "\n"} | ({self.e} if self.e else set())
        self.columns = columns
        self.enc = Encoding(reader, stream=True)

    def field(self, value: str) -> str:
        """``value`` as one field of the dialect: quoted where it must be."""
        if not any(ch in value for ch in self.special):
            return value
        if self.e:
            value = value.replace(self.e, self.e + self.e)
        return self.q + value.replace(self.q, self.q + self.q) + self.q

    def head(self) -> bytes:
        start = self.enc.text("")  # a UTF-16 byte order mark, if any
        if not self.header:
            return start
        names = [*PREFIX, *self.columns]
        return start + self.enc.text(self.d.join(map(self.field, names)) + "\n")

    def row(self, r: Exported) -> bytes:
        d = self.d
        prefix = self.enc.text(d.join((str(r.line), self.field(r.reason), self.field(r.detail)))
                               + d)
        body = self.enc.record(r.data) if r.exact else self.enc.text(self.field(r.text))
        return prefix + body + self.enc.text("\n")


def one_line(text: str) -> str:
    return text.replace("\r\n", " ").translate({9: " ", 10: " ", 13: " "})


class AlignedCsv:
    """The CSV form of an aligned dataset: an aligned file (see the module). ``widths``: the
    longest line number, reason and detail of the export, in characters."""

    def __init__(self, reader: Reader, columns: Sequence[str],
                 widths: tuple[int, int, int]) -> None:
        self.widths = [max(len(name), width) + GAP for name, width in zip(PREFIX, widths,
                                                                            strict=True)]
        self.columns = columns
        self.enc = Encoding(reader, stream=True)

    def _prefix(self, values: Sequence[str]) -> str:
        return "".join(one_line(v).ljust(w) for v, w in zip(values, self.widths, strict=True))

    def head(self) -> bytes:
        return self.enc.text(self._prefix(PREFIX) + "".join(self.columns) + "\n")

    def row(self, r: Exported) -> bytes:
        prefix = self.enc.text(self._prefix((str(r.line), r.reason, r.detail)))
        body = self.enc.record(r.data) if r.exact else self.enc.text(one_line(r.text))
        return prefix + body + self.enc.text("\n")


class FieldsCsv:
    """The CSV form of a layout without a CSV record of its own (see the module).
    ``values``: a record's fields from its bytes, or None when it has none."""

    def __init__(self, columns: Sequence[str],
                 values: Callable[[bytes], list[str] | None]) -> None:
        self.columns = columns
        self.values = values
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, lineterminator="\n")

    def _line(self, fields: Sequence[object]) -> bytes:
        self._out.seek(0)
        self._out.truncate()
        self._writer.writerow(fields)
        return self._out.getvalue().encode("utf-8", "backslashreplace")

    def head(self) -> bytes:
        return self._line([*PREFIX, *(name.strip() for name in self.columns)])

    def row(self, r: Exported) -> bytes:
        fields = self.values(r.data) if r.exact else None
        return self._line([r.line, r.reason, r.detail, *(fields or [r.text])])


class Jsonl:
    """The JSONL form (see the module)."""

    def __init__(self, reader: Reader, columns: Sequence[str]) -> None:
        self.reader = reader.with_header(columns)
        self.names = [name.strip() for name in columns]
        self.enc = Encoding(reader, stream=False)

    def head(self) -> bytes:
        return b""

    def row(self, r: Exported) -> bytes:
        out: dict[str, object] = {"line": r.line, "reason": r.reason, "detail": r.detail,
                                  "raw": r.text}
        if r.exact and exact_bytes(r.text, r.data, self.enc.wire) is not None:
            out["raw_base64"] = base64.b64encode(self.enc.record(r.data)).decode("ascii")
        out["fields"] = self._fields(r) if r.exact else None
        return (json.dumps(out, ensure_ascii=False) + "\n").encode()

    def _fields(self, r: Exported) -> dict[str, str] | None:
        for _, fields in self.reader.records(r.data, r.line):
            if type(fields) is list and len(fields) == len(self.names):
                return dict(zip(self.names, fields, strict=True))
            break
        return None
