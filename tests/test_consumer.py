"""The consumer against real RabbitMQ and PostgreSQL: rules, dedupe, exactly-once effect."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from libs import amqp
from libs import constants as c
from libs.csvfile import read_header
from libs.load.insert import InsertLoader
from libs.load.target import target_for
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import plan
from libs.schema.from_table import reflect
from libs.settings import AmqpSettings
from libs.validate import prepare
from producer.chunks import Position, iter_chunks
from tests.checker import assert_exact, check, expected
from tests.pipeline import (
    ROOT,
    consume_burst,
    customers_rows,
    drain,
    fetch,
    finish,
    produce,
    publish_batches,
    start,
    write_csv,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

HEADER = "email,first_name,last_name,phone,birth_date,city,country,signup_at,balance"

# One record per reason code and per hard input; the expected outcome by line number.
CASES: list[tuple[bytes, str | None]] = [
    (b"ok@x.io,Ann,Lee,1,1990-01-02,Paris,FR,2024-01-01T10:00:00Z,12.50", None),
    (b"few@x.io,a,b", "wrong_column_count"),
    (b"many@x.io,a,b,c,,,,,,extra", "wrong_column_count"),
    (b"enc@x.io,\xff\xfe,b,1,,,,,", "invalid_encoding"),
    (b"nul@x.io,a\x00b,b,1,,,,,", "invalid_encoding"),
    (b"no-at.x.io,a,b,1,,,,,", "invalid_email"),
    (b"two@@x.io,a,b,1,,,,,", "invalid_email"),
    (b"@x.io,a,b,1,,,,,", "invalid_email"),
    (b"nodot@xio,a,b,1,,,,,", "invalid_email"),
    (b"sp ace@x.io,a,b,1,,,,,", "invalid_email"),
    (b"feb30@x.io,a,b,1,2023-02-30,,,,", "invalid_date"),
    (b"month13@x.io,a,b,1,2023-13-01,,,,", "invalid_date"),
    (b"ts@x.io,a,b,1,,,,yesterday,", "invalid_timestamp"),
    (b'comma@x.io,a,b,1,,,,,"12,50"', "invalid_number"),
    (b"big@x.io,a,b,1,,,,,1234567890123", "invalid_number"),
    (b"  Case@X.IO  ,a,b,1,,,,,", None),
    (b"case@x.io,dup,b,1,,,,,", "duplicate_key"),
    (b'quoted@x.io,"O""Brien, Jr","multi\nline",1,,"a,b",,,', None),
    (b"crlf@x.io,a,b,1,,,,,\r", None),
    (b"", None),  # blank line: no record
    (b'huge@x.io,a,b,1,,"' + b"z" * 200_000 + b'",,,', None),
    (b"last@x.io,a,b,1,,,,2024-03-05 10:11:12+02:00,-3", None),
]


def cases_file(path: Path) -> tuple[Path, dict[int, str | None]]:
    outcome: dict[int, str | None] = {}
    line = 2
    for data, reason in CASES:
        if data:
            outcome[line] = reason
        line += data.count(b"\n") + 1
    body = b"\n".join(data for data, _ in CASES)  # the last line has no line end
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n" + body)
    return path, outcome


async def snapshot(database_url: str) -> tuple[list[Any], list[Any]]:
    rows = await fetch(database_url, "SELECT email, first_name, last_name, phone, birth_date, "
                       "city, country, signup_at, balance, job_id, line_no FROM customers "
                       "ORDER BY email")
    rejects = await fetch(database_url, "SELECT job_id, line_no, reason, raw, detail "
                          "FROM ingest_rejects ORDER BY job_id, line_no")
    return [tuple(r) for r in rows], [tuple(r) for r in rejects]


async def checker_report(database_url: str, paths: list[Path], job_ids: list[str]) -> None:
    exp = expected(paths)
    conn = await asyncpg.connect(database_url)
    try:
        assert_exact(await check(conn, exp, job_ids))
    finally:
        await conn.close()


def gendata(path: Path, rows: int, seed: int, *extra: str) -> Path:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gendata.py"), "--rows", str(rows),
                    "--seed", str(seed), "--out", str(path), *extra], check=True)
    return path


async def test_each_rule_and_hard_input(tmp_path: Path, service_env: dict[str, str],
                                        database_url: str) -> None:
    path, outcome = cases_file(tmp_path / "cases.csv")
    produced = produce(path, service_env, "--batch-size", "4")
    assert produced.rc == 0, produced.stderr
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    rows, rejects = await snapshot(database_url)
    assert {r[1]: r[2] for r in rejects} == {line: why for line, why in outcome.items() if why}
    assert sorted(r[10] for r in rows) == sorted(line for line, why in outcome.items()
                                                 if why is None)
    by_email = {r[0]: r for r in rows}
    assert by_email["ok@x.io"][4:9] == (date(1990, 1, 2), "Paris", "FR",
                                        datetime(2024, 1, 1, 10, tzinfo=UTC), Decimal("12.50"))
    assert by_email["case@x.io"][10] == 17  # trimmed and lowercased; the later copy is rejected
    assert by_email["quoted@x.io"][1:3] == ('O"Brien, Jr', "multi\nline")
    assert len(by_email["huge@x.io"][5]) == 200_000
    assert consumed.summary["rejected"] == len(rejects)
    assert consumed.summary["rejects_by_reason"]["invalid_email"] == 5
    await checker_report(database_url, [path], [produced.summary["job_id"]])


async def test_dirty_file_one_and_three_consumers_give_identical_tables(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        redis_prefix: str) -> None:
    path = gendata(tmp_path / "dirty.csv", 3000, 11, "--dirty")
    produced = produce(path, service_env, "--batch-size", "50")
    assert produced.rc == 0, produced.stderr
    assert consume_burst(service_env).rc == 0
    await checker_report(database_url, [path], [produced.summary["job_id"]])
    single = await snapshot(database_url)

    conn = await asyncpg.connect(database_url)
    await conn.execute("TRUNCATE customers, ingest_rejects, ingest_batches, ingest_jobs")
    await conn.close()
    env = {**service_env, "INGEST_REDIS_PREFIX": redis_prefix + ":second"}
    assert produce(path, env, "--batch-size", "50").rc == 0
    procs = [start("consumer", "--burst", "--parallel", "2", env=env) for _ in range(3)]
    runs = [await asyncio.to_thread(finish, p) for p in procs]
    assert all(r.rc == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    assert sum(r.summary["batches_done"] for r in runs) == produced.summary["batches_total"]
    rows, rejects = await snapshot(database_url)
    assert rows == single[0]
    # A duplicate's raw and detail depend on which of its two batches committed first (a later
    # line loaded first is displaced and its record rebuilt from the table); not its reason.
    assert [r[:3] for r in rejects] == [r[:3] for r in single[1]]
    # The counters add up (README, "Counters"), whichever consumer loaded which batch.
    # A displaced record's count moves to rejected in the summary of the consumer that
    # displaced it, so the sums over the consumers are exact.
    total = {k: sum(r.summary[k] for r in runs) for k in ("records", "inserted", "rejected")}
    assert total["records"] == produced.summary["rows_confirmed"]
    assert total["records"] == total["inserted"] + total["rejected"]
    assert len(rows) == total["inserted"]
    assert len(rejects) == total["rejected"]
    await checker_report(database_url, [path], [produced.summary["job_id"]])


async def test_second_file_against_the_first_cross_job_duplicates(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    first = write_csv(tmp_path / "a.csv", customers_rows(120))
    second = write_csv(tmp_path / "b.csv", [r.upper() for r in customers_rows(60, start=90)]
                       + customers_rows(10, start=500))
    jobs = []
    for path in (first, second):
        run = produce(path, service_env, "--batch-size", "25")
        assert run.rc == 0
        jobs.append(run.summary["job_id"])
        assert consume_burst(service_env).rc == 0
    rows, rejects = await snapshot(database_url)
    assert len(rows) == 160  # 120 + 30 new of the overlapping 60 + 10
    assert [(r[0], r[2]) for r in rejects] == [(jobs[1], "duplicate_key")] * 30
    assert {r[9] for r in rows if r[0].startswith("user9")} >= {jobs[0]}
    await checker_report(database_url, [first, second], jobs)


async def test_redelivery_and_republish_are_no_ops(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        redis_prefix: str) -> None:
    path = gendata(tmp_path / "d.csv", 800, 5, "--dirty")
    produced = produce(path, service_env, "--batch-size", "40")
    assert consume_burst(service_env).rc == 0
    before = await snapshot(database_url)
    # Republish everything (as after a Redis wipe), twice.
    for n in range(2):
        env = {**service_env, "INGEST_REDIS_PREFIX": f"{redis_prefix}:wiped{n}"}
        assert produce(path, env, "--batch-size", "40").rc == 0
    again = consume_burst(service_env)
    assert again.rc == 0
    assert again.summary["duplicate_deliveries"] == 2 * produced.summary["batches_total"]
    assert again.summary["batches_done"] == 0
    assert await snapshot(database_url) == before
    # Republish with another batch size: other batch boundaries, same records.
    env = {**service_env, "INGEST_REDIS_PREFIX": f"{redis_prefix}:resized"}
    assert produce(path, env, "--batch-size", "33").rc == 0
    assert consume_burst(service_env).rc == 0
    assert await snapshot(database_url) == before
    await checker_report(database_url, [path], [produced.summary["job_id"]])


async def test_poison_message_is_dead_lettered_and_the_rest_flows(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    settings = AmqpSettings(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    connection = await aio_pika.connect(settings.url)
    channel = await connection.channel()
    exchange, _ = await amqp.declare(channel, settings)
    await exchange.publish(aio_pika.Message(b"garbage", headers={c.H_VERSION: 99},
                                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                           routing_key=settings.queue)
    await connection.close()
    path = write_csv(tmp_path / "f.csv", customers_rows(100))
    produced = produce(path, service_env, "--batch-size", "10")
    consumed = consume_burst(service_env)
    assert consumed.rc == 1  # --burst: something was dead-lettered
    assert consumed.summary["status"] == "dead_lettered"
    assert consumed.summary["dead_lettered"] == 1
    assert "unknown schema version" in consumed.stderr
    dead = await drain(settings.url, settings.dead_letter_queue)
    assert [m.body for m in dead] == [b"garbage"]
    await checker_report(database_url, [path], [produced.summary["job_id"]])


@pytest.mark.parametrize("order", ["forward", "reverse"])
async def test_earliest_line_wins_whatever_the_commit_order(
        tmp_path: Path, service_env: dict[str, str], database_url: str, order: str) -> None:
    rows = customers_rows(60)
    rows[45] = rows[45].replace("user45@", "user3@")  # later duplicate of line 5
    rows[30] = rows[30].replace("user30@", "USER3@")  # and another one
    path = write_csv(tmp_path / "f.csv", rows)
    settings = AmqpSettings(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    job = await publish_batches(path, settings, 10, order)
    consumed = consume_burst(service_env, "--parallel", "1")
    assert consumed.rc == 0
    customers, rejects = await snapshot(database_url)
    assert [r[10] for r in customers if r[0] == "user3@example.com"] == [5]
    assert [(r[1], r[2]) for r in rejects] == [(32, "duplicate_key"), (47, "duplicate_key")]
    # In reverse order line 47 loads first; line 32 takes the key from it, then line 5 from 32:
    # each displacement moves a count from inserted to rejected, in the summary and in the
    # displaced record's own batch row.
    counts = consumed.summary
    assert counts["records"] == 60 == counts["inserted"] + counts["rejected"]
    assert (len(customers), len(rejects)) == (counts["inserted"], counts["rejected"])
    batches = await fetch(database_url, "SELECT sum(inserted)::int AS i, sum(rejected)::int AS r "
                          "FROM ingest_batches")
    assert (batches[0]["i"], batches[0]["r"]) == (58, 2)
    await checker_report(database_url, [path], [job])


async def test_same_batch_in_two_transactions_at_once_writes_once(
        tmp_path: Path, database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(500))
    handle = path.open("rb")
    header = read_header(handle, 1 << 20)
    (chunk,) = iter_chunks(handle, Position(0, header.end_offset, 2, 0), 1000, 1 << 20)
    handle.close()
    batch = Batch("customers-twice", "customers", 0, chunk.first_line, chunk.last_line,
                  chunk.records, header.columns, "f.csv", chunk.body)
    mapped = plan(from_file.load("customers"), header.columns)
    prepared = prepare(batch, mapped, 1 << 20)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
    try:
        async with pool.acquire() as conn:
            target = target_for(mapped, await reflect(conn, "customers"))
        assert target.in_row
        loaders = [InsertLoader(pool, database_url) for _ in range(2)]
        outcomes = await asyncio.gather(*(ld.load(batch, prepared, target, 1) for ld in loaders))
    finally:
        await pool.close()
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    assert sum(o.inserted for o in outcomes) == 500
    rows, _ = await snapshot(database_url)
    assert len(rows) == 500


async def test_consumer_refuses_an_unmigrated_database(service_env: dict[str, str]) -> None:
    env = {**service_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"}
    run = consume_burst(env)
    assert run.rc == 2
    assert "make migrate-db" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("variable", "url"), [
    ("DATABASE_URL", "postgresql://postgres:pg-s3cret-pw@127.0.0.1:1/ingest"),
    ("AMQP_URL", "amqp://guest:mq-s3cret-pw@127.0.0.1:5672/"),  # a wrong password, refused
    ("AMQP_URL", "amqp://guest:mq-s3cret-pw@127.0.0.1:1/"),
])
def test_no_password_in_logs_errors_or_summary(service_env: dict[str, str], variable: str,
                                               url: str) -> None:
    env = {**service_env, variable: url}
    run = consume_burst(env, "--retry-timeout", "2")
    assert run.rc != 0
    secret = url.split(":")[2].split("@")[0]
    assert run.summary["status"] == "failed"
    assert secret not in run.stderr + str(run.summary)
    assert "127.0.0.1" in run.stderr.splitlines()[-1]  # the error says where, not the secret
