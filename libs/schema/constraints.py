"""Constraint checks on canonical values (Table Schema, Constraints), in the order the reasons
table of ``reasons`` lists them: minLength, maxLength, pattern, enum, minimum/maximum.

Bounds and enum values may be written in the descriptor as JSON numbers/booleans or as strings
in the field's physical form (``"01/02/2024"`` for a ``%d/%m/%Y`` date); both are read once,
here, with the field's own parser. The column type adds its own bounds (``types.column_rules``):
an integer column's range (``out_of_range``) and a ``varchar(n)`` length (``too_long``); the
tighter bound wins. ``unique`` is not checked per record: the key's uniqueness is the loader's
``duplicate_key``, any other unique field needs a unique index (``check_against_table``).
``pattern`` must match the whole canonical value (XML Schema patterns are anchored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.errors import UserError
from libs.schema.model import Field, Scalar
from libs.schema.reasons import NOT_IN_ENUM, OUT_OF_RANGE, PATTERN_MISMATCH, TOO_LONG, TOO_SHORT
from libs.schema.temporal import instant
from libs.schema.types import ColumnRules, Invalid, Parser

Check = Callable[[str], None]
_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


VALUE_OF: dict[str, Callable[[str], Any]] = {
    "integer": int, "year": int, "number": Decimal, "date": date.fromisoformat,
    "time": lambda text: time.fromisoformat(_FRACTION.sub(r"\1", text)),
    "datetime": instant, "boolean": str, "string": str, "any": str,
}


@dataclass(frozen=True)
class Limits:
    """A field's constraints once read: the tighter of each descriptor bound and the column
    type's, bounds and enum values as comparable values of the field's type (``VALUE_OF``)."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: list[Any] | None = None
    low: Any = None
    high: Any = None


def limits_for(f: Field, rules: ColumnRules, parse: Parser) -> Limits:
    """Field ``f``'s limits; UserError for a bound or enum value its type cannot read."""
    c = f.constraints
    return Limits(
        min_length=c.min_length, max_length=_tighter(c.max_length, rules.max_length, min),
        pattern=c.pattern,
        enum=None if c.enum is None else [_logical(f, parse, item, "enum") for item in c.enum],
        low=_tighter(_bound(f, parse, c.minimum), rules.minimum, max),
        high=_tighter(_bound(f, parse, c.maximum), rules.maximum, min))


def checks_for(f: Field, rules: ColumnRules, parse: Parser) -> list[Check]:
    """The checks of field ``f``, each raising ``Invalid``; UserError for an unusable bound."""
    limits = limits_for(f, rules, parse)
    checks: list[Check] = []
    if limits.min_length is not None:
        checks.append(_min_length(limits.min_length))
    if limits.max_length is not None:
        checks.append(_max_length(limits.max_length))
    if limits.pattern is not None:
        checks.append(_pattern(limits.pattern))
    if limits.enum is not None:
        checks.append(_enum(f, limits.enum))
    if limits.low is not None or limits.high is not None:
        checks.append(_range(f.type, limits.low, limits.high))
    return checks


def _tighter(a: Any, b: Any, pick: Callable[[Any, Any], Any]) -> Any:
    return b if a is None else a if b is None else pick(a, b)


def _bound(f: Field, parse: Parser, value: Scalar | None) -> Any:
    return None if value is None else _logical(f, parse, value, "bound")


def _logical(f: Field, parse: Parser, value: Scalar, what: str) -> Any:
    """A descriptor value as a comparable value of the field's type."""
    try:
        if isinstance(value, str):
            return VALUE_OF[f.type](parse(value))
        if f.type == "boolean" and isinstance(value, bool):
            return "true" if value else "false"
        if f.type in ("integer", "year") and isinstance(value, int) and not isinstance(value,
                                                                                     bool):
            return value
        if f.type == "number" and not isinstance(value, bool):
            return Decimal(str(value))
    except (Invalid, ValueError, InvalidOperation):
        pass
    raise UserError(f"field {f.name}: {what} {value!r} is not a valid {f.type}")


def _min_length(limit: int) -> Check:
    def check(value: str) -> None:
        if len(value) < limit:
            raise Invalid(TOO_SHORT, f"is shorter than {limit} characters")
    return check


def _max_length(limit: int) -> Check:
    def check(value: str) -> None:
        if len(value) > limit:
            raise Invalid(TOO_LONG, f"is longer than {limit} characters")
    return check


def _pattern(pattern: str) -> Check:
    regex = re.compile(pattern)

    def check(value: str) -> None:
        if regex.fullmatch(value) is None:
            raise Invalid(PATTERN_MISMATCH, f"does not match {pattern}")
    return check


def _enum(f: Field, allowed: list[Any]) -> Check:
    value_of = VALUE_OF[f.type]
    shown = ", ".join(str(item) for item in allowed)

    def check(value: str) -> None:
        if value_of(value) not in allowed:
            raise Invalid(NOT_IN_ENUM, f"is not one of {shown}")
    return check


def _range(kind: str, low: Any, high: Any) -> Check:
    value_of = VALUE_OF[kind]
    text = f"{'-inf' if low is None else low} .. {'inf' if high is None else high}"

    def check(value: str) -> None:
        try:
            item = value_of(value)
            inside = (low is None or item >= low) and (high is None or item <= high)
        except (InvalidOperation, TypeError):  # NaN, or naive vs aware
            inside = False
        if not inside:
            raise Invalid(OUT_OF_RANGE, f"is outside {text}")
    return check
