"""Load a dataset file: a Frictionless Tabular Data Resource in YAML or JSON.

``load(ref)``: ``ref`` is a path (it has a ``/``, a ``.yaml``/``.yml``/``.json`` suffix, or
names an existing file) or a NAME looked up as ``NAME.yaml``, ``NAME.yml`` or ``NAME.json`` in
the datasets directory: the ``directory`` argument, else ``$INGEST_DATASETS_DIR``, else
``datasets/``. Every problem is one ``UserError`` line naming the file and the bad key; the
rules are compiled once here so that a bad bound or enum value is reported at load time too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import yaml

from libs.errors import UserError
from libs.schema import compile as compiler
from libs.schema.model import Dataset
from libs.schema.names import is_identifier
from libs.settings import DATASETS_DIR_ENV, DEFAULT_DATASETS_DIR

SUFFIXES: Final = (".yaml", ".yml", ".json")
_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_BOOL: Final = "tag:yaml.org,2002:bool"


def datasets_dir(directory: str | Path | None = None,
                 environ: Mapping[str, str] = os.environ) -> Path:
    """The directory NAMEs are looked up in (argument, then environment, then default)."""
    return Path(directory or environ.get(DATASETS_DIR_ENV) or DEFAULT_DATASETS_DIR)


def known(directory: str | Path | None = None) -> dict[str, Path]:
    """Dataset name -> file, for every dataset file in the datasets directory."""
    folder = datasets_dir(directory)
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in SUFFIXES and path.is_file():
            found.setdefault(path.stem, path)
    return found


def locate(ref: str, directory: str | Path | None = None) -> Path:
    """The file ``ref`` means; UserError for an unknown NAME (listing the known ones)."""
    path = Path(ref)
    if "/" in ref or path.suffix in SUFFIXES or path.is_file():
        if not path.is_file():
            raise UserError(f"dataset file {ref} does not exist")
        return path
    matches = known(directory)
    if ref not in matches:
        folder = datasets_dir(directory)
        names = ", ".join(matches) or "none"
        raise UserError(f"unknown dataset {ref!r} (known in {folder}/: {names})")
    return matches[ref]


def load(ref: str, directory: str | Path | None = None) -> Dataset:
    """The dataset described by ``ref`` (a NAME or a PATH), checked."""
    path = locate(ref, directory)
    data = read_descriptor(path)
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    dataset = replace(Dataset.from_descriptor(data, str(path)), source=str(path))
    _check_names(path, dataset)
    try:
        compiler.check(dataset)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    return dataset


def _check_names(path: Path, dataset: Dataset) -> None:
    """Names from files pass the identifier allow-list (``names.IDENTIFIER``)."""
    named = [("x-ingest.table", dataset.table.name), ("x-ingest.dbSchema", dataset.table.schema)]
    named += [(f"schema.fields[{i}].name", f.name) for i, f in enumerate(dataset.fields)]
    for where, name in named:
        if name is not None and not is_identifier(name):
            raise UserError(f"{path}: {where}: {name!r} is not a plain identifier (lowercase "
                            "letters, digits, '_', at most 63, not starting with a digit)")


class _Loader(yaml.SafeLoader):
    """YAML as users mean it in a schema: dates stay strings (``minimum: 2024-01-01``), and
    only true/false are booleans (YAML 1.2; 1.1 would read ``trueValues: [yes, no]`` as
    booleans)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def read_descriptor(path: Path) -> Any:
    """The parsed YAML or JSON document; UserError with the file and the line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:
        raise UserError(f"{path}: not valid YAML: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)
