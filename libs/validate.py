"""Turn a batch into typed rows and rejects (CPU only, no I/O): the one validation path of the
consumer (before loading) and of the producer's dry run (producer/dryrun.py).

The records come from the job's reader (``libs.formats.reader_for(dataset)``): its layout,
dialect and encoding, never local settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import count
from operator import itemgetter
from typing import Any

from libs.formats import Reader, Record
from libs.formats.delimited import DelimitedReader, printable
from libs.load.prepared import Prepared, RejectRow
from libs.messages import Batch
from libs.schema.compile import Reject
from libs.schema.keys import canonical, key_text_function
from libs.schema.model import Dataset
from libs.schema.reasons import DUPLICATE_KEY

__all__ = ["Prepared", "RejectRow", "key_function", "prepare", "printable"]


def _legacy_reader(max_record_bytes: int) -> Reader:
    """The default CSV dialect in UTF-8: for callers that still pass max_record_bytes."""
    from libs.schema.model import Table

    return DelimitedReader(Dataset("csv", Table("csv"), ()), max_record_bytes)


KeyOf = Callable[[tuple[str, ...]], object]


def key_parts(plan: Any) -> tuple[int, KeyOf | None, str]:
    """(the key's index in a row, or a function of the row when it is not one value; the
    key's name) for in-batch duplicates.

    A libs.schema Plan: its dataset's primaryKey (a composite key is the JSON array text of
    its values, as ``libs.load.target.Target.key_text`` writes it; no key: every row is its
    own key, nothing is a duplicate).
    """
    key = tuple(plan.dataset.primary_key)
    text_of = key_text_function(plan.dataset, plan.columns)
    if text_of is None:
        return 0, unique_keys(), ""
    if len(key) == 1 and all(canonical(f) is None for f in plan.dataset.fields
                             if f.name == key[0]):
        return plan.columns.index(key[0]), None, key[0]  # the value itself: the fastest
    return 0, text_of, ",".join(key)


def key_function(plan: Any) -> tuple[KeyOf, str] | None:
    """(the key of a validated row, as ``prepare`` dedupes by; the key's name), or None for a
    dataset without a key (nothing is a duplicate)."""
    if not plan.dataset.primary_key:
        return None
    key_at, key_of, key_name = key_parts(plan)
    return (key_of or itemgetter(key_at)), key_name


def unique_keys() -> KeyOf:
    """A key function that never gives the same key twice (nothing is a duplicate)."""
    numbers = count()
    return lambda row: next(numbers)


def prepare(batch: Batch, plan: Any, reader: Reader | int, *, first_wins: bool = True,
            records: Iterable[Record] | None = None) -> Prepared:
    """Validate every record of the batch; the earliest line keeps a key used twice.

    ``reader``: the job's reader (``reader_for(dataset)``); an int is the legacy
    max_record_bytes of the default dialect. ``first_wins=False`` (upsert, merge): every
    valid record is a row, duplicates included; the load mode picks the version that wins.
    ``records``: the batch's records when the caller read them already (``reader.records``).
    """
    if isinstance(reader, int):
        reader = _legacy_reader(reader)
    reader = reader.with_header(batch.columns)
    out = Prepared(body=batch.body, first_line=batch.first_line, reader=reader)
    key_at, key_of, key_name = key_parts(plan) if first_wins else (0, unique_keys(), "")
    seen: dict[object, int] = {}
    validate, job = plan.validate, batch.job_id
    out.plain = is_plain(batch.body)
    if records is None:
        records = reader.records(batch.body, batch.first_line)
    for line_no, fields in records:
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


def is_plain(body: bytes) -> bool:
    """No quoting at all, no NUL, and every CR is part of a CRLF line end."""
    return (b'"' not in body and b"\x00" not in body
            and body.count(b"\r") == body.count(b"\r\n"))
