"""A batch after validation, as the load path takes it: rows to load and rejects by line.

The reader side (``libs/validate.prepare`` with the job's ``libs.formats`` reader) makes it;
the load modes (``libs.load``) write it. Each row is the plan's canonical values followed by
the lineage tail ``(job_id, line_no)``; rows and rejects are in line order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from libs.formats import Reader

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
    reader: Reader
    rows: list[tuple[str, ...]] = field(default_factory=list)
    plain: bool = False  # no value holds a quote, comma, CR or LF: no CSV quoting needed
    rejects: list[RejectRow] = field(default_factory=list)
    # Rows rejected duplicate_key within the batch, by key, in line order: the next one takes
    # the key if the database refuses the record that held it (see readmit).
    duplicates: dict[str, list[tuple[int, tuple[str, ...]]]] = field(default_factory=dict)
    _raw: dict[int, bytes] | None = None

    def raw_text(self, line_no: int) -> str:
        """The record that starts at ``line_no``, as text (indexed on first need only)."""
        if self._raw is None:
            self._raw = self.reader.raw(self.body, self.first_line)
        return self.reader.printable(self._raw.get(line_no, b""))

    def reject(self, line_no: int, why: Any) -> None:
        """Record a reject; ``why`` has ``reason`` and ``detail`` (a Reject)."""
        self.rejects.append(RejectRow(line_no, why.reason, self.raw_text(line_no), why.detail))

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
