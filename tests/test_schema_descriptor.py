"""Descriptor round trip, fingerprint stability and descriptor errors (one line, the key)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from libs.errors import UserError
from libs.schema import from_file
from libs.schema.model import Constraints, Dataset, Dialect, Field, LoadOptions, Table

pytestmark = pytest.mark.unit

FULL: dict[str, Any] = {
    "name": "orders",
    "encoding": "latin-1",
    "dialect": {"delimiter": ";", "quoteChar": "'", "escapeChar": "\\", "header": False},
    "schema": {
        "fields": [
            {"name": "id", "type": "integer", "groupChar": ".", "bareNumber": False,
             "constraints": {"required": True, "minimum": 1, "maximum": 10**12},
             "x-ingest": {"columnType": "bigint"}},
            {"name": "code", "type": "string", "constraints": {
                "unique": True, "minLength": 2, "maxLength": 8, "pattern": "[A-Z]+",
                "enum": ["AB", "CD"]}, "missingValues": ["-"]},
            {"name": "price", "type": "number", "decimalChar": ",", "groupChar": ".",
             "constraints": {"minimum": 0.5, "maximum": "1.000,00"},
             "x-ingest": {"columnType": "numeric(8,2)", "reason": "bad_price"}},
            {"name": "ok", "type": "boolean", "trueValues": ["S"], "falseValues": ["N"]},
            {"name": "day", "type": "date", "format": "%d/%m/%Y"},
            {"name": "at", "type": "datetime"},
            {"name": "doc", "type": "string", "format": "cnpj"},
        ],
        "primaryKey": ["id", "code"],
        "missingValues": ["", "NULL"],
    },
    "x-ingest": {"table": "orders_t", "dbSchema": "sales", "mode": "upsert",
                 "layout": "aligned", "source": "somewhere.yaml"},
}


def test_round_trip_is_exact() -> None:
    dataset = Dataset.from_descriptor(copy.deepcopy(FULL), "test")
    assert dataset.to_descriptor() == FULL
    assert Dataset.from_descriptor(dataset.to_descriptor()) == dataset
    through_json = json.loads(json.dumps(dataset.to_descriptor()))
    assert Dataset.from_descriptor(through_json) == dataset


def test_model_values() -> None:
    dataset = Dataset.from_descriptor(copy.deepcopy(FULL), "test")
    assert dataset.table == Table("orders_t", "sales")
    assert dataset.dialect == Dialect(";", "'", "\\", False)
    assert dataset.load == LoadOptions("upsert")
    assert dataset.primary_key == ("id", "code")
    code = dataset.get_field("code")
    assert code.constraints == Constraints(unique=True, min_length=2, max_length=8,
                                           pattern="[A-Z]+", enum=("AB", "CD"))
    assert dataset.missing_values_of(code) == ("-",)
    assert dataset.missing_values_of(dataset.get_field("ok")) == ("", "NULL")
    assert dataset.is_required(code)  # part of the primary key


def test_defaults_are_left_out_and_filled_in() -> None:
    dataset = Dataset.from_descriptor({"name": "t", "schema": {"fields": [{"name": "a"}]}})
    assert dataset.to_descriptor() == {
        "name": "t", "schema": {"fields": [{"name": "a", "type": "string"}]},
        "x-ingest": {"table": "t", "source": "descriptor"}}
    assert dataset.fields == (Field("a"),)
    assert dataset.missing_values == ("",)
    assert dataset.encoding == "utf-8"
    assert dataset.layout == "delimited"
    assert dataset.dialect == Dialect()


def test_fingerprint_is_stable() -> None:
    one = Dataset.from_descriptor(copy.deepcopy(FULL), "a.yaml")
    reordered = json.loads(json.dumps(FULL, sort_keys=True))
    reordered["x-ingest"]["source"] = "elsewhere/b.json"
    two = Dataset.from_descriptor(reordered, "b.json")
    assert one.fingerprint == two.fingerprint  # key order and source do not count
    # As documented: sha256 of the canonical descriptor without the source, sorted and compact.
    canonical = copy.deepcopy(FULL)
    del canonical["x-ingest"]["source"]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert one.fingerprint == hashlib.sha256(text.encode()).hexdigest()
    # A known value: a change of the canonical form changes every job's fingerprint.
    assert one.fingerprint == (
        "f22dde3547c6b78260bc227dc807773484e1eddb22e5e9d8d9c8634a6b55ab90")


def test_fingerprint_changes_with_any_rule() -> None:
    base = Dataset.from_descriptor(copy.deepcopy(FULL), "test").fingerprint
    changed = copy.deepcopy(FULL)
    changed["schema"]["fields"][0]["constraints"]["maximum"] = 10**12 + 1
    assert Dataset.from_descriptor(changed).fingerprint != base
    changed = copy.deepcopy(FULL)
    changed["dialect"]["delimiter"] = "|"
    assert Dataset.from_descriptor(changed).fingerprint != base


def test_bundled_datasets_round_trip() -> None:
    for name in ("customers", "user_purchase", "suppliers"):
        dataset = from_file.load(name)
        again = Dataset.from_descriptor(dataset.to_descriptor(), "elsewhere")
        assert again == dataset
        assert again.fingerprint == dataset.fingerprint


def _with(path: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DROP:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


_DROP = object()


@pytest.mark.parametrize(("path", "value", "message"), [
    ("schema.fields.0.type", "integr", "schema.fields[0].type: 'integr' is not one of"),
    ("schema.fields.0.constraints.maxLenght", 3, "schema.fields[0].constraints.maxLenght: "
     "unknown key"),
    ("schema.fields.1.constraints.minimum", 3, "schema.fields[1].constraints.minimum: unknown"),
    ("schema.fields.1.constraints.pattern", "[", "constraints.pattern: not a regular exp"),
    ("schema.fields.1.constraints.minLength", -1, "minLength: expected a non-negative integer"),
    ("schema.fields.1.format", "emial", "schema.fields[1].format: 'emial' is not one of"),
    ("schema.fields.4.format", "any", "schema.fields[4].format: 'any': use 'default'"),
    ("schema.fields.3.decimalChar", ",", "schema.fields[3].decimalChar: applies to number"),
    ("schema.fields.2.decimalChar", ".", "schema.fields[2].groupChar: must differ"),
    ("schema.fields.3.trueValues", ["S", "N"], "trueValues: ['N'] are both true and false"),
    ("schema.fields.0.colour", "red", "schema.fields[0].colour: unknown key"),
    ("schema.fields.0.x-ingest", {"sqlType": "int"}, "x-ingest.sqlType: unknown key"),
    ("schema.fields.1.name", "id", "schema.fields[1].name: duplicate field name 'id'"),
    ("schema.primaryKey", ["nope"], "schema.primaryKey: 'nope' is not a field"),
    ("schema.fields", [], "schema.fields: needs at least one field"),
    ("schema", _DROP, "schema: expected a mapping, found NoneType"),
    ("dialect.delimiter", ";;", "dialect.delimiter: expected one character"),
    ("dialect.lineTerminator", "\n", "dialect.lineTerminator: unknown key"),
    ("dialect.quoteChar", ";", "dialect.quoteChar: must differ from the delimiter"),
    ("encoding", "latin-9000", "encoding: unknown encoding 'latin-9000'"),
    ("x-ingest.mode", "upsret", "x-ingest.mode: 'upsret' is not one of"),
    ("x-ingest.layout", "fixed", "x-ingest.layout: 'fixed' is not one of"),
    ("x-ingest.tabel", "x", "x-ingest.tabel: unknown key"),
    ("x-ingest.table", "", "x-ingest.table: '' is not a PostgreSQL name"),
    ("name", "Orders!", "name: 'Orders!' does not match"),
])
def test_descriptor_errors_name_the_key(path: str, value: object, message: str) -> None:
    with pytest.raises(UserError) as caught:
        Dataset.from_descriptor(_with(path, value), "orders.yaml")
    text = str(caught.value)
    assert text.startswith("orders.yaml: ")
    assert message in text
    assert "\n" not in text
