"""Where a batch's rows go: the table, the plan's columns, the key and where lineage lives.

Built from a dataset, its compiled plan and the table as reflected from the catalog
(``libs.schema.from_table``); every name comes from the catalog or an allow-listed file and is
always quoted (``libs.schema.names``).

Lineage (which job and line loaded a key, so that the earliest line wins whatever the commit
order) lives in the table itself when it has both ``job_id`` (text) and ``line_no`` (integer)
columns that the file does not fill (the previous version's ``customers``: one COPY, the
fastest); otherwise in the tool's side table ``ingest_keys (target, key, job_id, line_no)``,
written in the batch's transaction. A keyless table needs no lineage: the batch-done record
makes each batch load once, and every valid record is inserted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from libs.schema.compile import Plan
from libs.schema.from_table import Reflected
from libs.schema.keys import key_text_function
from libs.schema.model import MergeCodes
from libs.schema.names import qualified

LINEAGE: Final = ("job_id", "line_no")
_LINEAGE_TYPES: Final = {"job_id": ("text",), "line_no": ("integer",)}

Row = tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """The load's shape; ``name`` is ``schema.table`` as the catalog spells it (the
    ``ingest_keys.target`` value), ``table`` the same quoted for SQL."""

    name: str
    table: str
    relname: str
    schema: str | None
    columns: tuple[str, ...]
    key: tuple[str, ...]
    in_row: bool
    merge: MergeCodes = field(default_factory=MergeCodes)  # merge's operation column, codes
    # The key's text of a row (libs.schema.keys.key_text_function); None: the raw values.
    key_of: Callable[[Row], str] | None = field(default=None, compare=False, hash=False)
    # The key columns' types as the catalog spells them (``format_type``), in key order.
    key_types: tuple[str, ...] = ()

    @cached_property
    def key_index(self) -> tuple[int, ...]:
        return tuple(self.columns.index(k) for k in self.key)

    @cached_property
    def stage(self) -> str:
        """The temporary stage table's name: one per target and lineage shape."""
        digest = hashlib.sha256(f"{self.name}\0{self.in_row}".encode()).hexdigest()[:16]
        return f"_ingest_stage_{digest}"

    def key_text(self, row: Row) -> str:
        """The key of a row as one text, as PostgreSQL compares it (``libs.schema.keys``):
        the value the plan made (normalized emails, lowercase uuids, ...) made canonical
        where equal values have several spellings (``1.5`` / ``1.50`` for numeric, an instant
        in two zones); a composite key is the JSON array of the values
        (``json.dumps(list, ensure_ascii=False)``, the form libs/validate.prepare dedupes a
        batch by). ``ingest_keys.key`` holds it."""
        if self.key_of is None:
            raise ValueError(f"table {self.name} has no key")
        return self.key_of(row)


def has_lineage_columns(reflected: Reflected, columns: tuple[str, ...]) -> bool:
    """Both lineage columns exist with their types, and the file does not fill them."""
    types = {c.name: c.type for c in reflected.columns}
    return all(types.get(name) in allowed and name not in columns
               for name, allowed in _LINEAGE_TYPES.items())


def target_for(plan: Plan, reflected: Reflected) -> Target:
    table = reflected.table
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    types = {c.name: c.type for c in reflected.columns}
    return Target(name=name, table=qualified(table.name, table.schema), relname=table.name,
                  schema=table.schema, columns=plan.columns,
                  key=plan.dataset.primary_key,
                  in_row=has_lineage_columns(reflected, plan.columns),
                  merge=plan.dataset.load.merge,
                  key_of=key_text_function(plan.dataset, plan.columns),
                  key_types=tuple(types[k] for k in plan.dataset.primary_key))
