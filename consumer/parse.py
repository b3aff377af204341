"""Turn a batch message into typed rows and rejects (CPU only, no I/O).

The records come from the job's reader (``libs.formats.reader_for(dataset)``): its layout,
dialect and encoding, never local settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from operator import itemgetter
from typing import Any

from libs.formats import Reader
from libs.formats.delimited import DelimitedReader, printable
from libs.messages import Batch
from libs.schema.compile import Reject
from libs.schema.model import Dataset
from libs.schema.reasons import DUPLICATE_KEY

__all__ = ["Prepared", "RejectRow", "prepare", "printable"]


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


def _legacy_reader(max_record_bytes: int) -> Reader:
    """The default CSV dialect in UTF-8: for callers that still pass max_record_bytes."""
    from libs.schema.model import Table

    return DelimitedReader(Dataset("csv", Table("csv"), ()), max_record_bytes)


KeyOf = Callable[[tuple[str, ...]], object]


def _key_of(plan: Any) -> tuple[int, KeyOf | None, str]:
    """(the key's index in a row, or a function of the row when it is not one value; the
    key's name) for in-batch duplicates.

    A libs.schema Plan: its dataset's primaryKey (a composite key is the JSON array text of
    its values; no key: every row is its own key, nothing is a duplicate); the legacy
    libs.dataset plan: its ``key``.
    """
    dataset = plan.dataset
    if hasattr(dataset, "key_index"):
        return dataset.key_index, None, dataset.key
    key = tuple(dataset.primary_key)
    if not key:
        return 0, _unique(), ""
    where = [plan.columns.index(name) for name in key]
    if len(where) == 1:
        return where[0], None, key[0]
    pick = itemgetter(*where)
    return 0, (lambda row: json.dumps(list(pick(row)), ensure_ascii=False)), ",".join(key)


def _unique() -> KeyOf:
    numbers = count()
    return lambda row: next(numbers)


def prepare(batch: Batch, plan: Any, reader: Reader | int) -> Prepared:
    """Validate every record of the batch; the earliest line keeps a key used twice.

    ``reader``: the job's reader (``reader_for(dataset)``); an int is the legacy
    max_record_bytes of the default dialect.
    """
    if isinstance(reader, int):
        reader = _legacy_reader(reader)
    reader = reader.with_header(batch.columns)
    out = Prepared(body=batch.body, first_line=batch.first_line, reader=reader)
    key_at, key_of, key_name = _key_of(plan)
    seen: dict[object, int] = {}
    validate, job = plan.validate, batch.job_id
    out.plain = _is_plain(batch.body)
    for line_no, fields in reader.records(batch.body, batch.first_line):
        if type(fields) is not list:
            out.reject(line_no, fields)
            continue
        result = validate(fields, (job, str(line_no)))
        if type(result) is not tuple:
            out.reject(line_no, result)
            continue
        key: Any = result[key_at] if key_of is None else key_of(result)
        first = seen.setdefault(key, line_no)
        if first != line_no:
            out.reject(line_no, Reject(DUPLICATE_KEY, f"{key_name} {key} already on line {first}"))
            out.duplicates.setdefault(key, []).append((line_no, result))
            continue
        out.rows.append(result)
    return out


def _is_plain(body: bytes) -> bool:
    """No quoting at all, no NUL, and every CR is part of a CRLF line end."""
    return (b'"' not in body and b"\x00" not in body
            and body.count(b"\r") == body.count(b"\r\n"))
