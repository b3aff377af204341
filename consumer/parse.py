"""Turn a batch message into typed rows and rejects (CPU only, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from libs.csvfile import MalformedRecord, RawRecord, parse_fields, split_records
from libs.dataset import DUPLICATE_KEY, INVALID_ENCODING, MALFORMED_CSV, FieldPlan, Reject
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

    body: bytes
    first_line: int
    max_record_bytes: int
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
            records = split_records(self.body, self.first_line, self.max_record_bytes)
            self._raw = {record.line_no: record.data for record in records}
        return printable(self._raw.get(line_no, b""))

    def reject(self, line_no: int, why: Reject) -> None:
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


def printable(data: bytes) -> str:
    """As much of the record's text as decodes; NUL (impossible in PostgreSQL text) shown as \\0."""
    return data.decode("utf-8", "replace").replace("\x00", "\\0")


def _decode(record: RawRecord) -> str | Reject:
    try:
        text = record.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(INVALID_ENCODING,
                      f"byte 0x{record.data[exc.start]:02x} at offset {exc.start} is not UTF-8")
    if "\x00" in text:
        return Reject(INVALID_ENCODING, f"NUL character at offset {text.index(chr(0))}")
    return text


def _fields(text: str, line_no: int) -> list[str] | Reject:
    """The record's fields by the one record syntax (libs.csvfile), or malformed_csv."""
    try:
        return parse_fields(text, line_no)
    except MalformedRecord as exc:
        return Reject(MALFORMED_CSV, str(exc))


def prepare(batch: Batch, plan: FieldPlan, max_record_bytes: int) -> Prepared:
    """Validate every record of the batch; the earliest line keeps a key used twice."""
    out = Prepared(body=batch.body, first_line=batch.first_line,
                   max_record_bytes=max_record_bytes)
    key_index = plan.dataset.key_index
    seen: dict[object, int] = {}
    validate, job = plan.validate, batch.job_id
    out.plain = _is_plain(batch.body)
    for line_no, fields in _records(batch, max_record_bytes, out.plain):
        if isinstance(fields, Reject):
            out.reject(line_no, fields)
            continue
        result = validate(fields, (job, str(line_no)))
        if isinstance(result, Reject):
            out.reject(line_no, result)
            continue
        key = result[key_index]
        first = seen.setdefault(key, line_no)
        if first != line_no:
            out.reject(line_no, Reject(DUPLICATE_KEY,
                                       f"{plan.dataset.key} {key} already on line {first}"))
            out.duplicates.setdefault(key, []).append((line_no, result))
            continue
        out.rows.append(result)
    return out


def _is_plain(body: bytes) -> bool:
    """No quoting at all, no NUL, and every CR is part of a CRLF line end."""
    return (b'"' not in body and b"\x00" not in body
            and body.count(b"\r") == body.count(b"\r\n"))


def _records(batch: Batch, max_record_bytes: int,
             plain: bool) -> Iterator[tuple[int, list[str] | Reject]]:
    """(line, fields or the reason they cannot be had) for each record of the batch."""
    body = batch.body
    if plain:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # fast path: one record per line, no quoting
            line_no = batch.first_line
            for line in text.split("\n"):
                if line and line != "\r":
                    yield line_no, (line[:-1] if line[-1] == "\r" else line).split(",")
                line_no += 1
            return
    for record in split_records(body, batch.first_line, max_record_bytes):
        decoded = _decode(record)
        yield record.line_no, (decoded if isinstance(decoded, Reject)
                               else _fields(decoded, record.line_no))
