"""PostgreSQL column types <-> Table Schema field types.

``field_shape(format_type)`` is the reflection mapping: text/varchar(n)/char(n) -> string
(+ maxLength n); smallint/integer/bigint -> integer (+ minimum/maximum of the type);
numeric(p,s) -> number (the p/s bound is a rule through ``columnType``, see
``types.number_parser``); real/double precision -> number; boolean; date; time (with or
without zone) -> time; timestamp (with or without zone) -> datetime; uuid -> string with format
uuid; json/jsonb and every other type -> any, the column type kept (PostgreSQL parses the text).

``compatible(field, column_type)``: whether values of the field can load into the column.
"""

from __future__ import annotations

from typing import Any, Final

from libs.schema.model import Field
from libs.schema.types import column_rules

_STRING: Final = ("text", "character varying", "character", "varchar", "char", "bpchar",
                  "name", "citext")
_INTEGER: Final = ("smallint", "integer", "bigint")
_NUMBER: Final = ("numeric", "real", "double precision")
# Which column kinds (the reflected field type) a dataset field type can fill.
_FILLS: Final = {
    "string": ("string",), "integer": ("integer", "number"), "number": ("number",),
    "year": ("integer", "number"), "boolean": ("boolean",), "date": ("date", "datetime"),
    "time": ("time",), "datetime": ("datetime",), "object": (), "array": (),
}


def _base(column_type: str) -> str:
    return column_type.lower().split("(")[0].strip()


def field_shape(column_type: str) -> tuple[str, str, dict[str, Any]]:
    """(type, format, constraints) of the field that reflects a column of ``column_type``."""
    base = _base(column_type)
    rules = column_rules(column_type)
    if base in _STRING:
        extra = {} if rules.max_length is None else {"max_length": rules.max_length}
        return "string", "default", extra
    if base in _INTEGER:
        return "integer", "default", {"minimum": rules.minimum, "maximum": rules.maximum}
    if base in _NUMBER:
        return "number", "default", {}
    simple = {"boolean": "boolean", "date": "date", "uuid": "string"}
    if base in simple:
        return simple[base], "uuid" if base == "uuid" else "default", {}
    if base.startswith("timestamp"):
        return "datetime", "default", {}
    if base.startswith("time"):
        return "time", "default", {}
    return "any", "default", {}


def compatible(f: Field, column_type: str) -> bool:
    """True when values of ``f`` can load into a column of ``column_type``."""
    column_kind, column_format, _ = field_shape(column_type)
    if f.type == "any" or column_kind == "any":
        return True
    if column_format == "uuid":
        return f.type == "string" and f.format in ("uuid", "default")
    return column_kind in _FILLS.get(f.type, ())
