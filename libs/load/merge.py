"""Merge mode: an operation column says what each record does (insert, update, delete).

The semantics are those of the bulk API's statement ``MERGE ... WHEN MATCHED AND op <> 'D'
THEN UPDATE, WHEN NOT MATCHED AND op <> 'D' THEN INSERT, WHEN MATCHED AND op = 'D' THEN
DELETE``, applied as if record by record in version order (job order, then line order):

- ``I`` and ``U`` both write the row: ``I`` of an existing key updates it (``updated``), ``U``
  of a missing key inserts it (``inserted``);
- ``D`` deletes the row (``deleted``); ``D`` of a missing key changes nothing (``unchanged``);
  either way the key keeps a tombstone in ``ingest_keys`` (``deleted = true``), so an older
  ``I``/``U`` that commits later cannot bring it back; a newer one does.

The column and codes come from the dataset (``x-ingest.merge``, default ``op`` with ``I``,
``U``, ``D``); a value outside the codes is rejected ``not_in_enum``. The versioning is
``libs/load/versioned.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from libs.errors import PoisonMessage
from libs.load.base import Work
from libs.load.prepared import Prepared, RejectRow
from libs.load.versioned import DELETE, WRITE, VersionedLoader
from libs.schema.model import MergeCodes
from libs.schema.reasons import NOT_IN_ENUM, show


class MergeLoader(VersionedLoader):
    mode = "merge"

    def operations(self, work: Work) -> tuple[dict[int, str], list[RejectRow]]:
        """WRITE for the insert and update codes, DELETE for the delete code; a row with any
        other value is rejected ``not_in_enum``. PoisonMessage without the column."""
        codes, target = work.target.merge, work.target
        if codes.column not in target.columns:
            raise PoisonMessage(f"merge needs the operation column {codes.column!r} in the "
                                f"file and in table {target.name}")
        return operations(work.prepared, target.columns, codes)


def operations(prepared: Prepared, columns: Sequence[str],
               codes: MergeCodes) -> tuple[dict[int, str], list[RejectRow]]:
    """line -> WRITE or DELETE for each row of ``prepared`` (``columns``: its columns, the
    operation column among them), and the rows whose operation is none of ``codes``,
    rejected ``not_in_enum``. Shared with the dry run (producer/dryrun.py)."""
    at = columns.index(codes.column)
    meaning = {codes.insert: WRITE, codes.update: WRITE, codes.delete: DELETE}
    ops: dict[int, str] = {}
    rejects: list[RejectRow] = []
    for row in prepared.rows:
        line, value = int(row[-1]), row[at]
        if value in meaning:
            ops[line] = meaning[value]
            continue
        rejects.append(prepared.rejected(
            line, NOT_IN_ENUM,
            f"{codes.column} {show(value)} is not a merge operation "
            f"({codes.insert}, {codes.update}, {codes.delete})"))
    return ops, rejects
