"""Issue 12, load modes: insert, upsert and merge against the oracle (tests/oracle.py), through
the real producer and consumers: 1 and 3 consumers, commit orders forced with the
``consumer.hold`` fault point, two jobs on overlapping keys in either commit order, a replay,
the suppliers sample in merge mode against PostgreSQL's own MERGE, exact counters."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs import constants as c
from producer.app import job_id_for
from tests import oracle
from tests.pipeline import (
    ROOT,
    assert_loaded_exactly,
    consume_burst,
    delete_topology,
    execute,
    fetch,
    finish,
    produce,
    start,
    write_csv,
)

pytestmark = pytest.mark.integration

SUPPLIERS = ("CREATE TABLE IF NOT EXISTS suppliers (id uuid PRIMARY KEY, code varchar(8) NOT NULL, "
             "name varchar(100) NOT NULL, active boolean NOT NULL, preferred boolean NOT NULL, "
             "blocked boolean NOT NULL, op char(1) NOT NULL)")
HEADER = "id,code,name,active,preferred,blocked,op"
COUNTERS = ("inserted", "updated", "deleted", "unchanged", "superseded", "rejected", "skipped")
SAMPLE = ROOT / "data" / "suppliers_sample.csv"


@pytest.fixture
def fresh(database_url: str) -> str:
    asyncio.run(execute(database_url, SUPPLIERS, "TRUNCATE suppliers, ingest_rejects, "
                        "ingest_batches, ingest_jobs, ingest_keys, ingest_datasets"))
    return database_url


def suppliers_file(path: Path, seed: int, records: int = 60, keys: int = 15) -> Path:
    """Records on a small pool of keys (upper and lower case ids: one key), random I/U/D,
    one invalid uuid and one op outside I/U/D."""
    rng = random.Random(seed)
    pool = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, keys + 1)]
    rows = []
    for n in range(records):
        key = rng.choice(pool)
        rows.append(f"{key.upper() if rng.random() < 0.3 else key},ABC-{rng.randrange(10000):04d},"
                    f"Name {seed}-{n},{rng.randint(0, 1)},{rng.randint(0, 1)},0,"
                    f"{rng.choice('IIUUD')}")
    rows[10] = "not-a-uuid" + rows[10][rows[10].index(","):]
    rows[20] = rows[20][:-1] + "X"
    return write_csv(path, rows, header=HEADER)


def produce_job(env: dict[str, str], path: Path, mode: str, *args: str) -> str:
    produced = produce(path, env, "--dataset", "suppliers", "--mode", mode,
                       "--batch-size", "7", *args)
    assert produced.rc == 0, produced.stderr
    assert produced.summary["mode"] == mode
    return str(produced.summary["job_id"])


def consume(env: dict[str, str], consumers: int = 1) -> None:
    if consumers == 1:
        run = consume_burst(env, "--parallel", "12")
        assert run.rc == 0, run.stderr[-3000:]
        return
    procs = [start("consumer", "--burst", "--parallel", "2", env=env) for _ in range(consumers)]
    runs = [finish(p) for p in procs]
    assert all(r.rc == 0 for r in runs), [r.stderr[-2000:] for r in runs]


def _plain(value: Any) -> Any:
    return str(value) if hasattr(value, "hex") and not isinstance(value, bytes) else value


async def table(url: str) -> dict[str, dict[str, Any]]:
    rows = await fetch(url, "SELECT * FROM suppliers")
    return {str(r["id"]): {k: _plain(v) for k, v in r.items()} for r in rows}


def wanted(expected: oracle.Final) -> dict[str, dict[str, Any]]:
    return {str(k): {c: _plain(v) for c, v in values.items()}
            for k, values in expected.rows.items()}


async def job_counts(url: str, job: str) -> Counter[str]:
    """The job's counters (sum of its batches); every batch's counters sum to its records."""
    sums = ", ".join(f"sum({name})::int AS {name}" for name in COUNTERS)
    total = " + ".join(COUNTERS)
    (row,) = await fetch(url, f"SELECT {sums}, sum(records)::int AS records, count(*) FILTER "
                              f"(WHERE records <> {total}) AS off FROM ingest_batches "
                              f"WHERE job_id = '{job}'")
    assert row["off"] == 0, "a batch's counters do not sum to its records"
    assert row["records"] == sum(row[name] for name in COUNTERS)
    return Counter({name: row[name] for name in COUNTERS if row[name]})


@pytest.mark.parametrize("consumers", [1, 3])
@pytest.mark.parametrize("mode", ["insert", "upsert", "merge"])
async def test_each_mode_matches_the_oracle_with_one_and_three_consumers(
        tmp_path: Path, fresh: str, service_env: dict[str, str], mode: str,
        consumers: int) -> None:
    path = suppliers_file(tmp_path / "s.csv", seed=7)
    job = produce_job(service_env, path, mode)
    consume(service_env, consumers)
    expected = oracle.final([path], "suppliers", mode)
    assert await table(fresh) == wanted(expected)
    assert await job_counts(fresh, job) == +expected.counts[0]
    if mode == "insert":  # the independent exactly-once checker still holds
        await assert_loaded_exactly(fresh, [path], [job], dataset="suppliers")


def hold_env(env: dict[str, str], order: list[int], seconds: float = 0.3) -> dict[str, str]:
    """consumer.hold: the batches of ``order`` load in that order (c.FAULT_* variables)."""
    return {**env, c.FAULT_ENV: "consumer.hold", c.FAULT_KEY_ENV: ",".join(map(str, order)),
            c.FAULT_AFTER_ENV: str(seconds)}


@pytest.mark.parametrize("order", ["reverse", "random"])
@pytest.mark.parametrize("mode", ["insert", "upsert", "merge"])
async def test_commit_order_forced_by_the_hold_point_changes_nothing(
        tmp_path: Path, fresh: str, service_env: dict[str, str], mode: str,
        order: str) -> None:
    path = suppliers_file(tmp_path / "s.csv", seed=11)
    job = produce_job(service_env, path, mode)
    seqs = list(range(0, 11))  # 60 records in batches of 7: seqs within 0..10
    seqs.reverse() if order == "reverse" else random.Random(3).shuffle(seqs)
    consume(hold_env(service_env, seqs))
    committed = [r["seq"] for r in await fetch(
        fresh, f"SELECT seq FROM ingest_batches WHERE job_id = '{job}' ORDER BY finished_at")]
    assert committed == [s for s in seqs if s in committed]  # the order was forced
    expected = oracle.final([path], "suppliers", mode)
    assert await table(fresh) == wanted(expected)
    assert await job_counts(fresh, job) == +expected.counts[0]


@pytest.fixture
def second_queue(service_env: dict[str, str]) -> Any:
    """Another queue for the older job's batches, so that they can commit after the newer
    job's; deleted afterwards."""
    name = service_env["INGEST_QUEUE"] + "-older"
    yield name

    asyncio.run(delete_topology(service_env["AMQP_URL"], name))


