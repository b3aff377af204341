"""Issue 11, consumer side: any table (lineage in-row or in ingest_keys, composite key,
keyless), datasets resolved by fingerprint, three datasets on one consumer, a table changed
under a running job, the --dataset filter. Batches are published here (with their dataset
registered in ingest_datasets as the producer would), so the commit order is ours."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from libs import amqp
from libs.csvfile import read_header
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.model import Dataset, Table
from libs.settings import AmqpSettings
from producer.chunks import Position, iter_chunks
from tests.pipeline import consume_burst, customers_rows, execute, queue_depth, write_csv

pytestmark = pytest.mark.integration

PLAIN = ("CREATE TABLE IF NOT EXISTS customers_plain (email text PRIMARY KEY, first_name text, "
         "last_name text, phone text, birth_date date, city text, country text, "
         "signup_at timestamptz, balance numeric(14,2))")
PAIRS = ("CREATE TABLE IF NOT EXISTS pairs (region text NOT NULL, code integer NOT NULL, "
         "label text CHECK (label IS DISTINCT FROM 'bad'), PRIMARY KEY (region, code))")
EVENTS = "CREATE TABLE IF NOT EXISTS events (kind text, n integer)"
SUPPLIERS = ("CREATE TABLE IF NOT EXISTS suppliers (id uuid PRIMARY KEY, code varchar(8) NOT NULL, "
             "name varchar(100) NOT NULL, active boolean NOT NULL, preferred boolean NOT NULL, "
             "blocked boolean NOT NULL, op char(1) NOT NULL)")
PAIRS_DATASET = {
    "name": "pairs", "schema": {"fields": [
        {"name": "region", "type": "string"}, {"name": "code", "type": "integer"},
        {"name": "label", "type": "string"}], "primaryKey": ["region", "code"]},
    "x-ingest": {"table": "pairs"}}
EVENTS_DATASET = {"name": "events", "schema": {"fields": [
    {"name": "kind", "type": "string"}, {"name": "n", "type": "integer"}]},
    "x-ingest": {"table": "events"}}


sql = execute


async def fetch(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


@pytest.fixture
def fresh(database_url: str) -> str:
    import asyncio

    asyncio.run(sql(database_url, PLAIN, PAIRS, EVENTS, SUPPLIERS,
                    "TRUNCATE customers, customers_plain, pairs, events, suppliers, "
                    "ingest_rejects, ingest_batches, ingest_jobs, ingest_keys, ingest_datasets"))
    return database_url


async def register(url: str, dataset: Dataset) -> str:
    await sql(url, "INSERT INTO ingest_datasets (fingerprint, name, descriptor) VALUES ("
              f"'{dataset.fingerprint}', '{dataset.name}', "
              f"$${json.dumps(dataset.to_descriptor())}$$::jsonb) ON CONFLICT DO NOTHING")
    return dataset.fingerprint


def batches(path: Path, size: int, job: str, dataset: str, fingerprint: str) -> list[Batch]:
    with path.open("rb") as handle:
        header = read_header(handle)
        chunks = list(iter_chunks(handle, Position(0, header.end_offset, 2, 0), size, 1 << 20))
    return [Batch(job, dataset, ch.seq, ch.first_line, ch.last_line, ch.records,
                  header.columns, path.name, ch.body, fingerprint) for ch in chunks]


async def publish(env: dict[str, str], items: list[Batch]) -> None:
    settings = AmqpSettings(env["AMQP_URL"], env["INGEST_QUEUE"])
    connection = await aio_pika.connect(settings.url)
    try:
        channel = await connection.channel()
        exchange, _ = await amqp.declare(channel, settings)
        for batch in items:
            await amqp.publish(exchange, settings, amqp.to_message(batch), 10)
    finally:
        await connection.close()


def customers_file(tmp_path: Path) -> Path:
    rows = customers_rows(60)
    rows[30] = rows[30].replace("user30@", "USER3@")  # a later line with line 5's key
    rows[45] = rows[45].replace("user45@", "user3@")  # and another
    rows[50] = rows[50].replace("user50@", "user10@")
    return write_csv(tmp_path / "c.csv", rows)


@pytest.mark.parametrize("order", ["forward", "reverse"])
async def test_side_table_lineage_gives_the_rows_and_rejects_of_in_row_lineage(
        tmp_path: Path, fresh: str, service_env: dict[str, str], order: str) -> None:
    path = customers_file(tmp_path)
    customers = from_file.load("customers")
    plain = replace(customers, table=Table("customers_plain"))
    results = []
    for dataset, job in ((customers, "customers-inrow"), (plain, "customers-side")):
        fingerprint = await register(fresh, dataset)
        items = batches(path, 10, job, dataset.name, fingerprint)
        await publish(service_env, items[::-1] if order == "reverse" else items)
        run = consume_burst(service_env, "--parallel", "1")
        assert run.rc == 0, run.stderr
        table = dataset.table.name
        rows = await fetch(fresh, f"SELECT email, first_name, balance FROM {table} ORDER BY 1")
        rejects = await fetch(fresh, "SELECT line_no, reason FROM ingest_rejects "
                              "WHERE job_id = $1 ORDER BY 1", job)
        results.append((rows, rejects))
    assert results[0] == results[1]
    rows, rejects = results[1]
    assert len(rows) == 57
    assert rejects == [(32, "duplicate_key"), (47, "duplicate_key"), (52, "duplicate_key")]
    held = await fetch(fresh, "SELECT key, job_id, line_no FROM ingest_keys "
                       "WHERE key IN ('user3@example.com', 'user10@example.com') ORDER BY 1")
    assert held == [("user10@example.com", "customers-side", 12),
                    ("user3@example.com", "customers-side", 5)]
    assert await fetch(fresh, "SELECT DISTINCT target FROM ingest_keys") == [
        ("public.customers_plain",)]


async def test_composite_key_and_rows_not_loaded_by_the_tool(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    await sql(fresh, "INSERT INTO pairs VALUES ('eu', 9, 'there before')")
    path = write_csv(tmp_path / "p.csv", ["eu,1,a", "us,1,b", "eu,1,c", "eu,9,d", "us,2,e",
                                          "EU,1,f", "us,3,bad", "us,3,ok"],
                     header="region,code,label")
    dataset = Dataset.from_descriptor(PAIRS_DATASET)
    items = batches(path, 2, "pairs-1", "pairs", await register(fresh, dataset))
    await publish(service_env, items[::-1])
    run = consume_burst(service_env, "--parallel", "1")
    assert run.rc == 0, run.stderr
    assert await fetch(fresh, "SELECT region, code, label FROM pairs ORDER BY 1, 2") == [
        ("EU", 1, "f"), ("eu", 1, "a"), ("eu", 9, "there before"), ("us", 1, "b"),
        ("us", 2, "e"), ("us", 3, "ok")]
    rejects = await fetch(fresh, "SELECT line_no, reason, detail FROM ingest_rejects "
                          "ORDER BY 1")
    assert [(r[0], r[1]) for r in rejects] == [(4, "duplicate_key"), (5, "duplicate_key"),
                                                (8, "database_rejected")]
    assert "not loaded by this tool" in rejects[1][2]
    keys = await fetch(fresh, "SELECT key, line_no FROM ingest_keys ORDER BY 2")
    assert keys[0] == ('["eu", "1"]', 2)


async def test_keyless_table_takes_every_record_once(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "e.csv", ["a,1", "a,1", "b,2", "a,1", "c,x"], header="kind,n")
    dataset = Dataset.from_descriptor(EVENTS_DATASET)
    items = batches(path, 2, "events-1", "events", await register(fresh, dataset))
    await publish(service_env, items + items)  # every batch delivered twice
    run = consume_burst(service_env, "--parallel", "2")
    assert run.rc == 0, run.stderr
    assert run.summary["duplicate_deliveries"] == len(items)
    assert await fetch(fresh, "SELECT kind, n FROM events ORDER BY 1, 2") == [
        ("a", 1), ("a", 1), ("a", 1), ("b", 2)]
    assert await fetch(fresh, "SELECT line_no, reason FROM ingest_rejects") == [
        (6, "invalid_integer")]
    assert await fetch(fresh, "SELECT count(*) FROM ingest_keys") == [(0,)]


async def test_unknown_fingerprint_is_dead_lettered(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "e.csv", ["a,1"], header="kind,n")
    await publish(service_env, batches(path, 10, "events-x", "events", "ab" * 32))
    run = consume_burst(service_env)
    assert run.summary["status"] == "dead_lettered"
    assert "unknown dataset fingerprint" in run.stderr
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"] + ".dlq") == 1


def suppliers_file(tmp_path: Path) -> Path:
    rows = [f"{i:08x}-0000-4000-8000-{i:012x},ABC-{i:04d},Supplier {i},1,0,0,I"
            for i in range(1, 21)]
    rows[7] = rows[7].replace(",I", ",X")  # not_in_enum
    return write_csv(tmp_path / "s.csv", rows, header="id,code,name,active,preferred,blocked,op")


async def test_one_consumer_loads_three_datasets_interleaved(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    groups = []
    for dataset, path, job in (
            (from_file.load("customers"), customers_file(tmp_path), "customers-3"),
            (from_file.load("suppliers"), suppliers_file(tmp_path), "suppliers-3"),
            (Dataset.from_descriptor(PAIRS_DATASET),
             write_csv(tmp_path / "p.csv", [f"r{i % 3},{i},x" for i in range(30)],
                       header="region,code,label"), "pairs-3")):
        groups.append(batches(path, 7, job, dataset.name, await register(fresh, dataset)))
    mixed = [b for group in zip(*groups, strict=False) for b in group]
    mixed += [b for group in groups for b in group[min(map(len, groups)):]]
    await publish(service_env, mixed)
    run = consume_burst(service_env, "--parallel", "3")
    assert run.rc == 0, run.stderr
    counts = await fetch(fresh, "SELECT (SELECT count(*) FROM customers), "
                         "(SELECT count(*) FROM suppliers), (SELECT count(*) FROM pairs)")
    assert counts == [(57, 19, 30)]
    assert await fetch(fresh, "SELECT job_id, reason, count(*) FROM ingest_rejects "
                       "GROUP BY 1, 2 ORDER BY 1") == [
        ("customers-3", "duplicate_key", 3), ("suppliers-3", "not_in_enum", 1)]


async def test_a_table_changed_under_a_running_job_stops_the_job(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    path = suppliers_file(tmp_path)
    dataset = from_file.load("suppliers")
    items = batches(path, 10, "suppliers-drift", "suppliers", await register(fresh, dataset))
    await publish(service_env, items[:1])
    consumer = consume_burst(service_env)
    assert consumer.rc == 0
    await sql(fresh, "ALTER TABLE suppliers DROP COLUMN preferred")
    await publish(service_env, items[1:])
    run = consume_burst(service_env)
    assert run.summary["status"] == "dead_lettered"
    error = await fetch(fresh, "SELECT error FROM ingest_jobs WHERE job_id = 'suppliers-drift'")
    assert "lacks column(s) preferred" in error[0][0]
    assert await fetch(fresh, "SELECT count(*) FROM suppliers") == [(9,)]
    await sql(fresh, "ALTER TABLE suppliers ADD COLUMN preferred boolean NOT NULL DEFAULT false")


async def test_dataset_filter_returns_other_datasets_to_the_queue(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    suppliers = batches(suppliers_file(tmp_path), 100, "suppliers-f", "suppliers",
                        await register(fresh, from_file.load("suppliers")))
    customers = batches(customers_file(tmp_path), 100, "customers-f", "customers",
                        await register(fresh, from_file.load("customers")))
    await publish(service_env, suppliers + customers)
    run = consume_burst(service_env, "--dataset", "customers")
    assert run.rc == 0, run.stderr
    assert run.summary["returned"] >= 1
    assert await fetch(fresh, "SELECT (SELECT count(*) FROM customers), "
                       "(SELECT count(*) FROM suppliers)") == [(57, 0)]
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) == 1
    run = consume_burst(service_env)
    assert run.rc == 0, run.stderr
    assert await fetch(fresh, "SELECT count(*) FROM suppliers") == [(19,)]


async def test_side_table_refused_record_gives_its_key_to_the_next_line(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    await sql(fresh, "DROP TABLE IF EXISTS checked",
              "CREATE TABLE checked (k text PRIMARY KEY, n integer CHECK (n > 0))")
    dataset = Dataset.from_descriptor({
        "name": "checked", "schema": {"fields": [{"name": "k"}, {"name": "n", "type": "integer"}],
                                      "primaryKey": ["k"]}, "x-ingest": {"table": "checked"}})
    fingerprint = await register(fresh, dataset)
    first = write_csv(tmp_path / "a.csv", ["a,1", "b,-1", "b,2", "c,-3", "d,4"], header="k,n")
    second = write_csv(tmp_path / "b.csv", ["c,5", "d,6", "e,-7", "e,8"], header="k,n")
    await publish(service_env, batches(first, 10, "checked-1", "checked", fingerprint))
    assert consume_burst(service_env).rc == 0
    await publish(service_env, batches(second, 10, "checked-2", "checked", fingerprint))
    assert consume_burst(service_env).rc == 0
    assert await fetch(fresh, "SELECT k, n FROM checked ORDER BY 1") == [
        ("a", 1), ("b", 2), ("c", 5), ("d", 4), ("e", 8)]
    assert await fetch(fresh, "SELECT job_id, line_no, reason FROM ingest_rejects "
                       "ORDER BY 1, 2") == [
        ("checked-1", 3, "database_rejected"), ("checked-1", 5, "database_rejected"),
        ("checked-2", 3, "duplicate_key"), ("checked-2", 4, "database_rejected")]
    assert await fetch(fresh, "SELECT key, job_id, line_no FROM ingest_keys "
                       "WHERE target = 'public.checked' ORDER BY 1") == [
        ("a", "checked-1", 2), ("b", "checked-1", 4), ("c", "checked-2", 2),
        ("d", "checked-1", 6), ("e", "checked-2", 5)]
