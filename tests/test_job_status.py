"""The job lifecycle (issue 13): a job's state, totals and counts as ``libs.jobstatus``
derives them from PostgreSQL, checked against the real pipeline (producer and consumer CLIs)
and, for the counts, against the independent checker (tests/checker.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from libs import amqp, deadletters, jobstatus, registry
from libs import constants as c
from libs.messages import Batch
from libs.settings import AmqpSettings
from tests.checker import expected
from tests.pipeline import (
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    drain,
    fetch,
    gendata,
    produce,
    run_cli,
    wait_for,
    write_csv,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
ROOT = Path(__file__).resolve().parents[1]
SEED = 20261301


async def status_of(database_url: str, job_id: str, parts: bool = False) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        found = await jobstatus.job_status(conn, job_id, parts=parts)
    finally:
        await conn.close()
    assert found is not None
    return found.as_dict()


def dirty(tmp_path: Path, rows: int = 3000) -> Path:
    return gendata(tmp_path / "dirty.csv", rows, SEED, "--dirty")


def assert_counts_match_checker(status: dict[str, Any], path: Path) -> None:
    """The status's totals and counts are what the checker computes from the file alone."""
    exp = expected([path])
    counts = status["counts"]
    assert status["totals"]["records"] == exp.records[0]
    assert counts["inserted"] == len(exp.rows)
    assert counts["rejected"] == len(exp.rejects)
    assert status["rejects_by_reason"] == dict(Counter(exp.rejects.values()))
    assert counts["updated"] == counts["deleted"] == counts["skipped"] == counts["pending"] == 0
    assert counts["dead_lettered"] == counts["unprocessed"] == 0
    assert status["progress"] == {"records_done": exp.records[0], "fraction": 1.0}


