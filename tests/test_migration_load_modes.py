"""migrations/20261129000004_load_modes.sql on a database of the previous version, with data:
job order backfilled by first_seen, the identity continuing after it, versions in ingest_keys,
the batch counters recounted from the rejects (rows_replaced gone)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import Endpoints, migrate
from tests.pipeline import ROOT, drop_database, execute, fetch, with_database

pytestmark = pytest.mark.integration
PREVIOUS = ("20261124000001_create_ingest_tables.sql", "20261129000002_register_datasets.sql",
            "20261129000003_ingest_keys.sql")


async def test_load_modes_migration_backfills_a_database_with_data(
        tmp_path: Path, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"ingest_mig_{uuid.uuid4().hex[:8]}"
    url = with_database(endpoints.database_url, name)
    old = tmp_path / "migrations"
    old.mkdir()
    for file in PREVIOUS:
        shutil.copy(ROOT / "migrations" / file, old / file)
    try:
        monkeypatch.setattr("tests.conftest.ROOT", tmp_path)
        migrate(url)
        await execute(
            url,
            "INSERT INTO ingest_jobs (job_id, dataset, first_seen) VALUES "
            "('b', 'customers', '2024-01-02'), ('a', 'customers', '2024-01-02'), "
            "('c', 'customers', '2024-01-01')",
            "INSERT INTO ingest_batches (job_id, first_line, last_line, seq, records, "
            "rows_inserted, rows_replaced, rows_rejected) VALUES "
            "('a', 2, 11, 1, 10, 8, 1, 1), ('a', 12, 21, 2, 10, 10, 0, 0)",
            "INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES "
            "('a', 3, 'invalid_email'), ('a', 15, 'duplicate_key')",
            "INSERT INTO ingest_keys VALUES ('t', 'k1', 'a', 2)")
        monkeypatch.setattr("tests.conftest.ROOT", ROOT)
        migrate(url)
        jobs = await fetch(url, "SELECT job_id, job_seq, mode FROM ingest_jobs ORDER BY job_seq")
        assert [tuple(r) for r in jobs] == [("c", 1, "insert"), ("a", 2, "insert"),
                                            ("b", 3, "insert")]
        await execute(url, "INSERT INTO ingest_jobs (job_id, dataset) VALUES ('d', 'x')")
        assert (await fetch(url, "SELECT job_seq FROM ingest_jobs WHERE job_id = 'd'"))[0][0] == 4
        batches = await fetch(url, "SELECT inserted, rejected, updated, superseded "
                                   "FROM ingest_batches ORDER BY first_line")
        assert [tuple(r) for r in batches] == [(9, 1, 0, 0), (9, 1, 0, 0)]
        keys = await fetch(url, "SELECT job_seq, deleted, effect::text FROM ingest_keys")
        assert [tuple(r) for r in keys] == [(2, False, "i")]
        columns = await fetch(url, "SELECT column_name FROM information_schema.columns "
                                   "WHERE table_name = 'ingest_batches'")
        assert "rows_replaced" not in {r[0] for r in columns}
    finally:
        await drop_database(endpoints.database_url, name)
