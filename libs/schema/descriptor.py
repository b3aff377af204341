"""Dataset <-> descriptor (a Frictionless Tabular Data Resource as JSON-compatible data).

``to_descriptor`` writes the canonical form: keys in spec names (camelCase), defaults left out,
so ``from_descriptor(to_descriptor(d)) == d`` and ``to_descriptor`` of that again is equal. The
``fingerprint`` is the sha256 of that form as sorted, compact JSON (``x-ingest.source`` left
out: the same rules loaded from two places are the same dataset). The descriptor travels with a
job, so a consumer rebuilds the dataset without local files.

``from_descriptor`` checks every key it reads and raises one-line ``UserError`` messages of the
form ``<source>: <key path>: <problem>``. Field-level parsing is in ``descriptor_fields``.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import fields as dc_fields
from typing import Any

from libs.schema import model as m
from libs.schema.descriptor_fields import At, field_from, field_to, str_list
from libs.schema.names import IDENTIFIER

_RESOURCE_EXT = ("table", "dbSchema", "mode", "merge", "layout", "source")
_MERGE_KEYS = ("column", "insert", "update", "delete")
_DIALECT_KEYS = {"delimiter": "delimiter", "quoteChar": "quote_char",
                 "escapeChar": "escape_char", "header": "header"}


def to_descriptor(dataset: m.Dataset) -> dict[str, Any]:
    """The canonical descriptor of ``dataset`` (defaults left out)."""
    schema: dict[str, Any] = {"fields": [field_to(f) for f in dataset.fields]}
    if dataset.primary_key:
        schema["primaryKey"] = list(dataset.primary_key)
    if dataset.missing_values != m.DEFAULT_MISSING_VALUES:
        schema["missingValues"] = list(dataset.missing_values)
    out: dict[str, Any] = {"name": dataset.name}
    if dataset.encoding != m.DEFAULT_ENCODING:
        out["encoding"] = dataset.encoding
    dialect = _dialect_to(dataset.dialect)
    if dialect:
        out["dialect"] = dialect
    out["schema"] = schema
    out["x-ingest"] = _ext_to(dataset)
    return out


def _dialect_to(dialect: m.Dialect) -> dict[str, Any]:
    default = m.Dialect()
    return {key: getattr(dialect, attr) for key, attr in _DIALECT_KEYS.items()
            if getattr(dialect, attr) != getattr(default, attr)}


def _ext_to(dataset: m.Dataset) -> dict[str, Any]:
    ext: dict[str, Any] = {"table": dataset.table.name}
    if dataset.table.schema is not None:
        ext["dbSchema"] = dataset.table.schema
    if dataset.load.mode != m.LoadOptions().mode:
        ext["mode"] = dataset.load.mode
    if dataset.load.merge != m.MergeCodes():
        ext["merge"] = {key: getattr(dataset.load.merge, key) for key in _MERGE_KEYS}
    if dataset.layout != "delimited":
        ext["layout"] = dataset.layout
    if dataset.source:
        ext["source"] = dataset.source
    return ext


def fingerprint(dataset: m.Dataset) -> str:
    """sha256 hex of the canonical descriptor without ``x-ingest.source``."""
    descriptor = to_descriptor(dataset)
    descriptor["x-ingest"].pop("source", None)
    text = json.dumps(descriptor, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def from_descriptor(data: object, source: str) -> m.Dataset:
    """A Dataset from a descriptor; UserError ``<source>: <key>: <problem>`` on any bad key."""
    at = At(source, "")
    top = at.mapping(data)
    ext = at.child("x-ingest").mapping(top.get("x-ingest", {}))
    at.child("x-ingest").only(ext, _RESOURCE_EXT)
    name = at.child("name").text(top.get("name", ""), pattern=IDENTIFIER)
    schema_at = at.child("schema")
    schema = schema_at.mapping(top.get("schema"))
    fields = _fields(schema_at, schema)
    missing = schema_at.child("missingValues")
    return m.Dataset(
        name=name,
        table=_table(at.child("x-ingest"), ext, name),
        fields=fields,
        primary_key=_primary_key(schema_at, schema, fields),
        missing_values=str_list(missing, schema.get("missingValues", ["", ])),
        dialect=_dialect(at.child("dialect"), top.get("dialect", {})),
        encoding=_encoding(at.child("encoding"), top.get("encoding", m.DEFAULT_ENCODING)),
        layout=at.child("x-ingest").child("layout").choice(ext.get("layout", "delimited"),
                                                          m.LAYOUTS),
        load=m.LoadOptions(mode=at.child("x-ingest").child("mode").choice(
            ext.get("mode", "insert"), m.MODES),
            merge=_merge(at.child("x-ingest").child("merge"), ext.get("merge", {}))),
        source=at.child("x-ingest").child("source").text(ext.get("source", source)),
    )


def _fields(at: At, schema: dict[str, Any]) -> tuple[m.Field, ...]:
    items = at.child("fields").sequence(schema.get("fields"))
    if not items:
        at.child("fields").fail("needs at least one field")
    result = tuple(field_from(at.child(f"fields[{i}]"), item) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, f in enumerate(result):
        if f.name in seen:
            at.child(f"fields[{i}].name").fail(f"duplicate field name {f.name!r}")
        seen.add(f.name)
    return result


def _primary_key(at: At, schema: dict[str, Any], fields: tuple[m.Field, ...]) -> tuple[str, ...]:
    """``primaryKey``: a field name or a list of them (Table Schema: Primary Key)."""
    raw = schema.get("primaryKey", [])
    key = (raw,) if isinstance(raw, str) else str_list(at.child("primaryKey"), raw)
    names = {f.name for f in fields}
    for part in key:
        if part not in names:
            at.child("primaryKey").fail(f"{part!r} is not a field")
    if len(set(key)) != len(key):
        at.child("primaryKey").fail("names a field twice")
    return key


def _table(at: At, ext: dict[str, Any], name: str) -> m.Table:
    table = at.child("table").name(ext.get("table", name))
    schema = ext.get("dbSchema")
    if schema is not None:
        schema = at.child("dbSchema").name(schema)
    return m.Table(table, schema)


def _merge(at: At, raw: object) -> m.MergeCodes:
    """``x-ingest.merge``: the operation column (a name) and three distinct codes."""
    data = at.mapping(raw)
    at.only(data, _MERGE_KEYS)
    default = m.MergeCodes()
    codes = m.MergeCodes(
        column=at.child("column").name(data.get("column", default.column)),
        **{key: at.child(key).text(data.get(key, getattr(default, key)))
           for key in _MERGE_KEYS[1:]})
    if len({codes.insert, codes.update, codes.delete}) != 3:
        at.fail("insert, update and delete need three different codes")
    return codes


def _dialect(at: At, raw: object) -> m.Dialect:
    data = at.mapping(raw)
    at.only(data, tuple(_DIALECT_KEYS))
    default = m.Dialect()
    values: dict[str, Any] = {}
    for key, attr in _DIALECT_KEYS.items():
        if key not in data:
            continue
        if key == "header":
            values[attr] = at.child(key).flag(data[key])
        elif key == "escapeChar" and data[key] is None:
            values[attr] = None
        else:
            values[attr] = at.child(key).char(data[key])
    dialect = m.Dialect(**{**{f.name: getattr(default, f.name) for f in dc_fields(default)},
                           **values})
    if dialect.delimiter == dialect.quote_char:
        at.child("quoteChar").fail("must differ from the delimiter")
    return dialect


def _encoding(at: At, raw: object) -> str:
    name = at.text(raw)
    try:
        codecs.lookup(name)
    except LookupError:
        at.fail(f"unknown encoding {name!r}")
    return name