async def test_a_normal_load_succeeds_with_exact_counts(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(1000))
    produced = produce(path, service_env, "--batch-size", "100")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    waiting = await status_of(database_url, job)
    assert waiting["state"] == "loading"
    assert waiting["counts"]["unprocessed"] == 1000
    assert waiting["progress"] == {"records_done": 0, "fraction": 0.0}
    assert waiting["parts"] == {"total": 10, "done": 0, "failed": 0, "pending": 10}
    assert consume_burst(service_env).rc == 0
    status = await status_of(database_url, job, parts=True)
    assert status["state"] == "succeeded"
    assert status["source"] == {"name": "f.csv", "bytes": path.stat().st_size,
                                "digest": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert status["totals"] == {"records": 1000, "batches": 10, "bytes": path.stat().st_size,
                                "batch_size": 100}
    assert_counts_match_checker(status, path)
    assert status["rejects_by_reason"] == {}
    parts = status["parts"]
    assert (parts["total"], parts["done"], parts["failed"], parts["pending"]) == (10, 10, 0, 0)
    assert [(i["first_line"], i["last_line"], i["status"]) for i in parts["items"]] == [
        (2 + 100 * k, 101 + 100 * k, "done") for k in range(10)]
    assert all(status[k] is not None for k in ("created_at", "sealed_at", "started_at",
                                               "finished_at", "rows_per_s"))
    assert status["eta_s"] is None
    assert status["error"] is None
    rows = await fetch(database_url,
                       f"SELECT source_path FROM ingest_jobs WHERE job_id = '{job}'")
    assert rows[0]["source_path"] == str(path.resolve())
    await assert_loaded_exactly(database_url, [path], [job])


async def test_a_dirty_load_counts_what_the_checker_expects(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = dirty(tmp_path)
    produced = produce(path, service_env, "--batch-size", "200")
    assert produced.rc == 0, produced.stderr
    assert consume_burst(service_env, "--parallel", "3").rc == 0
    job = produced.summary["job_id"]
    status = await status_of(database_url, job, parts=True)
    assert status["state"] == "succeeded_with_rejects"
    assert_counts_match_checker(status, path)
    items = status["parts"]["items"]
    assert sum(i["records"] for i in items) == status["totals"]["records"]
    assert sum((Counter(i["rejects_by_reason"]) for i in items), Counter()) == Counter(
        status["rejects_by_reason"])
    assert sum(i["rejected"] for i in items) == status["counts"]["rejected"]
    await assert_loaded_exactly(database_url, [path], [job])


async def test_publishing_until_sealed(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(300))
    killed = produce(path, {**service_env, c.FAULT_ENV: "producer.before_seal"},
                     "--batch-size", "100")
    assert killed.rc == -9
    rows = await fetch(database_url, "SELECT job_id FROM ingest_jobs")
    job = rows[0]["job_id"]
    assert consume_burst(service_env).rc == 0
    status = await status_of(database_url, job)
    assert status["state"] == "publishing"
    assert status["totals"]["records"] is None
    assert status["sealed_at"] is None
    assert status["progress"] == {"records_done": 300, "fraction": None}
    assert status["counts"]["unprocessed"] is None
    assert status["finished_at"] is None
    assert status["parts"] == {"total": None, "done": 3, "failed": 0, "pending": None}
    rerun = produce(path, service_env, "--batch-size", "100")
    assert rerun.summary["status"] == "already_done"
    assert rerun.summary["sealed"]
    assert (await status_of(database_url, job))["state"] == "succeeded"


async def test_an_atomic_job_is_applying_until_applied(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = dirty(tmp_path, 1000)
    produced = produce(path, service_env, "--batch-size", "250", "--atomic")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    killed = consume_burst({**service_env, c.FAULT_ENV: "consumer.before_apply"},
                           "--parallel", "1")
    assert killed.rc == -9
    status = await status_of(database_url, job)
    assert status["state"] == "applying"
    assert status["atomic"] is True
    assert status["finished_at"] is None
    assert status["counts"]["pending"] > 0
    assert status["progress"]["fraction"] == 1.0
    healed = consume_burst(service_env)  # its start scan applies the job
    assert healed.rc == 0, healed.stderr[-2000:]
    status = await status_of(database_url, job)
    assert status["state"] == "succeeded_with_rejects"
    assert_counts_match_checker(status, path)
    applied = await fetch(database_url,
                          f"SELECT applied_at FROM ingest_jobs WHERE job_id = '{job}'")
    assert status["finished_at"] == applied[0]["applied_at"].isoformat()


async def test_a_job_over_its_error_threshold_fails(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = dirty(tmp_path, 2000)
    produced = produce(path, service_env, "--batch-size", "100", "--max-errors", "0")
    assert consume_burst(service_env, "--parallel", "1").rc == 0
    job = produced.summary["job_id"]
    status = await status_of(database_url, job)
    assert status["state"] == "failed"
    assert status["error"].startswith("threshold crossed")
    row = (await fetch(database_url,
                       f"SELECT failed_at FROM ingest_jobs WHERE job_id = '{job}'"))[0]
    assert row["failed_at"] is not None
    assert status["finished_at"] == row["failed_at"].isoformat()
    assert status["counts"]["skipped"] > 0
    counts = status["counts"]
    assert sum(counts[k] for k in ("inserted", "rejected", "skipped")) == status["totals"][
        "records"]


async def test_an_aborted_job_and_ingest_wait_exit_codes(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    good = write_csv(tmp_path / "good.csv", customers_rows(200))
    stopped = write_csv(tmp_path / "stopped.csv", customers_rows(200, start=1000))
    good_job = produce(good, service_env, "--batch-size", "50").summary["job_id"]
    stopped_job = produce(stopped, service_env, "--batch-size", "50").summary["job_id"]
    waited = run_cli("ingest", "wait", good_job, "--timeout", "0.3", env=service_env)
    assert waited.rc == c.EXIT_TIMEOUT
    assert waited.summary["state"] == "loading"
    aborted = run_cli("ingest", "abort", stopped_job, env=service_env)
    assert aborted.summary == {"job_id": stopped_job, "aborted": True}
    assert consume_burst(service_env).rc == 0
    waited = run_cli("ingest", "wait", good_job, "--timeout", "30", env=service_env)
    assert waited.rc == 0
    assert waited.summary["state"] == "succeeded"
    waited = run_cli("ingest", "wait", stopped_job, env=service_env)
    assert waited.rc == 1
    assert waited.summary["state"] == "aborted"
    assert waited.summary["counts"]["skipped"] == 200
    assert waited.summary["finished_at"] is not None
    unknown = run_cli("ingest", "wait", "no-such-job", env=service_env)
    assert unknown.rc == 2
    assert unknown.stderr.strip() == "error: no job no-such-job in ingest_jobs"
    assert run_cli("ingest", "status", "no-such-job", env=service_env).rc == 2


async def test_abort_leaves_an_ended_job_as_it_ended(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """`ingest abort` of a job whose batches are all done (or an applied atomic job) says
    false and changes nothing: the job stays succeeded, `ingest wait` still exits 0."""
    plain = write_csv(tmp_path / "plain.csv", customers_rows(60))
    atomic = write_csv(tmp_path / "atomic.csv", customers_rows(60, start=500))
    jobs = [produce(plain, service_env, "--batch-size", "20").summary["job_id"],
            produce(atomic, service_env, "--batch-size", "20", "--atomic").summary["job_id"]]
    assert consume_burst(service_env).rc == 0
    for job in jobs:
        assert (await status_of(database_url, job))["state"] == "succeeded"
        aborted = run_cli("ingest", "abort", job, env=service_env)
        assert aborted.summary == {"job_id": job, "aborted": False}
        status = await status_of(database_url, job)
        assert (status["state"], status["error"]) == ("succeeded", None)
        assert run_cli("ingest", "wait", job, "--timeout", "5", env=service_env).rc == 0


async def test_an_abort_waiting_for_an_apply_does_not_abort_the_applied_job(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """An abort that arrives while the apply holds the job's row waits for it; once the apply
    has committed, the job is applied and the abort says false (it used to set the job's
    error after the apply: an applied job shown `aborted`)."""
    path = write_csv(tmp_path / "atomic.csv", customers_rows(40))
    job = produce(path, service_env, "--batch-size", "20", "--atomic").summary["job_id"]
    applier = await asyncpg.connect(database_url)
    aborter = await asyncpg.connect(database_url)
    try:
        async with applier.transaction():  # what the apply's transaction does with the row
            await applier.execute("SELECT 1 FROM ingest_jobs WHERE job_id = $1 FOR UPDATE", job)
            await applier.execute("UPDATE ingest_jobs SET applied_at = clock_timestamp() "
                                  "WHERE job_id = $1", job)
            abort = asyncio.create_task(registry.abort(aborter, job))
            await wait_for(lambda: _waits_for_a_lock(database_url), 10, "the abort to wait")
            assert not abort.done()
        assert await abort is False
    finally:
        await applier.close()
        await aborter.close()
    row = (await fetch(database_url,
                       f"SELECT error, applied_at FROM ingest_jobs WHERE job_id = '{job}'"))[0]
    assert row["error"] is None
    assert row["applied_at"] is not None


async def _waits_for_a_lock(database_url: str) -> bool:
    rows = await fetch(database_url, "SELECT count(*) AS n FROM pg_stat_activity WHERE "
                       "datname = current_database() AND wait_event_type = 'Lock' "
                       "AND query LIKE '%UPDATE ingest_jobs j SET error%'")
    return bool(rows[0]["n"])


async def _republish_with_poison(env: dict[str, str], seq: int) -> None:
    """Take the queue's batches off and put them back, batch ``seq`` naming a dataset
    fingerprint that no database holds (a PoisonMessage for every consumer)."""
    settings = AmqpSettings(env["AMQP_URL"], env["INGEST_QUEUE"])
    messages = await drain(settings.url, settings.queue)
    connection = await aio_pika.connect(settings.url)
    try:
        channel = await connection.channel()
        exchange, _ = await amqp.declare(channel, settings)
        for message in messages:
            headers = dict(message.headers)
            if headers[c.H_SEQ] == seq:
                headers[c.H_FINGERPRINT] = "0" * 64
            copy = aio_pika.Message(message.body, headers=headers,
                                    content_type=message.content_type,
                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                    message_id=message.message_id)
            await amqp.publish(exchange, settings, copy, 10)
    finally:
        await connection.close()


async def test_a_poison_batch_is_recorded_and_fails_the_job(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(500))
    produced = produce(path, service_env, "--batch-size", "100")
    job = produced.summary["job_id"]
    await _republish_with_poison(service_env, 2)
    consumed = consume_burst(service_env)
    assert consumed.rc == 1
    assert consumed.summary["dead_lettered"] == 1
    dead = await fetch(database_url, "SELECT * FROM ingest_dead_letters")
    assert [(d["job_id"], d["first_line"], d["last_line"], d["seq"], d["records"])
            for d in dead] == [(job, 202, 301, 2, 100)]
    assert dead[0]["reason"].startswith("poison message: unknown dataset fingerprint")
    status = await status_of(database_url, job, parts=True)
    assert status["state"] == "failed"
    assert status["error"] is None  # failed by its dead letter, not by an error
    assert status["counts"]["inserted"] == 400
    assert status["counts"]["dead_lettered"] == status["counts"]["unprocessed"] == 100
    assert status["progress"] == {"records_done": 500, "fraction": 1.0}
    parts = status["parts"]
    assert (parts["total"], parts["done"], parts["failed"], parts["pending"]) == (5, 4, 1, 0)
    failed = [i for i in parts["items"] if i["status"] == "failed"]
    assert [(i["first_line"], i["reason"]) for i in failed] == [(202, dead[0]["reason"])]
    assert status["finished_at"] is not None
    assert run_cli("ingest", "wait", job, env=service_env).rc == 1


async def test_a_dead_letter_counts_until_its_batch_loads(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """Recorded on a last delivery, then the batch loads after all: the batch-done record
    wins. While other batches are left the job is loading, not failed."""
    path = write_csv(tmp_path / "f.csv", customers_rows(300))
    produced = produce(path, service_env, "--batch-size", "100")
    job = produced.summary["job_id"]
    batch = Batch(job, "customers", 1, 102, 201, 100, (), "f.csv", b"")
    conn = await asyncpg.connect(database_url)
    try:
        await deadletters.record(conn, batch, deadletters.LAST_DELIVERY, "test:1")
        await deadletters.record(conn, batch, "again", "test:2")  # one row, the new reason
    finally:
        await conn.close()
    rows = await fetch(database_url, "SELECT reason, consumer FROM ingest_dead_letters")
    assert [tuple(r) for r in rows] == [("again", "test:2")]
    status = await status_of(database_url, job)
    assert status["state"] == "loading"
    assert status["counts"]["dead_lettered"] == 100
    assert status["parts"] == {"total": 3, "done": 0, "failed": 1, "pending": 2}
    assert consume_burst(service_env).rc == 0
    status = await status_of(database_url, job)
    assert status["state"] == "succeeded"
    assert status["counts"]["dead_lettered"] == status["counts"]["unprocessed"] == 0
    assert status["parts"] == {"total": 3, "done": 3, "failed": 0, "pending": 0}


async def test_list_jobs_and_states_count(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    first = write_csv(tmp_path / "a.csv", customers_rows(100))
    second = write_csv(tmp_path / "b.csv", customers_rows(100, start=500))
    done = produce(first, service_env).summary["job_id"]
    assert consume_burst(service_env).rc == 0
    loading = produce(second, service_env).summary["job_id"]
    assert produce(second, service_env, "--dry-run").rc == 0
    conn = await asyncpg.connect(database_url)
    try:
        listed = [s.job_id for s in await jobstatus.list_jobs(conn)]
        assert listed == [loading, done]  # newest first, no dry run
        assert [s.job_id for s in await jobstatus.list_jobs(conn, state="succeeded")] == [done]
        assert [s.job_id for s in await jobstatus.list_jobs(conn, limit=1, offset=1)] == [done]
        assert await jobstatus.list_jobs(conn, dataset="suppliers") == []
        counts = await jobstatus.states_count(conn)
        assert counts == {**dict.fromkeys(jobstatus.STATES, 0), "succeeded": 1, "loading": 1}
        with pytest.raises(ValueError, match="unknown state"):
            await jobstatus.list_jobs(conn, state="done")
    finally:
        await conn.close()
    listed_cli = ingest("jobs", "--json", "--state", "loading", env=service_env)
    assert [j["job_id"] for j in json.loads(listed_cli.stdout)] == [loading]


async def test_ingest_jobs_and_status_print_json_and_tables(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = dirty(tmp_path, 500)
    job = produce(path, service_env, "--batch-size", "100").summary["job_id"]
    assert consume_burst(service_env).rc == 0
    as_json = run_cli("ingest", "status", job, "--json", env=service_env)
    assert as_json.rc == 0
    status = await status_of(database_url, job)
    assert as_json.summary == status  # a terminal job's status no longer changes
    with_parts = run_cli("ingest", "status", job, "--json", "--parts", env=service_env)
    assert len(with_parts.summary["parts"]["items"]) == 5
    text = ingest("status", job, "--parts", env=service_env).stdout
    assert f"job       {job}" in text
    assert "state     succeeded_with_rejects" in text
    assert "loaded    500 of 500 (100.0 %)" in text
    for reason, n in status["rejects_by_reason"].items():
        assert f"{reason} {n}" in text
    assert text.count(" done ") == 5  # one line per batch
    listed = ingest("jobs", env=service_env).stdout.splitlines()
    assert listed[0].split() == ["JOB", "STATE", "DATASET", "MODE", "LOADED", "REJECTED",
                                 "CREATED"]
    assert listed[1].split()[:4] == [job, "succeeded_with_rejects", "customers", "insert"]
    listed_json = json.loads(ingest("jobs", "--json", env=service_env).stdout)
    assert listed_json == [status]


def ingest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ingest`` with text output (run_cli reads a JSON line)."""
    done = subprocess.run([sys.executable, "-m", "ingest", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


async def test_list_jobs_reads_rejects_by_reason_within_a_budget(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = dirty(tmp_path, 500)
    job = produce(path, service_env, "--batch-size", "100").summary["job_id"]
    assert consume_burst(service_env).rc == 0
    full = await status_of(database_url, job)
    assert full["rejects_by_reason"]
    conn = await asyncpg.connect(database_url)
    try:
        [listed] = await jobstatus.list_jobs(conn)
        assert listed.as_dict() == full
        monkeypatch.setattr(jobstatus, "LIST_REASONS_BUDGET", full["counts"]["rejected"] - 1)
        [over] = await jobstatus.list_jobs(conn)
        assert over.as_dict() == {**full, "rejects_by_reason": None}
    finally:
        await conn.close()


async def test_a_last_delivery_is_recorded_before_it_is_processed(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """Delivery limit 1: a consumer dies on a batch's first delivery (a fault point); the
    next one gets its last delivery and records it dead-lettered first. Loaded: the batch-done
    record wins. Killed again: the broker dead-letters it, and the record says why."""
    path = write_csv(tmp_path / "f.csv", customers_rows(300))
    env = {**service_env, "INGEST_DELIVERY_LIMIT": "1"}
    job = produce(path, env, "--batch-size", "100").summary["job_id"]
    crash = {**env, c.FAULT_ENV: "consumer.received", c.FAULT_KEY_ENV: f"{job}:102-201"}
    assert consume_burst(crash, "--parallel", "1").rc == -9
    assert consume_burst(env).rc == 0
    dead = await fetch(database_url, "SELECT first_line, reason FROM ingest_dead_letters")
    assert [tuple(d) for d in dead] == [(102, deadletters.LAST_DELIVERY)]
    assert (await status_of(database_url, job))["state"] == "succeeded"

    again = write_csv(tmp_path / "g.csv", customers_rows(300, start=1000))
    job = produce(again, env, "--batch-size", "100").summary["job_id"]
    # Killed inside the load, twice: the quorum queue gives the returned batch first, so
    # both kills hit the first batch, on its first and on its last delivery.
    crash = {**env, c.FAULT_ENV: "consumer.mid_transaction"}
    for _ in range(2):
        assert consume_burst(crash, "--parallel", "1").rc == -9
    assert consume_burst(env).rc == 0  # the rest; the batch is in the dead-letter queue
    status = await status_of(database_url, job, parts=True)
    assert status["state"] == "failed"
    assert status["counts"]["dead_lettered"] == status["counts"]["unprocessed"] == 100
    failed = [i for i in status["parts"]["items"] if i["status"] == "failed"]
    assert [(i["first_line"], i["reason"]) for i in failed] == [(2, deadletters.LAST_DELIVERY)]


async def test_a_run_that_stops_before_the_seal_says_why_in_the_status(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """A producer refused by the broker after registering its job: the job stays publishing
    with the run's reason as publish_error (also when it gives up); a rerun clears it."""
    path = write_csv(tmp_path / "f.csv", customers_rows(300))
    refused_env = {**service_env, "AMQP_URL": "amqp://guest:not-the-pw-42@127.0.0.1:5672/"}
    refused = produce(path, refused_env, "--batch-size", "100")
    assert (refused.rc, refused.summary["status"]) == (2, "refused"), refused.stderr
    job = refused.summary["job_id"]
    status = await status_of(database_url, job)
    assert status["state"] == "publishing"
    stopped = status["publish_error"]
    assert stopped["message"] == refused.summary["message"]
    assert "login" in stopped["message"]
    assert "not-the-pw-42" not in stopped["message"]
    assert stopped["at"] >= status["created_at"]
    text = ingest("status", job, env=service_env).stdout
    assert f"stopped   {stopped['message']} (at {stopped['at']})" in text
    gave_up = produce(path, {**service_env, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"},
                      "--batch-size", "100", "--retry-budget", "1")
    assert (gave_up.rc, gave_up.summary["status"]) == (1, "gave_up")
    again = (await status_of(database_url, job))["publish_error"]
    assert again["message"] == gave_up.summary["message"]
    assert again["at"] > stopped["at"]
    rerun = produce(path, service_env, "--batch-size", "100")
    assert rerun.rc == 0, rerun.stderr
    status = await status_of(database_url, job)
    assert (status["state"], status["publish_error"]) == ("loading", None)
    assert "stopped   -" in ingest("status", job, env=service_env).stdout
    assert consume_burst(service_env).rc == 0
    assert (await status_of(database_url, job))["state"] == "succeeded"


async def test_a_rerun_that_registers_the_job_clears_its_publish_error(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """The stop is over once a later run registers the job (it starts publishing), even if
    that run is killed before it can say anything."""
    path = write_csv(tmp_path / "f.csv", customers_rows(50))
    refused_env = {**service_env, "AMQP_URL": "amqp://guest:not-the-pw-42@127.0.0.1:5672/"}
    job = produce(path, refused_env).summary["job_id"]
    assert (await status_of(database_url, job))["publish_error"] is not None
    killed = produce(path, {**service_env, c.FAULT_ENV: "producer.before_seal"})
    assert killed.rc == -9
    status = await status_of(database_url, job)
    assert (status["state"], status["publish_error"]) == ("publishing", None)
    assert produce(path, service_env).rc == 0
    assert (await status_of(database_url, job))["state"] == "loading"


async def test_a_job_row_inserted_failed_has_its_failed_at(
        database_url: str, clean_tables: None) -> None:
    """failed_at is set when ``error`` is first set, also by an INSERT (migration 000009)."""
    await fetch(database_url, "INSERT INTO ingest_jobs (job_id, dataset, error) "
                              "VALUES ('j-inserted', 'customers', 'stopped') RETURNING 1")
    status = await status_of(database_url, "j-inserted")
    assert status["state"] == "failed"
    assert status["finished_at"] is not None
    rows = await fetch(database_url, "SELECT failed_at IS NOT NULL AS set FROM ingest_jobs")
    assert [row["set"] for row in rows] == [True]
