"""A batch after validation, as the load path takes it: rows to load and rejects by line.

The reader (``consumer/parse.py``, later ``libs.formats``) makes it; the load modes
(``libs.load``) write it. Each row is the plan's canonical values followed by the lineage tail
``(job_id, line_no)``; rows and rejects are in line order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from libs.csvfile import split_records
from libs.schema.compile import Reject

Row = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RejectRow:
    line_no: int
    reason: str
    raw: str
    detail: str


@dataclass
class Prepared:
    """A batch after validation: rows to load (with lineage) and rejects, in line order."""

    body: bytes
    first_line: int
    max_record_bytes: int
    rows: list[Row] = field(default_factory=list)
    plain: bool = False  # no value holds a quote, comma, CR or LF: no CSV quoting needed
    rejects: list[RejectRow] = field(default_factory=list)
    # Rows rejected duplicate_key within the batch, by key, in line order: the next one takes
    # the key if the database refuses the record that held it (see readmit).
    duplicates: dict[str, list[tuple[int, Row]]] = field(default_factory=dict)
    _raw: dict[int, bytes] | None = None

    def raw_text(self, line_no: int) -> str:
        """The record that starts at ``line_no``, as text (indexed on first need only)."""
        if self._raw is None:
            records = split_records(self.body, self.first_line, self.max_record_bytes)
            self._raw = {record.line_no: record.data for record in records}
        return printable(self._raw.get(line_no, b""))

    def reject(self, line_no: int, why: Reject) -> None:
        self.rejects.append(RejectRow(line_no, why.reason, self.raw_text(line_no), why.detail))

    def readmit(self, key: str) -> Row | None:
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


def printable(data: bytes) -> str:
    """As much of the record's text as decodes; NUL (impossible in PostgreSQL text) shown as \\0."""
    return data.decode("utf-8", "replace").replace("\x00", "\\0")
