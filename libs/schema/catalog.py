"""The datasets known in the datasets directory, each loaded and checked, or its error.

``entries(directory)`` lists every ``*.yaml``, ``*.yml`` and ``*.json`` file of the directory
(``from_file.datasets_dir``) in name order: the NAME to pass as ``--dataset``, the file, and
the loaded dataset's table, key, mode and layout; a file that does not load keeps its one-line
error instead, and so does a file that another one with the same NAME shadows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.errors import UserError
from libs.schema import from_file
from libs.schema.model import Dataset
from libs.settings import DATASETS_DIR_ENV


@dataclass(frozen=True)
class Entry:
    """One dataset file; ``dataset`` is None and ``error`` says why when it does not load."""

    name: str
    file: Path
    dataset: Dataset | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.dataset is None:
            return {"name": self.name, "file": str(self.file), "error": self.error}
        table = self.dataset.table
        return {"name": self.name, "file": str(self.file),
                "table": table.name if table.schema is None else f"{table.schema}.{table.name}",
                "key": list(self.dataset.primary_key), "mode": self.dataset.load.mode,
                "layout": self.dataset.layout, "fingerprint": self.dataset.fingerprint}


def entries(directory: str | Path | None = None) -> list[Entry]:
    """Every dataset file of the datasets directory, loaded (see the module docstring)."""
    folder = from_file.datasets_dir(directory)
    if not folder.is_dir():
        raise UserError(f"datasets directory {folder} does not exist "
                        f"(set {DATASETS_DIR_ENV} or --datasets-dir)")
    chosen = from_file.known(folder)
    found: list[Entry] = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in from_file.SUFFIXES or not path.is_file():
            continue
        if chosen.get(path.stem) != path:
            found.append(Entry(path.stem, path, error=f"shadowed by {chosen[path.stem]}: "
                                                      f"NAME {path.stem} means that file"))
            continue
        try:
            found.append(Entry(path.stem, path, dataset=from_file.load(str(path))))
        except UserError as exc:
            found.append(Entry(path.stem, path, error=str(exc)))
    return found
