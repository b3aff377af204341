"""Chaos on atomic jobs (marker chaos): a consumer killed (kill -9) during the apply,
PostgreSQL restarted during the apply, the same job sealed twice (producer reruns). Each ends
with the oracle's table and counters, the job applied once, its stage gone.

The apply is held open with the ``consumer.apply_pause`` delay point (after its writes,
before its COMMIT) for the restart; the kill uses the ``consumer.mid_apply`` kill point.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg
import pytest

from libs import constants as c
from tests import oracle, services
from tests.pipeline import consume_burst, finish, produce, start, wait_for
from tests.test_atomic import job_row, pending, produce_job, stage_exists
from tests.test_load_modes import (
    fresh,  # noqa: F401 (fixture)
    job_counts,
    suppliers_file,
    table,
    wanted,
)

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]


async def assert_applied_as_the_oracle(url: str, path: Path, job: str, mode: str) -> None:
    expected = oracle.final([path], "suppliers", mode)
    assert await table(url) == wanted(expected)
    assert await job_counts(url, job) == +expected.counts[0]
    row = await job_row(url, job)
    assert row["applied_at"] is not None
    assert row["error"] is None
    assert await pending(url, job) == 0
    assert not await stage_exists(url, job)


@pytest.mark.parametrize("mode", ["upsert", "replace"])
async def test_consumer_killed_during_the_apply(
        tmp_path: Path, fresh: str, service_env: dict[str, str], mode: str) -> None:  # noqa: F811
    path = suppliers_file(tmp_path / "s.csv", seed=31, records=300, keys=120)
    job = produce_job(service_env, path, mode, *(() if mode == "replace" else ("--atomic",)))
    env = {**service_env, c.FAULT_ENV: "consumer.mid_apply"}
    killed = consume_burst(env, "--parallel", "2")
    assert killed.rc == -9, killed.stderr[-2000:]
    assert await table(fresh) == {}, "the killed apply rolled back"
    assert (await job_row(fresh, job))["applied_at"] is None
    assert await stage_exists(fresh, job)
    healed = consume_burst(service_env)
    assert healed.rc == 0, healed.stderr[-3000:]
    assert healed.summary["jobs_applied"] == 1
    await assert_applied_as_the_oracle(fresh, path, job, mode)


async def test_postgres_restarted_during_the_apply(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    path = suppliers_file(tmp_path / "s.csv", seed=32, records=300, keys=120)
    job = produce_job(service_env, path, "merge", "--atomic")
    env = {**service_env, c.FAULT_ENV: "consumer.apply_pause", c.FAULT_AFTER_ENV: "3"}
    consumer = start("consumer", "--parallel", "2", "--apply-scan", "1", env=env)

    async def applying() -> bool:
        conn = await asyncpg.connect(fresh)
        try:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'csv-ingest-consumer' AND state = 'idle in transaction' "
                "AND xact_start < now() - interval '0.5 s'"))
        finally:
            await conn.close()

    await wait_for(applying, 60, "the apply held open by consumer.apply_pause")
    await asyncio.to_thread(services.postgres, "restart")

    async def applied() -> bool:
        try:
            return (await job_row(fresh, job))["applied_at"] is not None
        except (OSError, asyncpg.PostgresError):
            return False

    await wait_for(applied, 120, "the apply after the restart")
    consumer.send_signal(signal.SIGTERM)
    run = finish(consumer)
    assert run.rc == 0, run.stderr[-3000:]
    await assert_applied_as_the_oracle(fresh, path, job, "merge")


async def test_the_same_job_sealed_twice(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    """A rerun before the apply (offsets lost: every batch and a second seal message
    published) and a rerun after it (already done: sealed again, a third seal message)
    change nothing: the job is applied once."""
    path = suppliers_file(tmp_path / "s.csv", seed=33, records=300, keys=120)
    job = produce_job(service_env, path, "upsert", "--atomic")
    lost = {**service_env, "INGEST_REDIS_PREFIX": service_env["INGEST_REDIS_PREFIX"] + ":lost"}
    assert produce_job(lost, path, "upsert", "--atomic") == job
    consumers = [start("consumer", "--burst", "--parallel", "3", env=service_env)
                 for _ in range(3)]
    runs = [finish(p) for p in consumers]
    assert all(r.rc == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    assert sum(r.summary["jobs_applied"] for r in runs) == 1
    await assert_applied_as_the_oracle(fresh, path, job, "upsert")
    again = produce(path, service_env, "--dataset", "suppliers", "--mode", "upsert", "--atomic",
                    "--batch-size", "7")
    assert again.rc == 0
    assert again.summary["status"] == "already_done"
    after = consume_burst(service_env)
    assert after.rc == 0
    assert after.summary["jobs_applied"] == 0
    await assert_applied_as_the_oracle(fresh, path, job, "upsert")
