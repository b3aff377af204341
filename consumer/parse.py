"""Turn a batch message into typed rows and rejects (CPU only, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from libs.csvfile import MalformedRecord, RawRecord, parse_fields, split_records
from libs.load.prepared import Prepared, RejectRow, printable
from libs.messages import Batch
from libs.schema.compile import Plan, Reject
from libs.schema.reasons import DUPLICATE_KEY, INVALID_ENCODING, MALFORMED_CSV

__all__ = ["Prepared", "RejectRow", "prepare", "printable"]


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


def prepare(batch: Batch, plan: Plan, max_record_bytes: int) -> Prepared:
    """Validate every record of the batch; the earliest line keeps a key used twice (a
    keyless dataset keeps every record)."""
    out = Prepared(body=batch.body, first_line=batch.first_line,
                   max_record_bytes=max_record_bytes)
    key = plan.dataset.primary_key
    index = tuple(plan.columns.index(name) for name in key)
    one = index[0] if len(index) == 1 else None
    key_name = ",".join(key)
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
        if not index:
            out.rows.append(result)
            continue
        # A composite key is the JSON array of its values (libs.load.target.Target.key_text).
        value = result[one] if one is not None else json.dumps([result[i] for i in index],
                                                               ensure_ascii=False)
        first = seen.setdefault(value, line_no)
        if first != line_no:
            out.reject(line_no, Reject(DUPLICATE_KEY,
                                       f"{key_name} {value} already on line {first}"))
            out.duplicates.setdefault(value, []).append((line_no, result))
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
