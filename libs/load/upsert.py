"""Upsert mode: per key, the record of the newest job wins, and within a job the last line.

Every valid record is a write (``INSERT ... ON CONFLICT (key) DO UPDATE`` of all columns),
applied only over an older version of its key: ``libs/load/versioned.py``. A row the tool did
not load (no version in ``ingest_keys``) is overwritten and counted ``updated``.
"""

from __future__ import annotations

from libs.load.base import Work
from libs.load.prepared import RejectRow
from libs.load.versioned import WRITE, VersionedLoader


class UpsertLoader(VersionedLoader):
    mode = "upsert"

    def operations(self, work: Work) -> tuple[dict[int, str], list[RejectRow]]:
        """Every row writes."""
        return {int(row[-1]): WRITE for row in work.prepared.rows}, []
