"""Write a dataset file: the descriptor of a Dataset as readable YAML (or JSON), checked.

``render(dataset)`` is the text: a header comment on how to add rules, then the canonical
descriptor (``descriptor.to_descriptor``) in block style with one-line leaf mappings
(``constraints: {required: true, maxLength: 100}``). ``x-ingest.source`` is left out: the file
is its own source once written.

``write(dataset, path, force)`` writes that text next to ``path``, loads it back with
``from_file.load`` (the identifier allow-list and the rule checks of every dataset file) and
only then moves it into place, so a file this writes always loads; an existing file is kept
unless ``force``. ``check(dataset)`` does the same load-back without writing anywhere.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

import yaml

from libs.errors import UserError
from libs.schema import from_file
from libs.schema.model import Dataset

HEADER: Final = """\
# Dataset {name}: loads into table {table} (key: {key}).
# Written by `ingest schema init` from the live table; edit it to add rules.
# A Frictionless Tabular Data Resource (https://specs.frictionlessdata.io/): `schema` is a
# Table Schema; what the specs lack is under `x-ingest` (datasets/README.md). To add a rule,
# edit a field, e.g.:
#   - name: code
#     type: string                       # integer, number, boolean, date, datetime, ...
#     format: email                      # string formats: email, uuid, cpf, cnpj
#     constraints: {{required: true, maxLength: 8, pattern: "[A-Z]{{3}}-[0-9]{{4}}"}}
#     # also: minLength, enum: [I, U, D], minimum, maximum; numbers: decimalChar: ",",
#     # groupChar: "."; booleans: trueValues: ["1"], falseValues: ["0"]
# File shape: `encoding: latin-1`, `dialect: {{delimiter: ";"}}`, under `schema`:
# `missingValues: ["", "NULL"]`. Field names are the table's columns: keep them.
# Check it with `ingest datasets`; use it with `producer --file FILE --dataset {ref}`.
"""


class _Dumper(yaml.SafeDumper):
    """Block style, lists of fields indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def descriptor_of(dataset: Dataset) -> dict[str, Any]:
    """The canonical descriptor without ``x-ingest.source``."""
    descriptor = dataset.to_descriptor()
    descriptor["x-ingest"].pop("source", None)
    return descriptor


def render(dataset: Dataset, as_json: bool = False, ref: str | None = None) -> str:
    """The file's text: JSON (no comments possible), or YAML with the header comment;
    ``ref`` is how ``--dataset`` will name the file (default: the dataset's name)."""
    descriptor = descriptor_of(dataset)
    if as_json:
        return json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    body = yaml.dump(descriptor, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=100)
    table = dataset.table.name if dataset.table.schema is None else (
        f"{dataset.table.schema}.{dataset.table.name}")
    key = ", ".join(dataset.primary_key) or "none: insert without duplicate detection"
    return HEADER.format(name=dataset.name, table=table, key=key,
                         ref=ref or dataset.name) + body


def check(dataset: Dataset, as_json: bool = False) -> str:
    """``render(dataset)``, after loading it back as a dataset file (UserError if it cannot)."""
    with tempfile.TemporaryDirectory(prefix="ingest-schema-") as folder:
        path = Path(folder) / f"{dataset.name}{'.json' if as_json else '.yaml'}"
        return _write_checked(dataset, path, as_json, dataset.name)


def write(dataset: Dataset, path: Path, force: bool = False) -> str:
    """Write the dataset file at ``path`` (YAML, or JSON for a ``.json`` suffix); the text."""
    if path.suffix not in from_file.SUFFIXES:
        raise UserError(f"{path}: a dataset file ends in {', '.join(from_file.SUFFIXES)}")
    if path.exists() and not force:
        raise UserError(f"{path} exists: choose another --out, or --force to overwrite it")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent} is not a directory")
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        text = _write_checked(dataset, temporary, path.suffix == ".json", _ref(path))
        if force:
            temporary.replace(path)
        else:
            _link_new(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return text


def _link_new(temporary: Path, path: Path) -> None:
    """Move ``temporary`` to ``path`` unless ``path`` appeared meanwhile."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise UserError(f"{path} exists: choose another --out, or --force to overwrite it") \
            from None


def _ref(path: Path) -> str:
    """What ``--dataset`` takes for ``path``: its NAME when it is in the datasets directory."""
    in_datasets = path.parent.resolve() == from_file.datasets_dir().resolve()
    return path.stem if in_datasets else str(path)


def _write_checked(dataset: Dataset, path: Path, as_json: bool, ref: str) -> str:
    text = render(dataset, as_json, ref)
    path.write_text(text, encoding="utf-8")
    try:
        loaded = from_file.load(str(path))
    except UserError as exc:
        message = str(exc).replace(f"{path}: ", "", 1)
        raise UserError(f"table {dataset.table.name} cannot be described by a dataset file "
                        f"({message}); load it without one: producer --table "
                        f"{dataset.table.name}") from None
    if loaded.fingerprint != dataset.fingerprint:  # a round trip that changed a rule: a bug
        raise AssertionError(f"{dataset.name}: the written file does not load back equal")
    return text