@pytest.mark.parametrize("commits", ["older_first", "newer_first"])
@pytest.mark.parametrize("mode", ["insert", "upsert", "merge"])
async def test_two_jobs_on_overlapping_keys_follow_job_order(
        tmp_path: Path, fresh: str, service_env: dict[str, str], second_queue: str,
        mode: str, commits: str) -> None:
    older, newer = (suppliers_file(tmp_path / f"{n}.csv", seed=s) for n, s in
                    (("older", 21), ("newer", 22)))
    older_env = {**service_env, "INGEST_QUEUE": second_queue}
    older_job = produce_job(older_env, older, mode)  # registered first: earlier in job order
    newer_job = produce_job(service_env, newer, mode)
    for env in ((older_env, service_env) if commits == "older_first"
                else (service_env, older_env)):
        consume(env)
    expected = oracle.final([older, newer], "suppliers", mode)
    assert await table(fresh) == wanted(expected)
    for job, path in ((older_job, older), (newer_job, newer)):
        counts = await job_counts(fresh, job)
        assert sum(counts.values()) == oracle.valid_records(path, "suppliers")[1]
    if commits == "older_first":  # counts are deterministic when the jobs ran one by one
        assert [await job_counts(fresh, j) for j in (older_job, newer_job)] == [
            +counts for counts in expected.counts]
    # A replay of the older job (offsets lost: every batch republished) changes nothing.
    replay = {**older_env, "INGEST_REDIS_PREFIX": service_env["INGEST_REDIS_PREFIX"] + ":r"}
    assert produce_job(replay, older, mode) == older_job
    consume(replay)
    assert await table(fresh) == wanted(expected)


