"""Reflect an existing PostgreSQL table into a Dataset, and check a Dataset against a table.

``reflect(conn, table, schema)`` reads ``pg_catalog``: the insertable columns in order (generated
and ``GENERATED ALWAYS`` identity columns are left out), their types (``format_type``), NOT
NULL, whether a default exists, and the key candidates: the primary key and every valid unique
index without a predicate or expressions (key columns only, not ``INCLUDE`` ones).

``to_dataset(reflected, key)`` maps the columns onto Table Schema fields (``types.py`` of the
column kept as ``columnType``) and picks the key: the caller's ``key`` (it must be a
candidate), else the primary key, else the only unique candidate; several candidates and no
choice is a UserError listing them; no candidate means no key (insert mode without duplicate
detection). A column is ``required`` when it is NOT NULL without a default.

``check_against_table(dataset, reflected)``: one UserError line for missing columns, table
columns the dataset cannot fill, incompatible types, or a key without a unique index.

``with_column_types(dataset, reflected)``: the dataset whose fields carry their column's type
(one left out, or declared as another type, takes the column's), so a declared dataset keeps
the table's bounds (``numeric(12,2)``'s scale, ``integer``'s range, ``varchar(n)``'s length) as
a reflected one does: a value beyond them is a reject with its reason, never rounded or
refused by PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from libs.db import Conn
from libs.errors import UserError
from libs.schema.model import Constraints, Dataset, Field, Table
from libs.schema.names import dataset_name
from libs.schema.pgtypes import compatible, field_shape, same_type

_TABLE_SQL = """
SELECT c.oid, n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND c.relkind IN ('r', 'p')
  AND (($2::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid)) OR n.nspname = $2)
"""
_COLUMNS_SQL = """
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
       a.atthasdef OR a.attidentity = 'd' AS has_default
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attgenerated = '' AND a.attidentity <> 'a'
ORDER BY a.attnum
"""
_KEYS_SQL = """
SELECT i.indisprimary,
       ARRAY(SELECT a.attname
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indisprimary DESC, ic.relname
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    has_default: bool


@dataclass(frozen=True)
class Reflected:
    """A table as the catalog describes it; ``candidates`` include the primary key."""

    table: Table
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    candidates: tuple[tuple[str, ...], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


async def reflect(conn: Conn, table: str, schema: str | None = None) -> Reflected:
    """Read ``table`` (a name as stored, not SQL); UserError when there is no such table."""
    found = await conn.fetchrow(_TABLE_SQL, table, schema)
    if found is None:
        where = f"{schema}.{table}" if schema else table
        raise UserError(f"table {where!r} does not exist (or is not visible in the search_path)")
    oid = found["oid"]
    columns = tuple(Column(r["attname"], r["type"], r["attnotnull"], r["has_default"])
                    for r in await conn.fetch(_COLUMNS_SQL, oid))
    keys = await conn.fetch(_KEYS_SQL, oid)
    primary = next((tuple(r["columns"]) for r in keys if r["indisprimary"]), ())
    candidates = tuple(dict.fromkeys(tuple(r["columns"]) for r in keys))
    return Reflected(Table(found["relname"], found["nspname"]), columns, primary, candidates)


def choose_key(reflected: Reflected, key: Sequence[str] | None = None) -> tuple[str, ...]:
    """The key (see the module docstring); ``()`` when the table has no candidate."""
    if key:
        for candidate in reflected.candidates:
            if set(candidate) == set(key):
                return candidate
        raise UserError(f"key ({', '.join(key)}) has no unique index on {reflected.table.name} "
                        f"(candidates: {_show(reflected.candidates) or 'none'})")
    if reflected.primary_key:
        return reflected.primary_key
    if len(reflected.candidates) == 1:
        return reflected.candidates[0]
    if reflected.candidates:
        raise UserError(f"table {reflected.table.name} has several unique keys "
                        f"({_show(reflected.candidates)}): choose one with --key")
    return ()


def _show(candidates: tuple[tuple[str, ...], ...]) -> str:
    return "; ".join(", ".join(c) for c in candidates)


def to_dataset(reflected: Reflected, key: Sequence[str] | None = None) -> Dataset:
    """The Dataset of a reflected table, named after it (``names.dataset_name``)."""
    chosen = choose_key(reflected, key)
    fields = tuple(_field(c) for c in reflected.columns)
    return Dataset(name=dataset_name(reflected.table.name), table=reflected.table,
                   fields=fields, primary_key=chosen,
                   source=f"table:{reflected.table.schema}.{reflected.table.name}")


def _field(column: Column) -> Field:
    kind, fmt, extra = field_shape(column.type)
    constraints = Constraints(required=column.not_null and not column.has_default, **extra)
    return Field(name=column.name, type=kind, format=fmt, constraints=constraints,
                 column_type=column.type)


async def dataset_from_table(conn: Conn, table: str, schema: str | None = None,
                             key: Sequence[str] | None = None) -> Dataset:
    """``reflect`` then ``to_dataset``."""
    return to_dataset(await reflect(conn, table, schema), key)


def check_against_table(dataset: Dataset, reflected: Reflected) -> None:
    """UserError (one line) when ``dataset`` cannot load into the reflected table."""
    name = reflected.table.name
    columns = {c.name: c for c in reflected.columns}
    missing = [f.name for f in dataset.fields if f.name not in columns]
    if missing:
        raise UserError(f"table {name} lacks column(s) {', '.join(missing)} "
                        f"of dataset {dataset.name}")
    unfilled = [c.name for c in reflected.columns
                if c.not_null and not c.has_default and c.name not in dataset.field_names]
    if unfilled:
        raise UserError(f"table {name} requires column(s) {', '.join(unfilled)}, "
                        f"which dataset {dataset.name} does not have")
    clashes = [f"{f.name} ({f.type} into {columns[f.name].type})" for f in dataset.fields
               if not compatible(f, columns[f.name].type)]
    if clashes:
        raise UserError(f"dataset {dataset.name} does not fit table {name}: "
                        f"incompatible type(s) {', '.join(clashes)}")
    _check_unique(dataset, reflected)


def _check_unique(dataset: Dataset, reflected: Reflected) -> None:
    wanted = [dataset.primary_key] if dataset.primary_key else []
    wanted += [(f.name,) for f in dataset.fields
               if f.constraints.unique and (f.name,) != dataset.primary_key]
    keys = {frozenset(c) for c in reflected.candidates}
    for columns in wanted:
        if frozenset(columns) not in keys:
            raise UserError(f"table {reflected.table.name} has no unique index on "
                            f"({', '.join(columns)}), the key of dataset {dataset.name}")


def with_column_types(dataset: Dataset, reflected: Reflected) -> tuple[Dataset, list[str]]:
    """``dataset`` whose fields carry their column's type as ``column_type`` (the dataset was
    checked by ``check_against_table``: every field has a column), and the fields whose
    declared ``columnType`` named another type (``"code: varchar(8) -> text"``): the table's
    type wins, so its bounds are the rules and PostgreSQL never rounds nor refuses a value
    the rules passed."""
    types = {c.name: c.type for c in reflected.columns}
    differ = [f"{f.name}: {f.column_type} -> {types[f.name]}" for f in dataset.fields
              if f.column_type and not same_type(f.column_type, types[f.name])]
    fields = tuple(f if f.column_type and same_type(f.column_type, types[f.name])
                   else replace(f, column_type=types[f.name]) for f in dataset.fields)
    return (dataset if fields == dataset.fields else replace(dataset, fields=fields)), differ
