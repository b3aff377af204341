"""The job's status and counts stay exact through crashes (issue 13): a consumer SIGKILLed
mid-job, PostgreSQL restarted mid-job. Each ends with the status compared with the
independent checker, and the load checked by it. Real kills and restarts, as test_chaos.py."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg
import pytest

from tests import services
from tests.pipeline import (
    assert_loaded_exactly,
    batches_done,
    consume_burst,
    finish,
    gendata,
    produce,
    start,
    wait_for,
)
from tests.test_job_status import assert_counts_match_checker, status_of

pytestmark = [pytest.mark.chaos, pytest.mark.usefixtures("clean_tables"),
              pytest.mark.timeout(240)]

SEED = 20261303


@pytest.fixture
def dirty_file(tmp_path: Path) -> Path:
    return gendata(tmp_path / "dirty.csv", 30_000, SEED, "--dirty")


async def test_status_exact_after_a_consumer_killed_mid_job(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, "--batch-size", "100")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    consumer = start("consumer", "--parallel", "2", env=service_env)

    async def busy() -> bool:
        return await batches_done(database_url) >= 5

    await wait_for(busy, 60, "the first batches")
    consumer.kill()  # SIGKILL: its in-flight batches roll back and are redelivered
    consumer.wait()
    middle = await status_of(database_url, job)
    assert middle["state"] == "loading"
    assert 0 < middle["progress"]["records_done"] < middle["totals"]["records"]
    waiter = start("ingest", "wait", job, "--timeout", "180", env=service_env)
    rest = consume_burst(service_env)
    assert rest.rc == 0, rest.stderr[-3000:]
    waited = finish(waiter, timeout=200)
    assert waited.rc == 0, waited.stderr[-3000:]
    assert waited.summary["state"] == "succeeded_with_rejects"
    status = await status_of(database_url, job, parts=True)
    assert_counts_match_checker(status, dirty_file)
    assert status["parts"]["done"] == status["totals"]["batches"]
    assert waited.summary["counts"] == status["counts"]
    await assert_loaded_exactly(database_url, [dirty_file], [job])


async def test_status_exact_after_a_postgres_restart_mid_job(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, "--batch-size", "50")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    consumer = start("consumer", "--parallel", "2", env=service_env)
    waiter = start("ingest", "wait", job, "--timeout", "200", env=service_env)

    async def started() -> bool:
        return await batches_done(database_url) >= 3

    await wait_for(started, 60, "the first batches")
    await asyncio.to_thread(services.postgres, "restart")
    waited = finish(waiter, timeout=220)  # it reads on through the restart
    assert waited.rc == 0, waited.stderr[-3000:]
    assert waited.summary["state"] == "succeeded_with_rejects"
    consumer.send_signal(signal.SIGTERM)
    assert finish(consumer).rc == 0

    async def readable() -> bool:
        try:
            await status_of(database_url, job)
        except (OSError, asyncpg.PostgresError):
            return False
        return True

    await wait_for(readable, 60, "PostgreSQL back")
    status = await status_of(database_url, job, parts=True)
    assert_counts_match_checker(status, dirty_file)
    assert status["parts"] == {**status["parts"], "done": status["totals"]["batches"],
                               "failed": 0, "pending": 0}
    assert waited.summary["counts"] == status["counts"]
    await assert_loaded_exactly(database_url, [dirty_file], [job])