async def test_suppliers_sample_in_merge_mode_is_the_merge_statement(
        fresh: str, service_env: dict[str, str]) -> None:
    job = produce_job(service_env, SAMPLE, "merge")
    consume(service_env)
    expected = oracle.final([SAMPLE], "suppliers", "merge")
    assert await table(fresh) == wanted(expected)
    assert sorted(v["code"] for v in wanted(expected).values()) == [
        "ACM-0001", "BOL-0002", "DIS-0004", "LUM-0012", "MNO-0013"]  # CAS-0003 deleted
    # PostgreSQL's MERGE, record by record in line order, on a copy of the table.
    types = {"id": "uuid", "code": "text", "name": "text", "active": "boolean",
             "preferred": "boolean", "blocked": "boolean", "op": "text"}
    statement = oracle.merge_statement_sql("merge_reference", types, "id")
    records, _ = oracle.valid_records(SAMPLE, "suppliers")
    await execute(fresh, "DROP TABLE IF EXISTS merge_reference",
                  "CREATE TABLE merge_reference (LIKE suppliers)")
    conn = await asyncpg.connect(fresh)
    try:
        for _, _, values in records:
            await conn.execute(statement, *(values[name] for name in types))
        reference = {str(r["id"]): {k: _plain(v) for k, v in r.items()}
                     for r in await conn.fetch("SELECT * FROM merge_reference")}
        await conn.execute("DROP TABLE merge_reference")
    finally:
        await conn.close()
    assert await table(fresh) == reference
    assert await job_counts(fresh, job) == Counter(
        inserted=5, unchanged=1, superseded=8, rejected=7)


async def test_key_versions_hold_each_records_effect(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    """The version guard after a merge, key by key: a new key claimed by a write (inserted)
    or a delete (unchanged: a tombstone), a key the table held without lineage (updated,
    then its version written over the claim's), and a key deleted then written again within
    the job (its last record: inserted, the delete superseded)."""
    ids = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 5)]
    await execute(fresh, "INSERT INTO suppliers (id, code, name, active, preferred, blocked, "
                         f"op) VALUES ('{ids[2]}', 'OLD-0003', 'Old', true, false, false, 'I')")
    rows = [f"{ids[0]},NEW-0001,New,1,0,0,I", f"{ids[1]},DEL-0002,Gone,1,0,0,D",
            f"{ids[2]},UPD-0003,Held,1,0,0,U", f"{ids[3]},DEL-0004,Back,1,0,0,D",
            f"{ids[3]},NEW-0004,Back,1,0,0,I"]
    path = write_csv(tmp_path / "v.csv", rows, header=HEADER)
    job = produce_job(service_env, path, "merge", "--batch-size", "100")
    consume(service_env)
    versions = {str(r["key"]): (r["line_no"], r["deleted"], r["effect"]) for r in await fetch(
        fresh, "SELECT key, line_no, deleted, effect::text AS effect FROM ingest_keys "
               "WHERE target = 'public.suppliers'")}
    assert versions == {ids[0]: (2, False, "i"), ids[1]: (3, True, "n"),
                        ids[2]: (4, False, "u"), ids[3]: (6, False, "i")}
    assert sorted(await table(fresh)) == [ids[0], ids[2], ids[3]]
    assert await job_counts(fresh, job) == Counter(
        inserted=2, unchanged=1, updated=1, superseded=1)


async def test_upsert_and_merge_of_a_keyless_table_are_refused(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:
    await execute(fresh, "CREATE TABLE IF NOT EXISTS events (kind text, n integer)")
    path = write_csv(tmp_path / "e.csv", ["a,1", "b,2"], header="kind,n")
    for mode in ("upsert", "merge"):
        run = produce(path, service_env, "--table", "events", "--mode", mode)
        assert run.rc == 2
        errors = [line for line in run.lines if line.startswith("error:")]
        assert errors == [f"error: --mode {mode} needs a key, and table events has no primary "
                          "key or unique key: add one, or load with --mode insert"], run.stderr
    run = produce(SAMPLE, service_env, "--dataset", "customers", "--mode", "merge")
    assert run.rc == 2


@pytest.mark.unit
def test_the_job_id_adds_the_mode_except_for_insert() -> None:
    plain = hashlib.sha256(b"fp\0digest").hexdigest()[:24]
    assert job_id_for("suppliers", "fp", "digest") == f"suppliers-{plain}"
    assert job_id_for("suppliers", "fp", "digest", "insert") == f"suppliers-{plain}"
    merged = hashlib.sha256(b"fp\0digest\0merge").hexdigest()[:24]
    assert job_id_for("suppliers", "fp", "digest", "merge") == f"suppliers-{merged}"
