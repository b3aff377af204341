"""A file that changes while the producer reads it (a public report: a file truncated or
appended to mid-run was published "ok" and marked done, so a rerun with the full file said
``already_done`` and the rest was never loaded; appended records were loaded under the job of
the content as hashed, then again by a rerun). Now the producer stops with exit 2, the job not
marked done nor sealed, and a rerun with the content it hashed finishes the job exactly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.pipeline import (
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    fetch,
    finish,
    produce,
    queue_depth,
    start,
    write_csv,
)

pytestmark = pytest.mark.integration


async def _wait_publishing(env: dict[str, str]) -> None:
    for _ in range(600):
        try:
            if await queue_depth(env["AMQP_URL"], env["INGEST_QUEUE"]) > 0:
                return
        except Exception:  # the queue is not declared yet
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the producer published nothing in 30 s")


@pytest.mark.parametrize("change", ["append", "truncate"])
async def test_a_file_changed_mid_run_stops_the_producer_then_a_rerun_finishes(
        tmp_path: Path, service_env: dict[str, str], database_url: str, clean_tables: None,
        change: str) -> None:
    path = write_csv(tmp_path / "growing.csv", customers_rows(60_000))
    original = path.read_bytes()
    proc = start("producer", "--file", str(path), "--batch-size", "20", "--parallel", "1",
                 "--no-progress", env=service_env)
    await _wait_publishing(service_env)
    if change == "append":
        with path.open("ab") as handle:
            handle.write("\n".join(customers_rows(100, start=60_000)).encode() + b"\n")
    else:
        path.write_bytes(original[: len(original) // 10])
    run = finish(proc)
    assert run.rc == 2, run.stderr[-2000:]
    assert run.summary["status"] == "refused"
    assert "changed while it was read" in run.summary["message"]
    assert run.summary["sealed"] is False
    job = run.summary["job_id"]
    [sealed] = await fetch(database_url,
                           f"SELECT sealed_at FROM ingest_jobs WHERE job_id = '{job}'")
    assert sealed["sealed_at"] is None

    path.write_bytes(original)  # the content the job was hashed from: the same job
    again = produce(path, service_env, "--batch-size", "20")
    assert again.rc == 0, again.stderr[-2000:]
    assert (again.summary["job_id"], again.summary["status"]) == (job, "ok")
    assert again.summary["records"] == 60_000, json.dumps(again.summary)
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr[-2000:]
    await assert_loaded_exactly(database_url, [path], [job])
