"""One closure per field: trim, missing value, required, type or format, constraints.

A field kept as it is (plain ``string``/``any``, no rule, only ``""`` missing) has no closure.
Where a type has a fast-accept regex whose matches are already canonical (``2024-01-31``,
``120.50``, ``alice@example.com``), the closure returns the raw value after that one C-level
match; anything else takes the full path (trim, missing values, parser). Trimming: every type
but plain ``string`` and ``any`` (surrounding whitespace is not part of a number, a date, an
email). ``""`` is always missing: a CSV COPY cannot tell an empty string from NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from libs.errors import UserError
from libs.schema.constraints import checks_for
from libs.schema.formats import EMAIL_OK, STRING_FORMATS, UUID_OK
from libs.schema.model import Dataset, Field
from libs.schema.reasons import MISSING_VALUE
from libs.schema.temporal import (
    DATE_OK,
    NAIVE_OK,
    STAMP_OK,
    TIME_OK,
    datetime_parser,
    parse_date,
    parse_time,
    pattern_parser,
)
from libs.schema.types import (
    ColumnRules,
    Invalid,
    Parser,
    boolean_parser,
    column_rules,
    fits_pattern,
    integer_parser,
    json_parser,
    number_parser,
    parse_year,
)

Cell = Callable[[str], str]
Check = Callable[[str], None]
_UNTRIMMED: Final = ("string", "any")
_NAIVE: Final = ("timestamp", "timestamp without time zone")
_INTEGER_OK: Final = re.compile(r"-?(?:[1-9][0-9]{0,17}|0)")
_DECIMAL_OK: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_YEAR_OK: Final = re.compile(r"[1-9][0-9]{3}")


def parser_for(f: Field) -> Parser | None:
    """The type/format parser of ``f`` (None: text kept as it is)."""
    kind = f.type
    if kind == "string":
        return STRING_FORMATS.get(f.format)
    if kind in ("date", "time", "datetime") and f.format != "default":
        return pattern_parser(kind, f.format, naive_column=kind == "datetime" and _naive(f))
    simple: dict[str, Parser] = {"date": parse_date, "time": parse_time, "year": parse_year}
    if kind in simple:
        return simple[kind]
    if kind == "datetime":
        return datetime_parser(naive_column=_naive(f))
    if kind == "integer":
        return integer_parser(f.group_char, f.bare_number)
    if kind == "number":
        return number_parser(f.decimal_char, f.group_char, f.bare_number,
                             column_rules(f.column_type))
    if kind == "boolean":
        return boolean_parser(f.true_values, f.false_values)
    if kind in ("object", "array"):
        return json_parser(kind)
    return None


def _naive(f: Field) -> bool:
    return (f.column_type or "").lower() in _NAIVE


def fast_pattern(f: Field) -> re.Pattern[str] | None:
    """A regex whose full matches are valid values already in canonical form, or None."""
    if f.format != "default":
        return {"email": EMAIL_OK, "uuid": UUID_OK}.get(f.format) if f.type == "string" else None
    if f.type == "number":
        plain = f.decimal_char == "." and not f.group_char and f.bare_number
        fits = fits_pattern(column_rules(f.column_type))
        return None if not plain else fits or _DECIMAL_OK
    if f.type == "integer":
        return _INTEGER_OK if not f.group_char and f.bare_number else None
    if f.type == "datetime":
        return NAIVE_OK if _naive(f) else STAMP_OK
    return {"date": DATE_OK, "time": TIME_OK, "year": _YEAR_OK}.get(f.type)


def cell_for(dataset: Dataset, f: Field) -> Cell | None:
    """The closure that checks one value of ``f`` (None: the value is kept as it is)."""
    parse = parser_for(f)
    rules = column_rules(f.column_type) if f.type in ("integer", "string") else ColumnRules()
    checks = tuple(checks_for(f, rules, parse or str))
    missing = frozenset(dataset.missing_values_of(f)) | {""}
    required = dataset.is_required(f)
    if parse is None and not checks and not required and missing == {""}:
        return None
    fast = fast_pattern(f)
    if fast is not None and any(fast.fullmatch(token) for token in missing):
        fast = None  # a missing-value token must never be taken for a value
    trim = f.type not in _UNTRIMMED or f.format != "default"
    slow = _slow(parse or str, missing, required, trim)
    return _with_checks(slow, fast, checks)


def _slow(parse: Parser, missing: frozenset[str], required: bool, trim: bool) -> Cell:
    def cell(raw: str) -> str:
        value = raw.strip() if trim else raw
        if value in missing:
            if required:
                raise Invalid(MISSING_VALUE, "is a missing value in a required field")
            return ""
        return parse(value)

    return cell


def _with_checks(slow: Cell, fast: re.Pattern[str] | None, checks: tuple[Check, ...]) -> Cell:
    if fast is None and not checks:
        return slow
    accept = fast.fullmatch if fast is not None else (lambda raw: None)
    if not checks:
        def quick(raw: str) -> str:
            return raw if accept(raw) else slow(raw)
        return quick

    def checked(raw: str) -> str:
        out = raw if accept(raw) else slow(raw)
        if out:
            for check in checks:
                check(out)
        return out

    return checked


def check(dataset: Dataset) -> None:
    """Build every field's closure once: UserError for a bound or enum the type cannot read."""
    for f in dataset.fields:
        try:
            cell_for(dataset, f)
        except UserError as exc:
            raise UserError(f"dataset {dataset.name}: {exc}") from None
