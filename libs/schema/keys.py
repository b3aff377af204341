"""A key's text as PostgreSQL compares it: two values the table's unique index holds equal
must give one text, since duplicates within a batch and ``ingest_keys.key`` go by this text.

The values a plan makes are already canonical for most types (integers lose their ``+`` and
leading zeros, uuids are lowercased, emails normalized). Not these, each fixed here for the
key only (the row keeps the value as written, so a ``numeric`` column keeps its scale):

- ``number`` into ``numeric``: ``1.5``, ``1.50``, ``01.5``, ``+1.5`` are one value
  (``numeric_eq``): the decimal without exponent, trailing zeros or sign of zero;
  ``NaN`` / ``Infinity`` as PostgreSQL spells them (``NaN`` equals ``NaN`` in a numeric index);
- ``number`` into ``real`` / ``double precision``: the value as a binary double (``1.5e0``,
  ``1.50``; ``-0`` = ``0``);
- ``datetime`` into ``timestamptz``: one instant in any zone; into ``timestamp``: the same
  wall-clock time however written (``T24:00`` is the next day's ``00:00``);
- ``time``: trailing fraction zeros;
- ``string`` into ``character(n)``: trailing spaces (``bpchar`` ignores them).

Equality a collation defines otherwise (non-deterministic ICU collations) is not followed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Final

from libs.schema.model import Dataset, Field
from libs.schema.temporal import instant

Canon = Callable[[str], str]
Row = Sequence[str]
_FLOATS: Final = frozenset({"real", "double precision", "float4", "float8", "float"})
_BPCHAR: Final = frozenset({"character", "char", "bpchar"})


def _base(column_type: str | None) -> str:
    return (column_type or "").lower().split("(")[0].strip()


def _decimal(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "Infinity" if number > 0 else "-Infinity"
    if not number:
        return "0"
    return format(number.normalize(), "f")


def _double(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isnan(number):
        return "NaN"
    return "0" if number == 0 else repr(number)


def _aware(value: str) -> str:
    try:
        return instant(value).astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return value


def _naive(value: str) -> str:
    try:
        return instant(value).replace(tzinfo=None).isoformat()
    except (ValueError, OverflowError):
        return value


def _time(value: str) -> str:
    head, dot, fraction = value.partition(".")
    fraction = fraction.rstrip("0")
    return f"{head}.{fraction}" if dot and fraction else head


def canonical(f: Field) -> Canon | None:
    """The function that makes a validated, non-empty value of key field ``f`` canonical, or
    None where the plan's value already is."""
    base = _base(f.column_type)
    if f.type == "number":
        return _double if base in _FLOATS else _decimal
    if f.type == "datetime":
        return _naive if base == "timestamp" or "without time zone" in (
            f.column_type or "").lower() else _aware
    if f.type == "time":
        return _time
    if f.type == "string" and base in _BPCHAR:
        return lambda value: value.rstrip(" ")
    return None


def key_text_function(dataset: Dataset, columns: Sequence[str]) -> Callable[[Row], str] | None:
    """The key of a row in ``columns`` order as one text (a composite key: the JSON array of
    its canonical values, ``ensure_ascii=False``), or None for a dataset without a key.
    ``ingest_keys.key`` holds it; duplicates within a batch go by it."""
    key = dataset.primary_key
    if not key:
        return None
    fields = {f.name: f for f in dataset.fields}
    where = [columns.index(name) for name in key]
    canon = [canonical(fields[name]) for name in key]
    if len(where) == 1:
        at, fix = where[0], canon[0]
        if fix is None:
            return lambda row: row[at]
        return lambda row: fix(row[at]) if row[at] else row[at]
    pairs = list(zip(where, canon, strict=True))
    return lambda row: json.dumps([fix(row[i]) if fix is not None and row[i] else row[i]
                                   for i, fix in pairs], ensure_ascii=False)
