"""Which dataset, plan and table shape a batch loads with; each resolved once and cached.

- Dataset: a version 2 batch names it by fingerprint: the descriptor registered in
  ``ingest_datasets`` (``libs.registry.load_descriptor``; cached by fingerprint; unknown ->
  PoisonMessage, dead-lettered); a
  version 1 batch by name, from the datasets directory (``libs.schema.from_file``).
- Reader: ``libs.formats.reader_for(dataset)``, once per dataset.
- Plan: compiled once per (fingerprint, header). Always ``partial``: the producer checked the
  header (a declared dataset's header has every field; a reflected table's has its required
  columns), so this maps exactly what the producer mapped.
- Target: the table reflected from the catalog and checked against the dataset
  (``check_against_table``) before a job's first batch on this consumer, and again when a load
  fails on an undefined column or table. A mismatch is ``TableChanged``: the job stops rather
  than loading rows under two rule sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import asyncpg

from libs import registry
from libs.constants import MAX_RECORD_BYTES
from libs.db import translated
from libs.errors import PoisonMessage, UserError
from libs.formats import Reader, reader_for
from libs.load.target import Target, target_for
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import Plan, plan
from libs.schema.from_table import check_against_table, reflect
from libs.schema.model import Dataset

MAX_CACHED: Final = 4096  # plans and checked jobs kept; past this the cache starts afresh


class TableChanged(PoisonMessage):
    """The job's table no longer fits its dataset: the job stops (ingest_jobs.error)."""


class Resolver:
    def __init__(self, pool: asyncpg.Pool, url: str, datasets_dir: Path | None = None,
                 max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self._pool, self._url, self._dir = pool, url, datasets_dir
        self._max_record_bytes = max_record_bytes
        self._readers: dict[str, Reader] = {}
        self._by_fingerprint: dict[str, Dataset] = {}
        self._by_name: dict[str, Dataset] = {}
        self._plans: dict[tuple[str, tuple[str, ...]], Plan] = {}
        self._targets: dict[tuple[str, tuple[str, ...]], Target] = {}

    async def dataset(self, batch: Batch) -> Dataset:
        if not batch.fingerprint:
            return self._named(batch.dataset)
        found = self._by_fingerprint.get(batch.fingerprint)
        if found is None:
            found = self._by_fingerprint[batch.fingerprint] = await self._registered(batch)
        return found

    async def _registered(self, batch: Batch) -> Dataset:
        async with translated(self._url), self._pool.acquire() as conn:
            return await registry.load_descriptor(conn, batch.fingerprint)

    def reader(self, dataset: Dataset) -> Reader:
        """The job's reader (layout, dialect, encoding), one per dataset."""
        found = self._readers.get(dataset.fingerprint)
        if found is None:
            found = self._readers[dataset.fingerprint] = reader_for(dataset,
                                                                    self._max_record_bytes)
        return found

    def _named(self, name: str) -> Dataset:
        found = self._by_name.get(name)
        if found is None:
            try:
                found = from_file.load(name, self._dir)
            except UserError as exc:
                raise PoisonMessage(f"version 1 batch of dataset {name!r}: {exc}") from exc
            self._by_name[name] = found
        return found

    def plan(self, dataset: Dataset, columns: tuple[str, ...]) -> Plan:
        key = (dataset.fingerprint, columns)
        found = self._plans.get(key)
        if found is None:
            if len(self._plans) >= MAX_CACHED:
                self._plans.clear()
            try:
                found = self._plans[key] = plan(dataset, columns, partial=True)
            except UserError as exc:
                raise PoisonMessage(str(exc)) from exc
        return found

    async def target(self, batch: Batch, dataset: Dataset, mapped: Plan, *,
                     recheck: bool = False) -> Target:
        """The checked table shape for the batch's job (reflected again when ``recheck``)."""
        key = (batch.job_id, mapped.columns)
        known = self._targets.get(key)
        if known is not None and not recheck:
            return known
        table = dataset.table
        async with translated(self._url), self._pool.acquire() as conn:
            try:
                reflected = await reflect(conn, table.name, table.schema)
                check_against_table(dataset, reflected)
            except UserError as exc:
                raise TableChanged(f"job {batch.job_id} stopped: {exc}") from exc
        found = target_for(mapped, reflected)
        if known is not None and found != known:
            raise TableChanged(f"job {batch.job_id} stopped: table {found.name} changed under "
                               f"it (lineage {'columns' if known.in_row else 'ingest_keys'} "
                               f"-> {'columns' if found.in_row else 'ingest_keys'})")
        if len(self._targets) >= MAX_CACHED:  # a job seen again is checked again: harmless
            self._targets.clear()
        self._targets[key] = found
        return found

    def forget(self, job_id: str) -> None:
        """Drop what is cached for a job (it stopped)."""
        for key in [k for k in self._targets if k[0] == job_id]:
            del self._targets[key]
