"""Fault injection: every case of shared/RELIABILITY.md, each ending with the checker.

Kills are real SIGKILLs (at seeded random moments, or at fault points the code exposes through
INGEST_FAULT); service restarts are real (pg_ctlcluster, rabbitmqctl). Every test leaves the
services running. Seeds are fixed so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import signal
import time
from pathlib import Path

import asyncpg
import pytest
import redis

from libs import constants as c
from libs.csvfile import read_header
from libs.schema import from_file
from producer.app import job_id_for
from producer.chunks import Position, iter_chunks
from tests import services
from tests.pipeline import (
    assert_loaded_exactly,
    batches_done,
    consume_burst,
    count_loaded,
    customers_rows,
    drain,
    finish,
    gendata,
    produce,
    purge,
    start,
    wait_for,
    write_csv,
)

pytestmark = [pytest.mark.chaos, pytest.mark.usefixtures("clean_tables"),
              pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261124
ARGS = ("--batch-size", "100", "--parallel", "4")
KILLING_S = 30.0  # how long connections are terminated while a consumer loads


@pytest.fixture
def dirty_file(tmp_path: Path) -> Path:
    return gendata(tmp_path / "dirty.csv", 30_000, SEED, "--dirty")


def customers_job(path: Path) -> str:
    """The job id the producer gives ``path`` under the bundled customers dataset."""
    spec = from_file.load("customers", ROOT / "datasets")
    return job_id_for(spec.name, spec.fingerprint, hashlib.sha256(path.read_bytes()).hexdigest())


def records_in(path: Path) -> int:
    with path.open("rb") as handle:
        header = read_header(handle, 1 << 30)
        return sum(ch.records for ch in iter_chunks(
            handle, Position(0, header.end_offset, header.next_line, 0), 1000, 1 << 30))


async def test_producer_killed_at_random_points_then_rerun(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    rng = random.Random(SEED)
    consumer = start("consumer", "--parallel", "2", env=service_env)
    for _ in range(3):
        proc = start("producer", "--file", str(dirty_file), "--batch-size", "20",
                     "--parallel", "4", env=service_env)
        await asyncio.sleep(rng.uniform(0.3, 2.0))  # the kill point is the random moment
        proc.kill()
        proc.wait()
    final = produce(dirty_file, service_env, "--batch-size", "20", "--parallel", "4")
    assert final.rc == 0, final.stderr
    total = records_in(dirty_file)

    async def all_loaded() -> bool:
        return await count_loaded(database_url) >= total

    await wait_for(all_loaded, 120, "every record loaded")
    consumer.send_signal(signal.SIGTERM)
    assert finish(consumer).rc == 0
    await assert_loaded_exactly(database_url, [dirty_file], [final.summary["job_id"]])


@pytest.mark.parametrize("after", [3, 40])
async def test_producer_killed_between_publish_and_confirm(
        dirty_file: Path, service_env: dict[str, str], database_url: str, after: int) -> None:
    env = {**service_env, c.FAULT_ENV: "producer.unconfirmed", c.FAULT_AFTER_ENV: str(after)}
    killed = produce(dirty_file, env, *ARGS)
    assert killed.rc == -9
    final = produce(dirty_file, service_env, *ARGS)
    assert final.rc == 0
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [dirty_file], [final.summary["job_id"]])


async def test_consumer_killed_after_commit_before_ack(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, *ARGS)
    env = {**service_env, c.FAULT_ENV: "consumer.after_commit", c.FAULT_AFTER_ENV: "3"}
    assert consume_burst(env, "--parallel", "1").rc == -9
    rest = consume_burst(service_env)
    assert rest.rc == 0
    assert rest.summary["duplicate_deliveries"] >= 1, "the committed batch came back"
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_consumer_killed_mid_transaction(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, *ARGS)
    env = {**service_env, c.FAULT_ENV: "consumer.mid_transaction", c.FAULT_AFTER_ENV: "2"}
    assert consume_burst(env, "--parallel", "1").rc == -9
    assert await batches_done(database_url) == 1
    rest = consume_burst(service_env)
    assert rest.rc == 0
    assert rest.summary["batches_done"] == produced.summary["batches_total"] - 1
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_connection_lost_during_commit_is_recognised_on_retry(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, *ARGS)
    env = {**service_env, c.FAULT_ENV: "consumer.commit_lost", c.FAULT_AFTER_ENV: "4"}
    run = consume_burst(env)
    assert run.rc == 0
    assert run.summary["duplicate_deliveries"] == 1, "the retry found the batch committed"
    assert run.summary["batches_done"] == produced.summary["batches_total"] - 1
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_connections_terminated_while_loading(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, "--batch-size", "50")
    consumer = start("consumer", "--burst", "--parallel", "2", env=service_env)
    admin = await asyncpg.connect(database_url)
    killed, deadline = 0, time.monotonic() + KILLING_S
    try:  # for a bounded time: a slow machine finishes few batches between two kills
        while consumer.poll() is None and time.monotonic() < deadline:
            killed += len(await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'csv-ingest-consumer' AND datname = current_database()"))
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    run = finish(consumer)
    assert run.rc == 0, run.stderr[-3000:]
    assert killed > 0
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_postgres_restarted_mid_run(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, "--batch-size", "50")
    consumer = start("consumer", "--parallel", "2", env=service_env)

    async def started() -> bool:
        return await batches_done(database_url) >= 3

    await wait_for(started, 60, "the first batches")
    await asyncio.to_thread(services.postgres, "restart")
    total = records_in(dirty_file)

    async def all_loaded() -> bool:
        try:
            return await count_loaded(database_url) >= total
        except (OSError, asyncpg.PostgresError):
            return False

    await wait_for(all_loaded, 120, "recovery after the restart")
    consumer.send_signal(signal.SIGTERM)
    run = finish(consumer)
    assert run.rc == 0
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_postgres_unreachable_for_a_while(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    produced = produce(dirty_file, service_env, "--batch-size", "50")
    consumer = start("consumer", "--parallel", "2", "--retry-timeout", "3", env=service_env)

    async def started() -> bool:
        return await batches_done(database_url) >= 2

    await wait_for(started, 60, "the first batches")
    await asyncio.to_thread(services.postgres, "stop")
    await asyncio.sleep(6)  # the outage itself: longer than the consumer's retry timeout
    assert consumer.poll() is None, "the consumer keeps running through the outage"
    await asyncio.to_thread(services.postgres, "start")
    total = records_in(dirty_file)

    async def all_loaded() -> bool:
        return await count_loaded(database_url) >= total

    await wait_for(all_loaded, 120, "recovery after the outage")
    consumer.send_signal(signal.SIGTERM)
    run = finish(consumer)
    assert run.rc == 0
    assert run.summary["requeued"] >= 1
    assert run.summary["dead_lettered"] == 0
    await assert_loaded_exactly(database_url, [dirty_file], [produced.summary["job_id"]])


async def test_consumer_gives_up_starting_without_a_database(
        service_env: dict[str, str]) -> None:
    env = {**service_env, "DATABASE_URL": "postgresql://u:pw0rd@127.0.0.1:1/x"}
    run = consume_burst(env, "--retry-timeout", "2")
    assert run.rc == 1
    assert len(run.lines[-1]) > 0
    assert "gave up" in run.lines[-1]
    assert "pw0rd" not in run.stderr


async def test_rabbitmq_restarted_mid_run(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = gendata(tmp_path / "d.csv", 60_000, SEED + 1, "--dirty")
    consumer = start("consumer", "--parallel", "2", env=service_env)
    producer = start("producer", "--file", str(path), "--batch-size", "20", "--parallel", "4",
                     env=service_env)

    async def started() -> bool:
        return await batches_done(database_url) >= 5

    await wait_for(started, 60, "the first batches")
    await asyncio.to_thread(services.rabbit, "stop_app")
    await asyncio.sleep(3)  # the broker is down for a while
    await asyncio.to_thread(services.rabbit, "start_app")
    produced = finish(producer, timeout=180)
    assert produced.rc == 0, produced.stderr[-3000:]
    total = records_in(path)

    async def all_loaded() -> bool:
        return await count_loaded(database_url) >= total

    await wait_for(all_loaded, 150, "every record after the broker restart")
    consumer.send_signal(signal.SIGTERM)
    assert finish(consumer).rc == 0
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])


async def test_broker_gone_longer_than_the_retry_budget(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(60_000))
    producer = start("producer", "--file", str(path), "--batch-size", "10",
                     "--retry-budget", "3", env=service_env)
    await asyncio.sleep(1.5)  # let it publish part of the file
    await asyncio.to_thread(services.rabbit, "stop_app")
    try:
        gave_up = finish(producer, timeout=60)
    finally:
        await asyncio.to_thread(services.rabbit, "start_app")
    assert gave_up.rc == 1
    assert gave_up.summary["status"] == "gave_up"
    assert "rows confirmed" in gave_up.stderr
    rerun = produce(path, service_env, "--batch-size", "10")
    assert rerun.rc == 0
    assert rerun.summary["resumed_from_line"] > 0
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [path], [rerun.summary["job_id"]])


async def test_redis_down_at_start_and_mid_run(
        tmp_path: Path, dirty_file: Path, service_env: dict[str, str],
        database_url: str) -> None:
    private = services.PrivateRedis(tmp_path)
    env = {**service_env, "REDIS_URL": private.url}
    down = produce(dirty_file, env, *ARGS)  # not started yet: down at start
    assert down.rc == 0
    assert down.summary["offset_store_available"] is False
    private.start()
    try:
        path = write_csv(tmp_path / "big.csv", customers_rows(60_000))
        producer = start("producer", "--file", str(path), "--batch-size", "10", env=env)
        client = redis.Redis.from_url(private.url)

        async def offset_saved() -> bool:
            return bool(client.keys("*"))

        await wait_for(offset_saved, 30, "a saved offset")
        private.kill()
        mid = finish(producer)
        client.close()
    finally:
        private.kill()
    assert mid.rc == 0
    assert mid.summary["offset_store_available"] is False
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [dirty_file, path],
                                [down.summary["job_id"], mid.summary["job_id"]])


async def test_redis_wiped_between_runs(
        dirty_file: Path, service_env: dict[str, str], database_url: str,
        redis_prefix: str) -> None:
    first = produce(dirty_file, service_env, *ARGS)
    assert consume_burst(service_env).rc == 0
    client = redis.Redis.from_url(service_env["REDIS_URL"])
    for key in client.scan_iter(redis_prefix + "*"):
        client.delete(key)
    client.close()
    again = produce(dirty_file, service_env, *ARGS)
    assert again.summary["batches_published"] == first.summary["batches_total"]
    rerun = consume_burst(service_env)
    assert rerun.summary["duplicate_deliveries"] == first.summary["batches_total"]
    await assert_loaded_exactly(database_url, [dirty_file], [first.summary["job_id"]])


async def test_file_changed_between_runs_does_not_use_the_old_offset(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        redis_prefix: str) -> None:
    path = gendata(tmp_path / "d.csv", 60_000, SEED + 2, "--dirty")
    env = {**service_env, c.FAULT_ENV: "producer.offset_saved", c.FAULT_AFTER_ENV: "1"}
    killed = produce(path, env, *ARGS)  # dies right after saving an offset part-way
    assert killed.rc == -9
    client = redis.Redis.from_url(service_env["REDIS_URL"])
    assert list(client.scan_iter(redis_prefix + "*")), "the killed run saved an offset"
    client.close()
    # The old content is never consumed: its batches go, as if the file was replaced in time.
    assert await purge(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) > 0
    old_job = customers_job(path)
    gendata(path, 60_000, SEED + 3, "--dirty")  # same path, other content
    rerun = produce(path, service_env, *ARGS)
    assert rerun.rc == 0
    assert rerun.summary["job_id"] != old_job
    assert rerun.summary["resumed_from_line"] == 0
    assert rerun.summary["batches_published"] == rerun.summary["batches_total"]
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [path], [rerun.summary["job_id"]])


async def test_two_producers_on_one_file_at_once(
        dirty_file: Path, service_env: dict[str, str], database_url: str) -> None:
    procs = [start("producer", "--file", str(dirty_file), *ARGS, env=service_env)
             for _ in range(2)]
    runs = [finish(p) for p in procs]
    assert [r.rc for r in runs] == [0, 0]
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [dirty_file], [runs[0].summary["job_id"]])


async def test_same_batches_delivered_to_two_consumers(
        dirty_file: Path, service_env: dict[str, str], database_url: str,
        redis_prefix: str) -> None:
    first = produce(dirty_file, service_env, *ARGS)
    produce(dirty_file, {**service_env, "INGEST_REDIS_PREFIX": redis_prefix + ":2"}, *ARGS)
    procs = [start("consumer", "--burst", "--parallel", "3", env=service_env)
             for _ in range(2)]
    runs = [finish(p) for p in procs]
    assert [r.rc for r in runs] == [0, 0]
    total = first.summary["batches_total"]
    assert sum(r.summary["batches_done"] for r in runs) == total
    assert sum(r.summary["duplicate_deliveries"] for r in runs) == total
    await assert_loaded_exactly(database_url, [dirty_file], [first.summary["job_id"]])


async def test_poison_message_dead_lettered_after_the_delivery_limit(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(500))
    env = {**service_env, "INGEST_DELIVERY_LIMIT": "2"}
    produced = produce(path, env, "--batch-size", "50")
    with path.open("rb") as handle:
        header = read_header(handle, 1 << 20)
        chunks = list(iter_chunks(handle, Position(0, header.end_offset, 2, 0), 50, 1 << 20))
    poison = chunks[3]
    job = customers_job(path)
    assert job == produced.summary["job_id"]
    crash = {**env, c.FAULT_ENV: "consumer.received",
             c.FAULT_KEY_ENV: f"{job}:{poison.first_line}-{poison.last_line}"}
    crashes = 0
    for _ in range(10):  # a consumer that dies on that message every time it gets it
        run = consume_burst(crash, "--parallel", "1")
        if run.rc == 0:
            break
        assert run.rc == -9
        crashes += 1
    assert crashes == 3, "delivered limit + 1 times, then dead-lettered"
    dead = await drain(env["AMQP_URL"], env["INGEST_QUEUE"] + c.DLQ_SUFFIX)
    assert [m.message_id for m in dead] == [crash[c.FAULT_KEY_ENV]]
    conn = await asyncpg.connect(database_url)
    try:
        lines = {r["line_no"] for r in await conn.fetch("SELECT line_no FROM customers")}
    finally:
        await conn.close()
    poison_lines = set(range(poison.first_line, poison.last_line + 1))
    assert lines == set(range(2, 502)) - poison_lines


async def test_sigterm_under_load_finishes_in_flight_and_exits_0(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(100_000))
    produced = produce(path, service_env, "--batch-size", "200")
    consumer = start("consumer", "--parallel", "4", env=service_env)

    async def busy() -> bool:
        return await batches_done(database_url) >= 5

    await wait_for(busy, 60, "the consumer to be busy")
    consumer.send_signal(signal.SIGTERM)
    stopped = finish(consumer, timeout=60)
    assert stopped.rc == 0
    assert stopped.summary["batches_done"] == await batches_done(database_url)
    assert stopped.summary["batches_done"] < produced.summary["batches_total"]
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
