"""A batch after validation, as the load path takes it: rows to load and rejects by line.

The reader side (``libs/validate.prepare`` with the job's ``libs.formats`` reader) makes it;
the load modes (``libs.load``) write it. Each row is the plan's canonical values followed by
the lineage tail ``(job_id, line_no)``; rows and rejects are in line order.

A reject keeps its record as text (``raw``: as much as decodes) and, only when that text does
not give the record's bytes back (``raw`` encoded in the batch's encoding differs: bytes that
do not decode, a NUL), the bytes themselves (``raw_bytes``, written to
``ingest_rejects.raw_bytes``), so the rejects export (``libs.rejects``) is exact. A record whose
bytes were in another batch (a displaced duplicate, a record of an atomic job's apply) has its
text rebuilt from a row and its detail ends with one of ``REBUILT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from libs.formats import Reader

Row = tuple[str, ...]
# The COPY data of a batch's rows, each without its last ``strip`` values, of all the rows
# (``places`` None) or of the rows at ``places`` (0-based, in that order): (strip, places) ->
# data.
CopyData = Callable[[int, Sequence[int] | None], bytes]

# The end of a reject's detail whose ``raw`` is not the record's text but rebuilt from a row
# (its bytes were in another batch): from the row loaded in the table (insert mode's displaced
# duplicates) or staged (an atomic job's apply).
REBUILT_LOADED: Final = " (record rebuilt from the loaded row)"
REBUILT_STAGED: Final = " (record rebuilt from the staged row)"
REBUILT: Final = (REBUILT_LOADED, REBUILT_STAGED)


def rebuilt(detail: str | None) -> bool:
    """True if a reject's ``raw`` was rebuilt from a row (its detail ends with a REBUILT)."""
    return detail is not None and detail.endswith(REBUILT)


def exact_bytes(text: str, data: bytes, encoding: str) -> bytes | None:
    """``data`` if ``text`` (its printable form) encoded in ``encoding`` is not ``data``;
    None when the text gives the bytes back (the common case: one encode, one compare)."""
    try:
        return None if text.encode(encoding) == data else data
    except UnicodeEncodeError:  # U+FFFD of an undecodable byte in cp1252 or latin-1
        return data


@dataclass(frozen=True, slots=True)
class RejectRow:
    line_no: int
    reason: str
    raw: str
    detail: str
    raw_bytes: bytes | None = None  # the record's bytes, where ``raw`` does not give them


@dataclass
class Prepared:
    """A batch after validation: rows to load (with lineage) and rejects, in line order."""

    body: bytes
    first_line: int
    reader: Reader
    # The rows (``rows``), or None until first asked for when the validator can make them on
    # demand (``made_rows``): the clean batch of insert mode never needs them as tuples.
    _rows: list[Row] | None = field(default_factory=list)
    plain: bool = False  # no value holds a quote, comma, CR or LF: no CSV quoting needed
    rejects: list[RejectRow] = field(default_factory=list)
    # Rows rejected duplicate_key within the batch, by key, in line order: the next one takes
    # the key if the database refuses the record that held it (see readmit).
    duplicates: dict[str, list[tuple[int, tuple[str, ...]]]] = field(default_factory=dict)
    # The COPY data of ``rows`` or of some of them (``CopyData``: what
    # ``libs.load.payload.copy_payload`` makes of them), when the validator builds it itself
    # (``libs.validate_vector``); None: the loader makes it from the rows.
    copy_data: CopyData | None = None
    # The records' bytes by first line (what ``reader.raw`` gives) when the validator has the
    # batch's split at hand; None: the reader indexes the body on first need.
    raw_index: Mapping[int, bytes] | None = None
    _raw: Mapping[int, bytes] | None = None
    _make_rows: Callable[[], list[Row]] | None = None
    _size: int = 0
    # The places of ``rows`` in the order their COPY data sends them (their key's order, when
    # the validator knows it: concurrent batches then take new keys in one order, and the
    # key's index is written page after page); None: line order.
    copy_order: list[int] | None = None

    @property
    def rows(self) -> list[Row]:
        """The rows to load, in line order (made now if they were left to be made)."""
        if self._rows is None:
            assert self._make_rows is not None
            self._rows, self._make_rows = self._make_rows(), None
        return self._rows

    @rows.setter
    def rows(self, rows: list[Row]) -> None:
        self._rows, self._make_rows = rows, None

    @property
    def size(self) -> int:
        """How many rows, without making them."""
        return self._size if self._rows is None else len(self._rows)

    def made_rows(self, size: int, make: Callable[[], list[Row]]) -> None:
        """The rows are ``size`` rows that ``make()`` gives when first asked for."""
        self._rows, self._make_rows, self._size = None, make, size

    def raw_record(self, line_no: int) -> tuple[str, bytes | None]:
        """The record that starts at ``line_no``: its text, and its bytes where the text does
        not give them back (None: it does). Indexed on first need only."""
        if self._raw is None:
            self._raw = (self.raw_index if self.raw_index is not None
                         else self.reader.raw(self.body, self.first_line))
        data = self._raw.get(line_no, b"")
        text = self.reader.printable(data)
        return text, exact_bytes(text, data, self.reader.wire_encoding)

    def raw_text(self, line_no: int) -> str:
        """The record that starts at ``line_no``, as text."""
        return self.raw_record(line_no)[0]

    def rejected(self, line_no: int, reason: str, detail: str) -> RejectRow:
        """The reject of the record at ``line_no`` (with its bytes where its text is not
        exact)."""
        text, data = self.raw_record(line_no)
        return RejectRow(line_no, reason, text, detail, data)

    def reject(self, line_no: int, why: Any) -> None:
        """Record a reject; ``why`` has ``reason`` and ``detail`` (a Reject)."""
        self.rejects.append(self.rejected(line_no, why.reason, why.detail))

    def readmit(self, key: str) -> tuple[str, ...] | None:
        """The next row of ``key`` (the database refused the one that held it): its
        duplicate_key reject is dropped and the later ones now name its line. None if none."""
        waiting = self.duplicates.get(key)
        if not waiting:
            return None
        line, row = waiting.pop(0)
        later = {other for other, _ in waiting}
        self.rejects = [
            replace(r, detail=f"{r.detail.rsplit(' already on line ', 1)[0]} already on line "
                              f"{line}") if r.line_no in later else r
            for r in self.rejects if r.line_no != line]
        return row
