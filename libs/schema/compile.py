"""Dataset + file header -> a row validator built from closures (no generated source).

``plan(dataset, header)`` maps the header onto the fields (exact name, else ``names.normalize``)
and returns a ``Plan``; ``Plan.validate(fields, tail)`` turns one record's fields into the tuple
of canonical text values, in ``Plan.columns`` order, followed by ``tail``, or the ``Reject`` of
the first broken rule (``reasons`` lists the codes and the order). An empty string in the tuple
is NULL in a CSV COPY.

Per field, one closure (``cells``); a field kept as it is has none, so the record costs one
``itemgetter`` plus a call per checked field. Fields are checked in the dataset's order; the
first broken rule is the reject. A rule that raises anything but ``Invalid`` (a value no rule
foresaw: ``OverflowError``, ``RecursionError``, ...) rejects that record only, with the field's
reason (``failure_code``) and a detail naming the column, the value and the exception: one odd
value never takes its batch down. The ``try`` costs nothing while nothing is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from libs.errors import UserError
from libs.schema.cells import Cell, cell_for, check, parser_for
from libs.schema.model import Dataset, Field
from libs.schema.names import normalize
from libs.schema.reasons import WRONG_COLUMN_COUNT, invalid, show
from libs.schema.types import Invalid

Row = tuple[str, ...]


@dataclass(frozen=True)
class Reject:
    """A record that breaks a rule: its reason code and a readable detail."""

    reason: str
    detail: str


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
    _pick: Callable[[Sequence[str]], tuple[str, ...]] = field(repr=False)
    _active: tuple[tuple[int, Cell], ...] = field(repr=False)

    @property
    def checked(self) -> tuple[tuple[int, Field, Cell], ...]:
        """(place in ``columns``, field, closure) of each field that has a closure."""
        return tuple((at, self._fields[at], cell) for at, cell in self._active)

    def validate(self, fields: Sequence[str], tail: tuple[str, ...] = ()) -> Row | Reject:
        """Canonical values in ``columns`` order then ``tail``, or the first broken rule."""
        if len(fields) != self.field_count:
            return Reject(WRONG_COLUMN_COUNT,
                          f"expected {self.field_count} fields, found {len(fields)}")
        raw = self._pick(fields)
        values = list(raw)
        at = 0
        try:
            for at, cell in self._active:
                values[at] = cell(values[at])
        except Exception as exc:  # ``at`` is the field that broke its rule: the first one
            return self.broken(at, raw[at], exc)
        return (*values, *tail)

    def broken(self, at: int, value: str, exc: Exception) -> Reject:
        """The reject of a record whose first broken field is the one at ``at``: its closure
        raised ``exc`` on ``value``, ``Invalid`` for a broken rule, anything else for a rule
        that failed on a value no rule foresaw (this record only)."""
        f = self._fields[at]
        if isinstance(exc, Invalid):
            return Reject(f.reason or exc.code, f"{f.name}: {show(value)} {exc}")
        return Reject(f.reason or failure_code(f),
                      f"{f.name}: {show(value)} could not be checked "
                      f"({type(exc).__name__}: {exc})")


def failure_code(f: Field) -> str:
    """The code of a rule of ``f`` that raised something other than ``Invalid``: the field's
    format or type code (``invalid_email``, ``invalid_datetime``; ``invalid_string`` for a
    plain string's constraint)."""
    return invalid(f.format if f.type == "string" and f.format != "default" else f.type)


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
        needed = [f.name for f in dataset.fields if not partial or dataset.is_required(f)]
        raise UserError(f"the header lacks column(s) {', '.join(absent)} (dataset "
                        f"{dataset.name} needs {', '.join(needed)})")
    used = tuple(f for f in dataset.fields if f.name in where)
    index = tuple(where[f.name] for f in used)
    cells = tuple(cell_for(dataset, f) for f in used)
    return Plan(dataset=dataset, field_count=len(header),
                columns=tuple(f.name for f in used), index=index,
                extra=tuple(h for i, h in enumerate(header) if i not in set(index)),
                _fields=used, _cells=cells, _pick=_picker(index),
                _active=tuple((at, c) for at, c in enumerate(cells) if c is not None))


def _picker(index: tuple[int, ...]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The fields at ``index`` as a tuple (``itemgetter`` returns a bare item for one index)."""
    if len(index) == 1:
        only = index[0]
        return lambda fields: (fields[only],)
    return itemgetter(*index)


def _positions(dataset: Dataset, header: Sequence[str]) -> dict[str, int]:
    """Field name -> header position: the exact name first, else the normalized one."""
    exact = {name: i for i, name in enumerate(header) if name}
    twice = sorted({name for i, name in enumerate(header) if name and exact[name] != i})
    if twice:
        raise UserError(f"the header names {', '.join(map(repr, twice))} more than once")
    loose: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        if name:
            loose.setdefault(normalize(name), []).append(i)
    where = {f.name: exact[f.name] for f in dataset.fields if f.name in exact}
    claimed = {i: name for name, i in where.items()}  # one header column fills one field
    taken = set(claimed)  # exact matches
    for f in dataset.fields:
        if f.name in where:
            continue
        found = [i for i in loose.get(normalize(f.name), []) if i not in taken]
        if len(found) > 1:
            names = ", ".join(repr(header[i]) for i in found)
            raise UserError(f"header names {names} all match column {f.name}")
        if not found:
            continue
        if found[0] in claimed:
            raise UserError(f"header name {header[found[0]]!r} matches both columns "
                            f"{claimed[found[0]]} and {f.name}: name each column exactly")
        claimed[found[0]] = f.name
        where[f.name] = found[0]
    return where


__all__ = ["Cell", "Plan", "Reject", "Row", "cell_for", "check", "default_header",
           "parser_for", "plan"]
