"""Turn a batch message into typed rows and rejects (CPU only, no I/O)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from libs.csvfile import RawRecord, split_records
from libs.dataset import DUPLICATE_KEY, INVALID_ENCODING, WRONG_COLUMN_COUNT, FieldPlan, Reject
from libs.messages import Batch


@dataclass(frozen=True, slots=True)
class RejectRow:
    line_no: int
    reason: str
    raw: str
    detail: str


@dataclass
class Prepared:
    """A batch after validation: rows to load (with lineage) and rejects, in line order."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    raw_by_line: dict[int, bytes] = field(default_factory=dict)

    def raw_text(self, line_no: int) -> str:
        return printable(self.raw_by_line.get(line_no, b""))


def printable(data: bytes) -> str:
    """As much of the record's text as decodes; NUL (impossible in PostgreSQL text) shown as \\0."""
    return data.decode("utf-8", "replace").replace("\x00", "\\0").rstrip("\r")


def _decode(record: RawRecord) -> str | Reject:
    try:
        text = record.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(INVALID_ENCODING,
                      f"byte 0x{record.data[exc.start]:02x} at offset {exc.start} is not UTF-8")
    if "\x00" in text:
        return Reject(INVALID_ENCODING, f"NUL character at offset {text.index(chr(0))}")
    return text[:-1] if text.endswith("\r") else text


def _fields(text: str) -> list[str] | Reject:
    if '"' not in text and "\n" not in text:
        return text.split(",")
    try:
        rows = list(csv.reader((text,)))
    except csv.Error as exc:
        return Reject(WRONG_COLUMN_COUNT, f"malformed CSV: {exc}")
    if len(rows) != 1:
        return Reject(WRONG_COLUMN_COUNT, "malformed CSV: the record is not one row")
    return rows[0]


def prepare(batch: Batch, plan: FieldPlan, max_record_bytes: int) -> Prepared:
    """Validate every record of the batch; the earliest line keeps a key used twice."""
    out = Prepared()
    key_index = plan.dataset.key_index
    seen: dict[object, int] = {}
    lineage = batch.job_id
    for record in split_records(batch.body, batch.first_line, max_record_bytes):
        out.raw_by_line[record.line_no] = record.data
        text = _decode(record)
        fields = text if isinstance(text, Reject) else _fields(text)
        result = fields if isinstance(fields, Reject) else plan.validate(fields)
        if isinstance(result, Reject):
            out.rejects.append(RejectRow(record.line_no, result.reason,
                                         printable(record.data), result.detail))
            continue
        key = result[key_index]
        if key in seen:
            out.rejects.append(RejectRow(record.line_no, DUPLICATE_KEY, printable(record.data),
                                         f"{plan.dataset.key} {key} already on line {seen[key]}"))
            continue
        seen[key] = record.line_no
        out.rows.append((*result, lineage, record.line_no))
    return out
