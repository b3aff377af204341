"""Retired (issue 11): datasets are ``libs.schema`` datasets (datasets/*.yaml); the rules live
there once. What is left is the header check this branch's producer still calls; the producer
of issue 11 no longer imports this module, and the merge deletes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from libs.errors import UserError
from libs.schema import from_file


@dataclass(frozen=True)
class Dataset:
    name: str
    column_names: tuple[str, ...]

    def plan(self, header: Sequence[str]) -> FieldPlan:
        """An empty name is an ignored extra column; a name given twice or a missing column
        is a UserError naming it."""
        named = Counter(name for name in header if name)
        twice = sorted(name for name, times in named.items() if times > 1)
        if twice:
            raise UserError(f"the header names a column twice: {', '.join(twice)}")
        missing = [name for name in self.column_names if name not in named]
        if missing:
            raise UserError(
                f"the header lacks required column(s) {', '.join(missing)} "
                f"(dataset {self.name} needs {', '.join(self.column_names)})")
        extra = tuple(name for name in named if name not in self.column_names)
        unnamed = tuple(pos for pos, name in enumerate(header, start=1) if not name)
        index = tuple(header.index(name) for name in self.column_names)
        return FieldPlan(self, len(header), index, extra, unnamed)


@dataclass(frozen=True)
class FieldPlan:
    dataset: Dataset
    field_count: int
    index: tuple[int, ...]
    extra: tuple[str, ...]
    unnamed: tuple[int, ...] = ()


def get(name: str) -> Dataset:
    found = from_file.load(name)
    return Dataset(found.name, found.field_names)

