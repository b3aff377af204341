"""Column types for ``to_parquet.py``: which Arrow type a CSV column gets, and its values.

A column is typed (``--types typed``) only when every value of it in the file converts to a
value the Parquet layout gives back as text that loads the same (``libs.formats.parquet_text``
then ``libs.schema``): the value parses by its field's rule (missing values are nulls), and the
typed value holds it exactly. One value that does not (``2023-02-30``, ``1.234`` for a
numeric(14,2), a 9-digit fraction) keeps the whole column as strings, so the typed file gives
the same rows and the same rejects as the CSV file. A column holding bytes that are not text in
the file's encoding is binary (those bytes kept), whatever ``--types``.

| Field type | Arrow type |
| --- | --- |
| integer | int64 |
| number | decimal128(p, s) for a numeric(p,s) column (p <= 38), else float64 (exact ones) |
| boolean | bool |
| date | date32 |
| datetime | timestamp(us, UTC); timestamp(us) for a timestamp-without-time-zone column |
| time | time64(us) |
| other | string |
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from libs.schema.cells import parser_for
from libs.schema.model import Dataset, Field
from libs.schema.types import Invalid, column_rules

Convert = Callable[[str], Any]  # canonical text -> typed value; ValueError if it cannot be
_NAIVE: Final = ("timestamp", "timestamp without time zone")
INT64: Final = 2**63


class Untypable(ValueError):
    """A value the column's Arrow type cannot hold exactly."""


def _integer(text: str) -> int:
    value = int(text)
    if not -INT64 <= value < INT64:
        raise Untypable(text)
    return value


def _decimal(scale: int) -> Convert:
    step = Decimal(1).scaleb(-scale)

    def convert(text: str) -> Decimal:
        value = Decimal(text)
        if not value.is_finite() or value.quantize(step) != value:
            raise Untypable(text)
        return value.quantize(step)

    return convert


def _float(text: str) -> float:
    value = float(text)
    if math.isfinite(value) and Decimal(repr(value)) != Decimal(text):
        raise Untypable(text)
    return value


def _fraction_digits(text: str) -> int:
    dot = text.find(".")
    if dot < 0:
        return 0
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    return end - dot - 1


def _stamp(naive: bool) -> Convert:
    def convert(text: str) -> datetime:
        if _fraction_digits(text) > 6:
            raise Untypable(text)
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if naive else value

    return convert


def _time(text: str) -> time:
    if _fraction_digits(text) > 6:
        raise Untypable(text)
    return time.fromisoformat(text)


def arrow_type(f: Field) -> tuple[Any, Convert] | None:
    """The Arrow type of a typed column of ``f`` and the conversion of its canonical text;
    None: a string column."""
    if f.type == "integer":
        return pa.int64(), _integer
    if f.type == "number":
        rules = column_rules(f.column_type)
        if rules.precision is not None and rules.precision <= 38:
            scale = rules.scale or 0
            return pa.decimal128(rules.precision, scale), _decimal(scale)
        return pa.float64(), _float
    if f.type == "boolean":
        return pa.bool_(), lambda text: text == "true"
    if f.type == "date":
        return pa.date32(), date.fromisoformat
    if f.type == "datetime":
        naive = (f.column_type or "").lower() in _NAIVE
        return (pa.timestamp("us") if naive else pa.timestamp("us", tz="UTC")), _stamp(naive)
    if f.type == "time":
        return pa.time64("us"), _time
    return None


class Typed:
    """One typed column: ``value(text)`` is the typed value of a CSV field (None: missing),
    or raises Untypable."""

    def __init__(self, dataset: Dataset, f: Field) -> None:
        found = arrow_type(f)
        parse = parser_for(f)
        assert found is not None
        assert parse is not None
        self.type, self._convert = found
        self._parse = parse
        self._missing = frozenset(dataset.missing_values_of(f)) | {""}

    def value(self, text: str) -> Any:
        value = text.strip()
        if value in self._missing:
            return None
        try:
            return self._convert(self._parse(value))
        except (Invalid, ValueError, InvalidOperation, OverflowError) as exc:
            raise Untypable(text) from exc


def typed_column(dataset: Dataset, f: Field | None) -> Typed | None:
    """The typed column for field ``f`` (None: no field, or a string type)."""
    if f is None or arrow_type(f) is None or parser_for(f) is None:
        return None
    return Typed(dataset, f)
