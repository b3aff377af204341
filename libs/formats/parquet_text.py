"""Arrow values as the text the row validator reads: the Parquet layout's type mapping.

A batch of a Parquet file travels as Arrow data (``libs.formats.parquet``); the consumer turns
each column into one text per row, which the dataset's validator (``libs.schema``) then reads
as it reads a CSV field, so a value that does not fit its field gets the reason a CSV file's
value gets. Columns are converted whole with ``pyarrow.compute`` casts where Arrow's text is
what the validator reads; nested values and undecodable bytes go value by value.

- null (a value of any type): ``""``, a missing value in every field (``""`` always is).
- string, large_string: as it is; a NUL makes the record ``invalid_encoding``.
- binary, large_binary, fixed_size_binary: the bytes as UTF-8 text (writers store text
  without the String annotation too); bytes that are not UTF-8, or a NUL, make the record
  ``invalid_encoding``, as in a CSV file.
- bool: a ``boolean`` field's first trueValues / falseValues, else ``true`` / ``false``.
- int8-64, uint8-64: decimal digits.
- float16, float32, float64: the shortest text that reads back as the same float (``0.1``,
  ``1e+20``, ``nan``, ``inf``, ``-inf``).
- decimal128, decimal256: exact, with the type's scale (``12.50``).
- date32, date64: ``YYYY-MM-DD``.
- timestamp: ``YYYY-MM-DDThh:mm:ss`` and the unit's fraction digits (``.000000`` for us);
  with a time zone (any), the instant in UTC followed by ``Z``; without one, no zone (the
  validator then reads UTC).
- time32, time64: ``hh:mm:ss`` and the unit's fraction digits.
- duration: the count of its unit.
- list, large_list, fixed_size_list, struct, map: compact JSON (a map as an object with its
  keys as text; inside, bytes as UTF-8 text with backslash escapes for bytes that are not,
  decimals as strings, dates and times ISO 8601): an ``object`` or ``array`` field reads
  it, any other field rejects it as it rejects any bad value.
- dictionary: the text of its value type.
- anything else: Arrow's cast to text, else Python's ``str``.

A record as text (``ingest_rejects.raw``, ``Reader.raw``) is one compact JSON object: the file's
column names as keys, each value as the text above (``null`` for null, nested values as JSON),
so reading it back (``record_fields``) gives the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from libs.arrow import pa, pc
from libs.schema.model import Dataset
from libs.schema.names import normalize

Array = Any  # a pyarrow.Array (pyarrow has no type stubs)
_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
NUL_DETAIL: Final = "{column}: NUL character at offset {at}"
BYTES_DETAIL: Final = "{column}: bytes that are not UTF-8 at offset {at} ({reason})"


@dataclass
class Column:
    """One column of a batch as text: ``texts[i]`` is row i's (``""`` for null);
    ``faults[i]`` the ``invalid_encoding`` detail of row i, where it has one; ``values`` the
    JSON value of each row for a nested column (None otherwise)."""

    texts: list[str]
    faults: dict[int, str] = field(default_factory=dict)
    values: list[object] | None = None


def booleans(dataset: Dataset, columns: Sequence[str]) -> list[tuple[str, str] | None]:
    """For each header column: the (true, false) texts of the ``boolean`` field it fills (by
    exact name, else normalized as ``libs.schema.compile.plan`` matches), else None."""
    exact = {f.name: f for f in dataset.fields}
    loose = {normalize(f.name): f for f in dataset.fields}
    found: list[tuple[str, str] | None] = []
    for name in columns:
        f = exact.get(name) or loose.get(normalize(name))
        if f is None or f.type != "boolean":
            found.append(None)
            continue
        found.append((f.true_values[0] if f.true_values else "true",
                      f.false_values[0] if f.false_values else "false"))
    return found


def convert(array: Array, name: str, truth: tuple[str, str] | None = None) -> Column:
    """``array`` (a pyarrow.Array, column ``name``) as text, see the module."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_null(kind):
        return Column([""] * len(array))
    if _is_text(kind):
        return _text(array, name)
    if _is_bytes(kind):
        return _bytes(array, name)
    if pa.types.is_boolean(kind) and truth is not None:
        return Column(_filled(pc.if_else(array, truth[0], truth[1])))
    if pa.types.is_timestamp(kind):
        return Column(_filled(_stamps(array)))
    if pa.types.is_nested(kind):
        return _nested(array)
    try:
        return Column(_filled(pc.cast(array, pa.string())))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return Column(["" if v is None else str(v) for v in array.to_pylist()])


