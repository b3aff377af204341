"""PostgreSQL column types <-> Table Schema field types.

``field_shape(format_type)`` is the reflection mapping: text/varchar(n)/char(n) -> string
(+ maxLength n); smallint/integer/bigint -> integer (+ minimum/maximum of the type);
numeric(p,s) -> number (the p/s bound is a rule through ``columnType``, see
``types.number_parser``); real/double precision -> number; boolean; date; time (with or
without zone) -> time; timestamp (with or without zone) -> datetime; uuid -> string with format
uuid; json/jsonb and every other type -> any, the column type kept (PostgreSQL parses the text).

``compatible(field, column_type)``: whether values of the field can load into the column.

``same_type(declared, column_type)``: whether a dataset's ``columnType`` names the column's type
(aliases as PostgreSQL knows them: ``varchar(8)`` is ``character varying(8)``, ``timestamptz``
``timestamp with time zone``, ``int4`` ``integer``, ...; ``format_type`` spells the column's).
"""

from __future__ import annotations

import re
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


# PostgreSQL's other names for a type -> format_type's (Table 8.1 of the manual).
_ALIASES: Final = {
    "varchar": "character varying", "char": "character", "bpchar": "character",
    "int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint",
    "bool": "boolean", "float8": "double precision", "float4": "real", "float": "double precision",
    "decimal": "numeric", "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone", "time": "time without time zone",
    "timetz": "time with time zone",
}
_TYPE: Final = re.compile(r"(?P<base>[a-z_][a-z0-9_ ]*?)\s*(?P<mod>\(\s*\d+\s*(,\s*-?\d+\s*)?\))?"
                          r"\s*(?P<zone>with(out)? time zone)?\s*(?P<array>(\[\])*)")


def canonical_type(text: str) -> str:
    """``text`` spelled as ``format_type`` spells a column of that type (lowercase, one
    space, aliases resolved; ``character`` without a length is ``character(1)``)."""
    plain = " ".join(text.lower().split())
    found = _TYPE.fullmatch(plain)
    if found is None:
        return plain
    base = found["base"].strip()
    mod = re.sub(r"\s+", "", found["mod"] or "")
    zone = found["zone"]
    if zone and base in ("timestamp", "time"):
        base = f"{base} {zone}"
    base = _ALIASES.get(base, base)
    if base == "character" and not mod:
        mod = "(1)"
    if " " in base and base.split(" ", 1)[0] in ("timestamp", "time") and mod:
        head, tail = base.split(" ", 1)
        return f"{head}{mod} {tail}{found['array']}"
    return f"{base}{mod}{found['array']}"


def same_type(declared: str, column_type: str) -> bool:
    """True when ``declared`` (a dataset's columnType) is the column's type."""
    return canonical_type(declared) == canonical_type(column_type)
