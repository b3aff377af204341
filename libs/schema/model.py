"""A dataset as data: frozen, typed descriptions of the fields, key, target table and dialect.

Shapes follow the Frictionless specs (https://specs.frictionlessdata.io/): a Tabular Data
Resource (``name``, ``encoding``, ``dialect``, ``schema``) whose ``schema`` is a Table Schema
(``fields``, ``primaryKey``, ``missingValues``). What the specs do not cover is kept under
one extension key, ``x-ingest`` (the specs allow extra properties):

- resource ``table``: the target table name (default: the resource ``name``);
- resource ``dbSchema``: the PostgreSQL schema of the table (default: none, the search_path);
- resource ``mode``: the load mode, ``insert``, ``upsert`` or ``merge`` (``replace`` is
  named, not loadable yet), default ``insert``; the producer's ``--mode`` overrides it;
- resource ``merge``: merge mode's operation column and codes, ``{column: op, insert: I,
  update: U, delete: D}`` by default;
- resource ``layout``: ``delimited`` (the CSV ``dialect``, default), ``aligned``
  (whitespace-aligned columns, each starting where its header name starts), ``jsonl`` (one
  JSON object per line) or ``parquet``; the producer's ``--format`` overrides it;
- resource ``source``: where the description came from (a file path, ``table:...``); it is
  informative and left out of the fingerprint;
- field ``columnType``: the target PostgreSQL column type, e.g. ``numeric(14,2)``; its own
  bounds are rules too (``types.column_rules``);
- field ``reason``: one legacy reason code used for every reject of this field.

``descriptor.py`` turns these objects into that JSON shape and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

FIELD_TYPES: Final = ("string", "integer", "number", "boolean", "date", "time", "datetime",
                      "year", "object", "array", "any")
STRING_FORMATS: Final = ("default", "email", "uuid", "cpf", "cnpj")
LAYOUTS: Final = ("delimited", "aligned", "jsonl", "parquet")
MODES: Final = ("insert", "upsert", "merge", "replace")
# Table Schema defaults (Table Schema: missingValues; boolean; number).
DEFAULT_MISSING_VALUES: Final[tuple[str, ...]] = ("",)
DEFAULT_TRUE_VALUES: Final[tuple[str, ...]] = ("true", "True", "TRUE", "1")
DEFAULT_FALSE_VALUES: Final[tuple[str, ...]] = ("false", "False", "FALSE", "0")
DEFAULT_TYPE: Final = "string"
DEFAULT_ENCODING: Final = "utf-8"

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Constraints:
    """Table Schema ``constraints``; bounds and enum values as written (JSON scalars)."""

    required: bool = False
    unique: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[Scalar, ...] | None = None
    minimum: Scalar | None = None
    maximum: Scalar | None = None


@dataclass(frozen=True)
class Field:
    """One Table Schema field; ``column_type`` and ``reason`` come from ``x-ingest``."""

    name: str
    type: str = DEFAULT_TYPE
    format: str = "default"
    constraints: Constraints = field(default_factory=Constraints)
    missing_values: tuple[str, ...] | None = None  # None: the schema's missingValues
    decimal_char: str = "."
    group_char: str = ""
    bare_number: bool = True
    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = DEFAULT_FALSE_VALUES
    column_type: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Dialect:
    """The CSV dialect (Frictionless CSV Dialect): what the delimited reader needs."""

    delimiter: str = ","
    quote_char: str = '"'
    escape_char: str | None = None
    header: bool = True


@dataclass(frozen=True)
class Table:
    """The target table; ``schema`` is the PostgreSQL schema (None: the search_path)."""

    name: str
    schema: str | None = None


@dataclass(frozen=True)
class MergeCodes:
    """Merge mode's operation column (``x-ingest.merge``) and its codes: insert, update,
    delete. A record whose value is none of them is rejected ``not_in_enum``."""

    column: str = "op"
    insert: str = "I"
    update: str = "U"
    delete: str = "D"


@dataclass(frozen=True)
class LoadOptions:
    mode: str = "insert"
    merge: MergeCodes = field(default_factory=MergeCodes)


@dataclass(frozen=True)
class Dataset:
    """Everything needed to read, validate and load one kind of file into one table."""

    name: str
    table: Table
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    dialect: Dialect = field(default_factory=Dialect)
    encoding: str = DEFAULT_ENCODING
    layout: str = "delimited"
    load: LoadOptions = field(default_factory=LoadOptions)
    source: str = ""

    def __post_init__(self) -> None:
        names = self.field_names
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name}: duplicate field names")
        unknown = [name for name in self.primary_key if name not in names]
        if unknown:
            raise ValueError(f"dataset {self.name}: primaryKey names no field {unknown}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def get_field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def missing_values_of(self, f: Field) -> tuple[str, ...]:
        """A field's missingValues override the schema's (Table Schema v2: field missingValues)."""
        return self.missing_values if f.missing_values is None else f.missing_values

    def is_required(self, f: Field) -> bool:
        """Required by its constraint or as part of the primary key (Table Schema: Primary Key)."""
        return f.constraints.required or f.name in self.primary_key

    def to_descriptor(self) -> dict[str, Any]:
        from libs.schema.descriptor import to_descriptor

        return to_descriptor(self)

    @classmethod
    def from_descriptor(cls, data: object, source: str = "descriptor") -> Dataset:
        """Build from a descriptor; UserError naming ``source`` and the bad key."""
        from libs.schema.descriptor import from_descriptor

        return from_descriptor(data, source)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) of the canonical JSON descriptor, ``x-ingest.source`` left out."""
        from libs.schema.descriptor import fingerprint

        return fingerprint(self)
