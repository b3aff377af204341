"""JSON Lines records -> fields in column order: the value rules of the ``jsonl`` layout.

One line is decoded by :data:`DECODER` (numbers as their text exactly as written,
``NaN``/``Infinity`` refused: they are not JSON), then :class:`Columns` turns the object into
the fields of a record:

- a key fills the column it names: exactly, else trimmed and lowercased (as a CSV header
  name is read), else after ``libs.schema.names.normalize``; keys that name no column are
  ignored; two keys of one object that fill the same column (``Email`` and ``email``) make the
  record ``malformed_json``; one key written twice counts once, its last value (as JSON
  parsers and PostgreSQL's jsonb read it);
- a missing key or ``null``: the field's first missing value (Table Schema ``missingValues``,
  ``""`` by default);
- a string: as is; a number: its text as written (``1.50`` stays ``1.50``, never through a
  float); for a number field with a decimal comma (``decimalChar``) the point becomes it;
- ``true`` / ``false``: ``"true"`` / ``"false"`` (a boolean field with other ``trueValues``
  / ``falseValues``: its first ones);
- an object or array: its compact JSON text (numbers as written) for a field of type
  ``object``, ``array`` or ``any`` (json / jsonb columns reflect as ``any``); for any other
  field the record is rejected with the field's reason (``invalid_<type>``, its format's, or
  its legacy ``x-ingest.reason``), the detail saying a JSON object or array was given;
- a string holding NUL (``\\u0000``) or a lone surrogate (``\\ud800``), which PostgreSQL text
  cannot hold, rejects the record ``invalid_encoding``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from libs.schema.compile import Reject, failure_code
from libs.schema.model import Dataset, Field
from libs.schema.names import normalize
from libs.schema.reasons import INVALID_ENCODING, MALFORMED_JSON

JSON_TYPES: Final = ("object", "array", "any")
PLANS: Final = 256  # key sets whose columns are remembered (keys come from the data: bounded)
PLAN_CHARS: Final = 16 << 10  # remembered only when their keys are this short in all


class Number(str):
    """A JSON number: its text as written."""


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


DECODER: Final = json.JSONDecoder(parse_float=Number, parse_int=Number,
                                  parse_constant=_no_constant)


def compact(value: object) -> str:
    """``value`` (as :data:`DECODER` makes it) as compact JSON text, numbers as written."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + compact(v)
                              for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(compact, value)) + "]"
    if isinstance(value, Number):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def kind_of(value: object) -> str:
    """The JSON name of a decoded value's kind, for details."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else "boolean"


def decode(text: str) -> dict[str, object] | Reject:
    """The object on one line, or its ``malformed_json`` reject (not JSON, not an object)."""
    try:
        value = DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return Reject(MALFORMED_JSON, f"not valid JSON: {exc.msg} at column {exc.colno}")
    except ValueError as exc:  # NaN, Infinity
        return Reject(MALFORMED_JSON, f"not valid JSON: {exc}")
    except RecursionError:
        return Reject(MALFORMED_JSON, "not readable JSON: nested too deeply")
    if type(value) is not dict:
        return Reject(MALFORMED_JSON, f"a JSON {kind_of(value)}, not an object")
    return value


class Columns:
    """The record rules of one header (``columns``: the job's columns, the dataset's fields)."""

    def __init__(self, dataset: Dataset, columns: Sequence[str]) -> None:
        self.names = tuple(columns)
        fields = [_field(dataset, name) for name in self.names]
        self._fields = fields
        self._missing = [_first_missing(dataset, f) for f in fields]
        self._json = [f is None or f.type in JSON_TYPES for f in fields]
        self._true = ["true" if f is None or f.type != "boolean" or "true" in f.true_values
                      else f.true_values[0] for f in fields]
        self._false = ["false" if f is None or f.type != "boolean" or "false" in f.false_values
                       else f.false_values[0] for f in fields]
        self._decimal = [f.decimal_char if f is not None and f.type in ("number", "integer")
                         and f.decimal_char != "." else None for f in fields]
        self._exact = {name: at for at, name in enumerate(self.names)}
        self._lowered: dict[str, int] = {}
        self._loose: dict[str, int] = {}
        for at, name in enumerate(self.names):
            self._lowered.setdefault(name.strip().lower(), at)
            self._loose.setdefault(normalize(name), at)
        self._plans: dict[tuple[str, ...], tuple[int, ...] | Reject] = {}

    def column(self, key: str) -> int:
        """The column ``key`` fills, or -1."""
        found = self._exact.get(key, self._lowered.get(key.strip().lower(), -2))
        return self._loose.get(normalize(key), -1) if found == -2 else found

    def unknown(self, keys: Sequence[str]) -> list[str]:
        """The keys among ``keys`` that fill no column."""
        return [key for key in keys if self.column(key) < 0]

    def plan(self, keys: tuple[str, ...]) -> tuple[int, ...] | Reject:
        """The column of each key (-1: none), or the reject of two keys for one column.
        Objects of a file mostly share their keys: a few key sets are remembered."""
        found = self._plans.get(keys)
        if found is None:
            found = self._plan(keys)
            if len(self._plans) < PLANS and sum(map(len, keys)) <= PLAN_CHARS:
                self._plans[keys] = found
        return found

    def _plan(self, keys: tuple[str, ...]) -> tuple[int, ...] | Reject:
        taken: dict[int, str] = {}
        columns = []
        for key in keys:
            at = self.column(key)
            if at >= 0 and at in taken:
                return Reject(MALFORMED_JSON, f"keys {taken[at]!r} and {key!r} both fill "
                                              f"column {self.names[at]}")
            taken[at] = key
            columns.append(at)
        return tuple(columns)

    def fields(self, obj: dict[str, object], escaped: bool,
               strict: bool = True) -> list[str] | Reject:
        """The record's fields in column order, or why it is rejected (see the module).
        ``escaped``: the line holds a ``\\u`` escape (only then can a value hold NUL or a
        lone surrogate). ``strict`` False: nested values are JSON text whatever the field."""
        plan = self.plan(tuple(obj))
        if isinstance(plan, Reject):
            return plan
        values = list(self._missing)
        for at, value in zip(plan, obj.values(), strict=True):
            if at < 0:
                continue
            if type(value) is str:
                values[at] = value
                continue
            text = self._text(at, value, strict)
            if isinstance(text, Reject):
                return text
            if text is not None:
                values[at] = text
        return _checked(values, self.names) if escaped else values

    def _text(self, at: int, value: object, strict: bool) -> str | Reject | None:
        """A value other than a plain string as its field's text (None: missing)."""
        if isinstance(value, Number):
            decimal = self._decimal[at]
            return str(value) if decimal is None else value.replace(".", decimal)
        if value is None:
            return None
        if value is True:
            return self._true[at]
        if value is False:
            return self._false[at]
        if strict and not self._json[at]:
            return self._nested(at, value)
        return compact(value)

    def _nested(self, at: int, value: object) -> Reject:
        f = self._fields[at]
        assert f is not None  # a column without a field takes any JSON
        kind = kind_of(value)
        return Reject(f.reason or failure_code(f),
                      f"{f.name}: a JSON {kind} was given (only fields of type object, array "
                      f"or a json/jsonb column take one)")


def _checked(values: list[str], names: Sequence[str]) -> list[str] | Reject:
    """``values``, or invalid_encoding for one PostgreSQL text cannot hold."""
    for name, value in zip(names, values, strict=True):
        if "\x00" in value:
            return Reject(INVALID_ENCODING, f"{name}: NUL character (\\u0000) at offset "
                                            f"{value.index(chr(0))}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return Reject(INVALID_ENCODING, f"{name}: lone surrogate "
                                            f"\\u{ord(value[exc.start]):04x} at offset "
                                            f"{exc.start} is not a character")
    return values


def _field(dataset: Dataset, name: str) -> Field | None:
    try:
        return dataset.get_field(name)
    except KeyError:
        return None


def _first_missing(dataset: Dataset, f: Field | None) -> str:
    if f is None:
        return ""
    missing = dataset.missing_values_of(f)
    return missing[0] if missing else ""
