"""Which dataset a run loads, and how the file's header maps onto it.

- ``--table T`` (or ``schema.T``): the table is reflected from the catalog
  (``libs.schema.from_table``); the key is its primary key, else its only unique key, else the
  one ``--key`` names; the header needs only the required columns (NOT NULL without a default).
- otherwise ``--dataset NAME|PATH``: a dataset file (``libs.schema.from_file``), read before any
  connection, then checked against its live table (``check_against_table``); the header needs
  every field.

The load mode is ``--mode``, else the dataset's ``x-ingest.mode`` (:func:`load_mode`).

Every mismatch is one UserError line (exit 2), raised before anything is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from libs.db import Conn
from libs.errors import UserError
from libs.schema import from_file, from_table
from libs.schema.compile import Plan, plan
from libs.schema.model import Dataset
from libs.settings import ProducerSettings

log = structlog.get_logger("producer")
LOADABLE_MODES = ("insert", "upsert", "merge", "replace")


@dataclass(frozen=True)
class Resolved:
    """The dataset, and whether it was reflected (its header may leave optional columns out)."""

    dataset: Dataset
    reflected: bool


def declared(settings: ProducerSettings) -> Dataset | None:
    """The dataset file named by --dataset, or None with --table (no file is read then)."""
    if settings.table is not None:
        return None
    return from_file.load(settings.dataset, settings.datasets_dir)


def split_table(ref: str) -> tuple[str | None, str]:
    """``orders`` -> ``(None, "orders")``; ``sales.orders`` -> ``("sales", "orders")``."""
    schema, dot, name = ref.strip().rpartition(".")
    return (schema, name) if dot and schema and name else (None, ref.strip())


async def resolve(conn: Conn, settings: ProducerSettings, dataset: Dataset | None) -> Resolved:
    """Reflect ``settings.table``, or check the declared ``dataset`` against its table."""
    if dataset is None:
        assert settings.table is not None
        schema, name = split_table(settings.table)
        reflected = await from_table.dataset_from_table(conn, name, schema, settings.key or None)
        log.info("table reflected", table=settings.table, key=list(reflected.primary_key),
                 columns=len(reflected.fields))
        return Resolved(reflected, reflected=True)
    table = await from_table.reflect(conn, dataset.table.name, dataset.table.schema)
    from_table.check_against_table(dataset, table)
    typed, differ = from_table.with_column_types(dataset, table)
    if differ:
        log.warning("x-ingest.columnType is not the column's type: the table's is used",
                    dataset=dataset.name, fields=differ)
    return Resolved(typed, reflected=False)


def header_plan(resolved: Resolved, header: Sequence[str]) -> Plan:
    """Map the header onto the dataset (UserError naming what is missing); warn once about
    columns that are ignored or left to the table's defaults."""
    mapped = plan(resolved.dataset, header, partial=resolved.reflected)
    unnamed = [i + 1 for i, name in enumerate(header) if not name]
    extra = [name for name in mapped.extra if name]
    if extra:
        log.warning("extra columns ignored", columns=extra)
    if unnamed:
        log.warning("columns without a name ignored", positions=unnamed)
    defaulted = [name for name in resolved.dataset.field_names if name not in mapped.columns]
    if defaulted:
        log.info("table columns not in the file: the table's defaults fill them",
                 columns=defaulted)
    return mapped


def load_mode(option: str | None, dataset: Dataset, columns: Sequence[str]) -> str:
    """The run's load mode: ``--mode``, else the dataset's. UserError for a mode this version
    cannot load, upsert or merge of a table without a key, merge without its operation
    column among the file's mapped ``columns``."""
    mode = option or dataset.load.mode
    table = dataset.table.name
    if mode not in LOADABLE_MODES:
        raise UserError(f"load mode {mode!r} is not available yet (use --mode "
                        f"{', '.join(LOADABLE_MODES)})")
    if mode in ("upsert", "merge") and not dataset.primary_key:
        raise UserError(f"--mode {mode} needs a key, and table {table} has no primary key or "
                        "unique key: add one, or load with --mode insert")
    op = dataset.load.merge.column
    if mode == "merge" and op not in columns:
        raise UserError(f"--mode merge needs the operation column {op!r} in the file and in "
                        f"table {table} (x-ingest.merge names another column)")
    return mode