def _stamps(array: Array) -> Array:
    """Timestamps as ISO 8601 text; with a time zone, the instant in UTC with ``Z`` (Arrow
    keeps instants in UTC: read so, without a zone's rules, which cost 20 times more)."""
    zoned = array.type.tz is not None
    if zoned:
        array = pc.cast(array, pa.timestamp(array.type.unit))
    text = pc.replace_substring(pc.cast(array, pa.string()), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "") if zoned else text


def _is_text(kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind))


def _is_bytes(kind: Any) -> bool:
    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
                or pa.types.is_fixed_size_binary(kind) or pa.types.is_binary_view(kind))


def _filled(array: Array) -> list[str]:
    texts: list[str] = pc.fill_null(array, "").to_pylist()
    return texts


def _text(array: Array, name: str) -> Column:
    column = Column(_filled(array))
    if pc.any(pc.match_substring(array, "\x00")).as_py():
        for i, at in enumerate(pc.find_substring(array, "\x00").to_pylist()):
            if at is not None and at >= 0:
                column.faults[i] = NUL_DETAIL.format(column=name, at=at)
    return column


def _bytes(array: Array, name: str) -> Column:
    try:
        return _text(pc.cast(array, pa.string()), name)
    except pa.ArrowInvalid:  # some value is not UTF-8: value by value
        pass
    column = Column([])
    for i, data in enumerate(array.to_pylist()):
        if data is None:
            column.texts.append("")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            column.faults[i] = BYTES_DETAIL.format(column=name, at=exc.start, reason=exc.reason)
            text = data.decode("utf-8", "backslashreplace")
        else:
            if "\x00" in text:
                column.faults[i] = NUL_DETAIL.format(column=name, at=text.index("\x00"))
        column.texts.append(text)
    return column


def _nested(array: Array) -> Column:
    values = [jsonable(value, array.type) for value in array.to_pylist()]
    texts = ["" if value is None else _JSON.encode(value) for value in values]
    return Column(texts, values=values)


def jsonable(value: object, kind: Any) -> object:
    """A Python value of Arrow type ``kind`` (``Array.to_pylist``) as a JSON value."""
    if value is None:
        return None
    if pa.types.is_map(kind):
        assert isinstance(value, list)
        return {_key(k, kind.key_type): jsonable(v, kind.item_type) for k, v in value}
    if pa.types.is_struct(kind):
        assert isinstance(value, dict)
        return {f.name: jsonable(value.get(f.name), f.type) for f in kind}
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)):
        assert isinstance(value, list)
        return [jsonable(v, kind.value_type) for v in value]
    if pa.types.is_dictionary(kind):
        return jsonable(value, kind.value_type)
    return _scalar(value)


def _key(value: object, kind: Any) -> str:
    found = jsonable(value, kind)
    return found if isinstance(found, str) else _JSON.encode(found)


def _scalar(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def row_json(names: Sequence[str], columns: Sequence[Column], nulls: Sequence[list[bool]],
             row: int) -> bytes:
    """Row ``row`` as one compact JSON object (see the module), UTF-8."""
    record: dict[str, object] = {}
    for name, column, null in zip(names, columns, nulls, strict=True):
        if null[row]:
            record[name] = None
        elif column.values is not None:
            record[name] = column.values[row]
        else:
            record[name] = column.texts[row]
    return _JSON.encode(record).encode()


def record_fields(data: bytes) -> list[str] | None:
    """The fields of a record given as its JSON object (``row_json``): each value's text
    (null: ``""``; nested: compact JSON), in the object's order; None if ``data`` is not one
    JSON object."""
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    return ["" if value is None else value if isinstance(value, str)
            else _JSON.encode(value) for value in record.values()]
