"""The job's seal: once every batch is confirmed the producer records the whole file's totals
(records, batches, bytes) in ingest_jobs, also after a kill -9 and a rerun, and only once."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from libs import constants as c
from tests.pipeline import customers_rows, fetch, produce, write_csv
from tests.test_producer import tricky_file

# Enough batches of 10 that the producer saves its offset (every 0.2 s) before the end.
ROWS, BATCHES = 30_003, 3_001

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


def count_records(path: Path) -> int:
    """The file's records, by Python's csv module (not the tool's reader): header and blank
    lines left out."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for row in csv.reader(handle) if row) - 1


async def sealed(database_url: str, job_id: str) -> dict[str, Any]:
    rows = await fetch(database_url, "SELECT records, batches, bytes, sealed_at, dry_run "
                                     f"FROM ingest_jobs WHERE job_id = '{job_id}'")
    assert len(rows) == 1
    return dict(rows[0])


async def test_the_seal_holds_the_whole_files_totals_once(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = tricky_file(tmp_path / "f.csv", 95)
    records = count_records(path)
    assert records == 94
    run = produce(path, service_env, "--batch-size", "10")
    assert run.rc == 0, run.stderr
    job = await sealed(database_url, run.summary["job_id"])
    assert (job["records"], job["batches"], job["bytes"]) == (records, 10, path.stat().st_size)
    assert job["sealed_at"] is not None
    assert job["dry_run"] is False
    s = run.summary
    assert (s["sealed"], s["records"], s["batches"], s["bytes"]) == (
        True, records, 10, path.stat().st_size)

    again = produce(path, service_env, "--batch-size", "10")
    assert again.rc == 0, again.stderr
    assert again.summary["status"] == "already_done"
    assert (again.summary["records"], again.summary["batches"]) == (records, 10)
    assert await sealed(database_url, run.summary["job_id"]) == job  # sealed_at kept


async def test_a_rerun_with_other_batches_keeps_the_first_seal(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """The offset lost and another --batch-size: the job keeps its first batching (the same
    batches, recognised by the consumers), so the seal is the same too."""
    path = write_csv(tmp_path / "f.csv", customers_rows(30))
    first = produce(path, service_env, "--batch-size", "10")
    assert first.rc == 0, first.stderr
    env = {**service_env, "REDIS_URL": "redis://127.0.0.1:1/0"}  # the offset is lost
    other = produce(path, env, "--batch-size", "7")
    assert other.rc == 0, other.stderr
    assert "first published with other batches: keeping them" in other.stderr
    assert (other.summary["batch_size"], other.summary["batches_published"]) == (10, 3)
    assert (other.summary["records"], other.summary["batches"]) == (30, 3)
    job = await sealed(database_url, first.summary["job_id"])
    assert (job["records"], job["batches"]) == (30, 3)


@pytest.mark.parametrize(("fault", "after"), [("producer.after_confirm", "150"),
                                              ("producer.offset_saved", "1"),
                                              ("producer.before_seal", "1")])
async def test_kill_9_then_rerun_seals_the_same_totals(
        tmp_path: Path, service_env: dict[str, str], database_url: str, fault: str,
        after: str) -> None:
    path = write_csv(tmp_path / "big.csv", customers_rows(ROWS))
    args = ("--batch-size", "10", "--parallel", "4")
    killed = produce(path, {**service_env, c.FAULT_ENV: fault, c.FAULT_AFTER_ENV: after}, *args)
    assert killed.rc == -9
    rows = await fetch(database_url, "SELECT job_id, sealed_at FROM ingest_jobs")
    assert len(rows) == 1
    assert rows[0]["sealed_at"] is None
    rerun = produce(path, service_env, *args)
    assert rerun.rc == 0, rerun.stderr
    if fault == "producer.before_seal":  # every batch was confirmed and saved: nothing left
        assert rerun.summary["status"] == "already_done"
    if fault == "producer.offset_saved":  # killed right after its first save: a resumed run
        assert rerun.summary["resumed_from_line"] > 2
        assert rerun.summary["batches_published"] < BATCHES
    job = await sealed(database_url, rows[0]["job_id"])
    assert (job["records"], job["batches"], job["bytes"]) == (
        count_records(path), BATCHES, path.stat().st_size)
    assert (rerun.summary["records"], rerun.summary["batches"]) == (ROWS, BATCHES)
