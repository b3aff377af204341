"""Dataset + file header -> a row validator built from closures (no generated source).

``plan(dataset, header)`` maps the header onto the fields (exact name, else ``names.normalize``)
and returns a ``Plan``; ``Plan.validate(fields, tail)`` turns one record's fields into the tuple
of canonical text values, in ``Plan.columns`` order, followed by ``tail``, or the ``Reject`` of
the first broken rule (``reasons`` lists the codes and the order). An empty string in the tuple
is NULL in a CSV COPY.

Per field, one closure: trim (every type but plain ``string`` and ``any``: surrounding
whitespace is not part of a number, date, email...), the missing-value test (the field's or
schema's ``missingValues``; an empty field is always missing, since CSV COPY cannot tell an
empty string from NULL), ``required``, the type or format parser, then the constraint checks.
The success path has no per-field try block: when a field raises, the record is walked again
to name the first broken rule (rejects are rare; the rules are pure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from libs.errors import UserError
from libs.schema.constraints import checks_for
from libs.schema.formats import STRING_FORMATS
from libs.schema.model import Dataset, Field
from libs.schema.names import normalize
from libs.schema.reasons import MISSING_VALUE, WRONG_COLUMN_COUNT, show
from libs.schema.temporal import datetime_parser, parse_date, parse_time, pattern_parser
from libs.schema.types import (
    ColumnRules,
    Invalid,
    Parser,
    boolean_parser,
    column_rules,
    integer_parser,
    json_parser,
    number_parser,
    parse_year,
)

Cell = Callable[[str], str]
Row = tuple[str, ...]
_UNTRIMMED: Final = ("string", "any")
_NAIVE: Final = ("timestamp", "timestamp without time zone")


@dataclass(frozen=True)
class Reject:
    """A record that breaks a rule: its reason code and a readable detail."""

    reason: str
    detail: str


def parser_for(f: Field) -> Parser | None:
    """The type/format parser of ``f`` (None: text kept as it is)."""
    rules = column_rules(f.column_type)
    kind = f.type
    if kind == "string":
        return STRING_FORMATS.get(f.format)
    if kind in ("date", "time", "datetime") and f.format != "default":
        return pattern_parser(kind, f.format)
    simple: dict[str, Parser] = {"date": parse_date, "time": parse_time, "year": parse_year}
    if kind in simple:
        return simple[kind]
    if kind == "datetime":
        return datetime_parser(naive_column=(f.column_type or "").lower() in _NAIVE)
    if kind == "integer":
        return integer_parser(f.group_char, f.bare_number)
    if kind == "number":
        return number_parser(f.decimal_char, f.group_char, f.bare_number, rules)
    if kind == "boolean":
        return boolean_parser(f.true_values, f.false_values)
    if kind in ("object", "array"):
        return json_parser(kind)
    return None


def cell_for(dataset: Dataset, f: Field) -> Cell | None:
    """The closure that checks one value of ``f`` (None: the value is kept as it is)."""
    parse = parser_for(f)
    rules = column_rules(f.column_type) if f.type in ("integer", "string") else ColumnRules()
    checks = checks_for(f, rules, parse or str)
    missing = frozenset(dataset.missing_values_of(f)) | {""}
    trim = f.type not in _UNTRIMMED or f.format != "default"
    if parse is None and not checks and not dataset.is_required(f) and missing == {""}:
        return None
    return _cell(parse or str, tuple(checks), missing, dataset.is_required(f), trim)


def _cell(parse: Parser, checks: tuple[Callable[[str], None], ...], missing: frozenset[str],
          required: bool, trim: bool) -> Cell:
    def cell(raw: str) -> str:
        value = raw.strip() if trim else raw
        if value in missing:
            if required:
                raise Invalid(MISSING_VALUE, "is a missing value in a required field")
            return ""
        out = parse(value)
        for check in checks:
            check(out)
        return out

    return cell


def check(dataset: Dataset) -> None:
    """Build every field's closure once: UserError for a bound or enum the type cannot read."""
    for f in dataset.fields:
        try:
            cell_for(dataset, f)
        except UserError as exc:
            raise UserError(f"dataset {dataset.name}: {exc}") from None


@dataclass(frozen=True)
class Plan:
    """Where each of the dataset's fields sits in a file with a given header."""

    dataset: Dataset
    field_count: int
    columns: tuple[str, ...]
    index: tuple[int, ...]
    extra: tuple[str, ...]
    _fields: tuple[Field, ...] = field(repr=False)
    _cells: tuple[Cell | None, ...] = field(repr=False)

    def validate(self, fields: Sequence[str], tail: tuple[str, ...] = ()) -> Row | Reject:
        """Canonical values in ``columns`` order then ``tail``, or the first broken rule."""
        if len(fields) != self.field_count:
            return Reject(WRONG_COLUMN_COUNT,
                          f"expected {self.field_count} fields, found {len(fields)}")
        raw = [fields[i] for i in self.index]
        try:
            values = [v if c is None else c(v) for c, v in zip(self._cells, raw, strict=True)]
        except Invalid:
            return self._first_reject(raw)
        return (*values, *tail)

    def _first_reject(self, raw: list[str]) -> Reject:
        for f, c, value in zip(self._fields, self._cells, raw, strict=True):
            try:
                if c is not None:
                    c(value)
            except Invalid as exc:
                return Reject(f.reason or exc.code, f"{f.name}: {show(value)} {exc}")
        raise AssertionError("a rule failed once and passed when checked again")


def default_header(dataset: Dataset) -> tuple[str, ...]:
    """The names a header-less file (``dialect.header: false``) has: the fields, in order."""
    return dataset.field_names


def plan(dataset: Dataset, header: Sequence[str], partial: bool = False) -> Plan:
    """Map ``header`` onto ``dataset``; UserError naming the fields it cannot fill.

    ``partial``: fields absent from the header are left out (the table's defaults fill them)
    unless required; otherwise (a declared Table Schema: the file has every field) all must be
    present. Empty header names are extra columns, ignored.
    """
    where = _positions(dataset, header)
    absent = [f.name for f in dataset.fields
              if f.name not in where and (not partial or dataset.is_required(f))]
    if absent:
        raise UserError(f"the header lacks column(s) {', '.join(absent)} (dataset "
                        f"{dataset.name} needs {', '.join(dataset.field_names)})")
    used = tuple(f for f in dataset.fields if f.name in where)
    taken = set(where.values())
    return Plan(dataset=dataset, field_count=len(header),
                columns=tuple(f.name for f in used), index=tuple(where[f.name] for f in used),
                extra=tuple(h for i, h in enumerate(header) if i not in taken),
                _fields=used, _cells=tuple(cell_for(dataset, f) for f in used))


def _positions(dataset: Dataset, header: Sequence[str]) -> dict[str, int]:
    """Field name -> header position: the exact name first, else the normalized one."""
    exact = {name: i for i, name in enumerate(header) if name}
    loose: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        if name:
            loose.setdefault(normalize(name), []).append(i)
    where: dict[str, int] = {}
    for f in dataset.fields:
        if f.name in exact:
            where[f.name] = exact[f.name]
            continue
        found = loose.get(normalize(f.name), [])
        if len(found) > 1:
            names = ", ".join(repr(header[i]) for i in found)
            raise UserError(f"header names {names} all match column {f.name}")
        if found:
            where[f.name] = found[0]
    return where


__all__ = ["Plan", "Reject", "Row", "cell_for", "check", "default_header",
           "parser_for", "plan"]
