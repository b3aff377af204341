"""Loading dataset files: NAME or PATH, YAML or JSON, and one-line errors naming file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from libs.errors import UserError
from libs.schema import from_file

pytestmark = pytest.mark.unit

YAML = """\
name: orders
schema:
  fields:
    - {name: id, type: integer}
    - {name: total, type: number, decimalChar: ","}
  primaryKey: id
x-ingest: {table: orders}
"""


def test_yaml_and_json_give_the_same_dataset(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(YAML)
    from_yaml = from_file.load(str(tmp_path / "orders.yaml"))
    descriptor = from_yaml.to_descriptor()
    (tmp_path / "orders.json").write_text(json.dumps(descriptor))
    from_json = from_file.load(str(tmp_path / "orders.json"))
    assert from_json.fingerprint == from_yaml.fingerprint
    assert from_yaml.source == str(tmp_path / "orders.yaml")
    assert from_yaml.primary_key == ("id",)


def test_name_is_looked_up_in_the_datasets_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "orders.yml").write_text(YAML)
    assert from_file.load("orders", tmp_path).name == "orders"
    monkeypatch.setenv(from_file.DATASETS_DIR_ENV, str(tmp_path))
    assert from_file.load("orders").source == str(tmp_path / "orders.yml")
    assert from_file.known() == {"orders": tmp_path / "orders.yml"}


def test_default_directory_holds_the_bundled_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(from_file.DATASETS_DIR_ENV, raising=False)
    assert set(from_file.known()) >= {"customers", "user_purchase", "suppliers"}


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "stock.yaml").write_text("schema: {fields: [{name: sku}]}\n")
    dataset = from_file.load(str(tmp_path / "stock.yaml"))
    assert (dataset.name, dataset.table.name) == ("stock", "stock")


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nschema: {fields: [{name: a, type: integer, constraints: {minimum: abc}}]}\n",
     "field a: bound 'abc' is not a valid integer"),
    ("name: x\nschema: {fields: [{name: a, type: date, constraints: {enum: [2024-13-01]}}]}\n",
     "field a: enum '2024-13-01' is not a valid date"),
    ("name: x\nschema: {fields: [{name: Total, type: integer}]}\n",
     "schema.fields[0].name: 'Total' is not a plain identifier"),
    ("name: x\nschema: {fields: [{name: a}]}\nx-ingest: {table: Orders}\n",
     "x-ingest.table: 'Orders' is not a plain identifier"),
    ("name: x\nschema: {fields: [{name: a, type: strin}]}\n",
     "schema.fields[0].type: 'strin' is not one of"),
    ("name: x\nschema:\n  fields: [{name: a}\n", "not valid YAML: "),
    ("- just\n- a list\n", "(top): expected a mapping, found list"),
])
def test_errors_are_one_line_naming_file_and_key(tmp_path: Path, text: str,
                                                 message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        from_file.load(str(path))
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x",\n "schema": }')
    with pytest.raises(UserError, match=r"bad\.json: not valid JSON: .*line 2"):
        from_file.load(str(path))


def test_unknown_name_lists_known_ones(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(YAML)
    with pytest.raises(UserError, match=r"unknown dataset 'order' \(known in .*: orders\)"):
        from_file.load("order", tmp_path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        from_file.load(str(tmp_path / "nope.yaml"))


def test_yaml_keeps_dates_as_text_and_yes_no_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "flags.yaml"
    path.write_text("schema:\n  fields:\n"
                    "    - {name: d, type: date, constraints: {minimum: 2024-01-01}}\n"
                    "    - {name: f, type: boolean, trueValues: [yes, on], falseValues: [no]}\n"
                    "dialect: {header: true}\n")
    dataset = from_file.load(str(path))
    assert dataset.fields[0].constraints.minimum == "2024-01-01"
    assert dataset.fields[1].true_values == ("yes", "on")
    assert dataset.dialect.header is True
