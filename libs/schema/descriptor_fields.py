"""Table Schema field descriptors <-> ``model.Field``, and ``At``, the checked-reading helper.

Rules and their source (Table Schema, https://specs.frictionlessdata.io/table-schema/):
- ``type`` (Field Types): one of ``model.FIELD_TYPES``; default ``string``.
- ``format``: strings take ``email``, ``uuid`` (spec) or ``cpf``, ``cnpj`` (ours); date, time and
  datetime take ``default`` or a strptime pattern (``%d/%m/%Y``, optionally ``fmt:``-prefixed as
  in early drafts); ``any`` is refused (it guesses, and a guess may swap day and month).
- ``constraints`` (Constraints): each type takes the ones the spec lists for it.
- ``decimalChar`` / ``groupChar`` (number; ``groupChar`` for integer too, v2) and
  ``bareNumber`` (number, integer); ``trueValues`` / ``falseValues`` (boolean);
  ``missingValues`` (v2 allows it on a field).
Unknown keys are refused (a typo must not silently drop a rule), except documentation keys.
Names are checked as PostgreSQL names only (the descriptor also carries reflected names with
capitals and spaces); ``from_file`` applies the identifier allow-list to names from files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from libs.errors import UserError
from libs.schema import model as m

_DOC_KEYS = ("title", "description", "example", "rdfType", "categories")
_FIELD_KEYS = ("name", "type", "format", "constraints", "missingValues", "decimalChar",
               "groupChar", "bareNumber", "trueValues", "falseValues", "x-ingest", *_DOC_KEYS)
_TYPE_KEYS = {"decimalChar": ("number",), "groupChar": ("number", "integer"),
              "bareNumber": ("number", "integer"), "trueValues": ("boolean",),
              "falseValues": ("boolean",)}
_ORDERED = ("required", "unique", "enum", "minimum", "maximum")
CONSTRAINTS_OF = {
    "string": ("required", "unique", "enum", "minLength", "maxLength", "pattern"),
    "integer": _ORDERED, "number": _ORDERED, "date": _ORDERED, "time": _ORDERED,
    "datetime": _ORDERED, "year": _ORDERED,
    "boolean": ("required", "unique", "enum"), "any": ("required", "unique", "enum"),
    "object": ("required", "unique"), "array": ("required", "unique"),
}
_CONSTRAINT_ATTRS = {"required": "required", "unique": "unique", "minLength": "min_length",
                     "maxLength": "max_length", "pattern": "pattern", "enum": "enum",
                     "minimum": "minimum", "maximum": "maximum"}
_REASON = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class At:
    """Where in which descriptor a value sits; its methods check a value or fail there."""

    source: str
    path: str

    def child(self, key: str) -> At:
        joined = f"{self.path}.{key}" if self.path and not key.startswith("[") else self.path + key
        return At(self.source, joined)

    def fail(self, problem: str) -> NoReturn:
        raise UserError(f"{self.source}: {self.path or '(top)'}: {problem}")

    def mapping(self, value: object) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            self.fail(f"expected a mapping, found {type(value).__name__}")
        return value

    def sequence(self, value: object) -> list[Any]:
        if not isinstance(value, list):
            self.fail(f"expected a list, found {type(value).__name__}")
        return value

    def only(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.child(key).fail(f"unknown key (known: {', '.join(allowed)})")

    def text(self, value: object, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(f"expected a string, found {value!r}")
        if pattern is not None and pattern.fullmatch(value) is None:
            self.fail(f"{value!r} does not match {pattern.pattern}")
        return value

    def name(self, value: object) -> str:
        """A table, schema or column name as PostgreSQL stores it: 1-63 bytes, no NUL."""
        text = self.text(value)
        if not text or "\x00" in text or len(text.encode()) > 63:
            self.fail(f"{text!r} is not a PostgreSQL name (1-63 bytes, no NUL)")
        return text

    def char(self, value: object) -> str:
        if not isinstance(value, str) or len(value) != 1:
            self.fail(f"expected one character, found {value!r}")
        return value

    def flag(self, value: object) -> bool:
        if not isinstance(value, bool):
            self.fail(f"expected true or false, found {value!r}")
        return value

    def count(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(f"expected a non-negative integer, found {value!r}")
        return value

    def choice(self, value: object, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.fail(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    def scalar(self, value: object) -> m.Scalar:
        if not isinstance(value, str | int | float | bool):
            self.fail(f"expected a string or a number, found {value!r}")
        return value


def str_list(at: At, value: object) -> tuple[str, ...]:
    return tuple(at.child(f"[{i}]").text(item) for i, item in enumerate(at.sequence(value)))


def field_from(at: At, raw: object) -> m.Field:
    data = at.mapping(raw)
    at.only(data, _FIELD_KEYS)
    name = at.child("name").name(data.get("name"))
    kind = at.child("type").choice(data.get("type", m.DEFAULT_TYPE), m.FIELD_TYPES)
    for key, types in _TYPE_KEYS.items():
        if key in data and kind not in types:
            at.child(key).fail(f"applies to {' and '.join(types)} fields, not {kind}")
    ext = at.child("x-ingest").mapping(data.get("x-ingest", {}))
    at.child("x-ingest").only(ext, ("columnType", "reason"))
    f = m.Field(
        name=name, type=kind,
        format=_format(at.child("format"), kind, data.get("format", "default")),
        constraints=_constraints(at.child("constraints"), kind, data.get("constraints", {})),
        missing_values=(None if "missingValues" not in data
                        else str_list(at.child("missingValues"), data["missingValues"])),
        decimal_char=at.child("decimalChar").char(data.get("decimalChar", ".")),
        group_char=_group_char(at.child("groupChar"), data.get("groupChar", "")),
        bare_number=at.child("bareNumber").flag(data.get("bareNumber", True)),
        true_values=str_list(at.child("trueValues"),
                             data.get("trueValues", list(m.DEFAULT_TRUE_VALUES))),
        false_values=str_list(at.child("falseValues"),
                              data.get("falseValues", list(m.DEFAULT_FALSE_VALUES))),
        column_type=(None if "columnType" not in ext
                     else at.child("x-ingest.columnType").text(ext["columnType"])),
        reason=(None if "reason" not in ext
                else at.child("x-ingest.reason").text(ext["reason"], pattern=_REASON)),
    )
    _check_chars(at, f)
    return f


def _format(at: At, kind: str, value: object) -> str:
    text = at.text(value)
    if kind == "string":
        return at.choice(text, m.STRING_FORMATS)
    if kind in ("date", "time", "datetime"):
        if text == "default" or "%" in text:
            return text
        at.fail(f"{text!r}: use 'default' or a strptime pattern such as '%d/%m/%Y'")
    if text != "default":
        at.fail(f"{kind} fields take no format, found {text!r}")
    return text


def _group_char(at: At, value: object) -> str:
    return "" if value == "" else at.char(value)


def _check_chars(at: At, f: m.Field) -> None:
    if f.type == "number" and f.group_char and f.group_char == f.decimal_char:
        at.child("groupChar").fail("must differ from decimalChar")
    if f.group_char.isdigit() or f.decimal_char.isdigit() or f.decimal_char in "+-":
        at.child("decimalChar").fail("decimalChar and groupChar cannot be digits or signs")
    both = set(f.true_values) & set(f.false_values)
    if both:
        at.child("trueValues").fail(f"{sorted(both)} are both true and false values")


def _constraints(at: At, kind: str, raw: object) -> m.Constraints:
    data = at.mapping(raw)
    at.only(data, CONSTRAINTS_OF[kind])
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = at.child(key)
        if key in ("required", "unique"):
            values[_CONSTRAINT_ATTRS[key]] = where.flag(value)
        elif key in ("minLength", "maxLength"):
            values[_CONSTRAINT_ATTRS[key]] = where.count(value)
        elif key == "pattern":
            values["pattern"] = _pattern(where, value)
        elif key == "enum":
            items = where.sequence(value)
            values["enum"] = tuple(where.child(f"[{i}]").scalar(v) for i, v in enumerate(items))
        else:
            values[_CONSTRAINT_ATTRS[key]] = where.scalar(value)
    return m.Constraints(**values)


def _pattern(at: At, value: object) -> str:
    text = at.text(value)
    try:
        re.compile(text)
    except re.error as exc:
        at.fail(f"not a regular expression: {exc}")
    return text


def field_to(f: m.Field) -> dict[str, Any]:
    """The canonical field descriptor (defaults left out)."""
    default = m.Field(f.name)
    out: dict[str, Any] = {"name": f.name, "type": f.type}
    for key, attr in (("format", "format"), ("decimalChar", "decimal_char"),
                      ("groupChar", "group_char"), ("bareNumber", "bare_number")):
        if getattr(f, attr) != getattr(default, attr):
            out[key] = getattr(f, attr)
    for key, attr in (("missingValues", "missing_values"), ("trueValues", "true_values"),
                      ("falseValues", "false_values")):
        if getattr(f, attr) != getattr(default, attr):
            out[key] = list(getattr(f, attr))
    constraints = _constraints_to(f.constraints)
    if constraints:
        out["constraints"] = constraints
    ext = {k: v for k, v in (("columnType", f.column_type), ("reason", f.reason)) if v}
    if ext:
        out["x-ingest"] = ext
    return out


def _constraints_to(c: m.Constraints) -> dict[str, Any]:
    default = m.Constraints()
    out: dict[str, Any] = {}
    for key, attr in _CONSTRAINT_ATTRS.items():
        value = getattr(c, attr)
        if value != getattr(default, attr):
            out[key] = list(value) if isinstance(value, tuple) else value
    return out
