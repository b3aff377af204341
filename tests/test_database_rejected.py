"""Values the validators accept but PostgreSQL refuses: the record is a ``database_rejected``
reject and the rest of its batch loads, on the fast path (COPY into the table) and on the
duplicate-key path (COPY into the stage, INSERT ... SELECT, the earlier line taking its key
back). The table is altered for a test and restored in a ``finally`` (the session's database
is shared by the tests)."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from libs import amqp
from libs import constants as c
from libs.load.isolate import failing_row_numbers, isolate, refused
from libs.settings import AmqpSettings
from tests.pipeline import (
    consume_burst,
    customers_rows,
    drain,
    fetch,
    produce,
    publish_batches,
    write_csv,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

# How to make PostgreSQL refuse a city the validators accept, and how to undo it.
ALTERATIONS = {
    "check": ("ALTER TABLE customers ADD CONSTRAINT test_city_short "
              "CHECK (char_length(city) <= 10)",
              "ALTER TABLE customers DROP CONSTRAINT IF EXISTS test_city_short",
              'violates check constraint "test_city_short"'),
    "varchar": ("ALTER TABLE customers ALTER COLUMN city TYPE varchar(10)",
                "ALTER TABLE customers ALTER COLUMN city TYPE text",
                "city: value too long for type character varying(10)"),
}
LONG_CITY = "Saint-Remy-de-Provence"  # 22 characters


@asynccontextmanager
async def altered(database_url: str, kind: str) -> AsyncIterator[None]:
    alter, restore, _ = ALTERATIONS[kind]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(alter)
        yield
    finally:
        await conn.execute(restore)
        await conn.close()


async def table(database_url: str) -> tuple[dict[int, Any], dict[int, Any]]:
    rows = await fetch(database_url, "SELECT * FROM customers")
    rejects = await fetch(database_url, "SELECT * FROM ingest_rejects")
    return ({(r["job_id"], r["line_no"]): r for r in rows},
            {(r["job_id"], r["line_no"]): r for r in rejects})


def with_long_city(rows: list[str], lines: Sequence[int]) -> list[str]:
    """``rows`` (line 2 first) with a long city on ``lines``."""
    out = list(rows)
    for line in lines:
        fields = out[line - 2].split(",")
        fields[5] = LONG_CITY
        out[line - 2] = ",".join(fields)
    return out


# Batches of 10 records (lines 2-11, 12-21, 22-31): refused records at the start of the
# first, in the middle of the second, several in the third and at its end.
BAD_LINES = (2, 17, 24, 25, 28, 31)
HELD_LINES = (5, 15, 26)  # on the duplicate-key path, keys an earlier job loaded


@pytest.mark.parametrize("kind", sorted(ALTERATIONS))
@pytest.mark.parametrize("path", ["fast", "merge"])
async def test_refused_records_are_rejects_and_the_rest_of_the_batch_loads(
        tmp_path: Path, service_env: dict[str, str], database_url: str, kind: str,
        path: str) -> None:
    if path == "merge":  # an earlier job holds one key of each batch: the stage path runs
        earlier = write_csv(tmp_path / "earlier.csv",
                            [customers_rows(30)[line - 2] for line in HELD_LINES])
        run = produce(earlier, service_env, "--batch-size", "10")
        assert run.rc == 0, run.stderr
        assert consume_burst(service_env).rc == 0
    source = write_csv(tmp_path / "f.csv", with_long_city(customers_rows(30), BAD_LINES))
    # varchar(10) seen by the producer is a rule (too_long, the table's type wins): the
    # column is narrowed once the job is published, so PostgreSQL is the one to refuse.
    produced = produce(source, service_env, "--batch-size", "10") if kind == "varchar" else None
    async with altered(database_url, kind):
        produced = produced or produce(source, service_env, "--batch-size", "10")
        assert produced.rc == 0, produced.stderr
        consumed = consume_burst(service_env)
    job = produced.summary["job_id"]
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["status"] == "ok"
    assert consumed.summary["dead_lettered"] == consumed.summary["requeued"] == 0
    assert consumed.summary["batches_done"] == 3
    rows, rejects = await table(database_url)
    held = set(HELD_LINES) if path == "merge" else set()  # keys of the earlier job
    assert {line for (j, line) in rows if j == job} == set(range(2, 32)) - set(BAD_LINES) - held
    mine = {line: r for (j, line), r in rejects.items() if j == job}
    assert {line: r["reason"] for line, r in mine.items()} == {
        **{line: "database_rejected" for line in BAD_LINES},
        **{line: "duplicate_key" for line in held}}
    for line in BAD_LINES:
        assert ALTERATIONS[kind][2] in mine[line]["detail"], mine[line]["detail"]
        assert LONG_CITY in mine[line]["raw"]
    assert consumed.summary["rejects_by_reason"] == {
        "database_rejected": len(BAD_LINES), **({"duplicate_key": 3} if held else {})}
    assert consumed.summary["inserted"] == 30 - len(BAD_LINES) - len(held)


@pytest.mark.parametrize("order", ["forward", "reverse"])
async def test_a_refused_earlier_line_leaves_the_later_duplicate_loaded(
        tmp_path: Path, service_env: dict[str, str], database_url: str, order: str) -> None:
    """Line 5 and line 25 share a key, line 5 is refused: in either commit order line 25 is
    loaded (reverse: line 5 displaces line 25 and is refused then; the displacement is undone)."""
    rows = customers_rows(30)
    rows[23] = rows[23].replace("user23@", "user3@")  # line 25, a later duplicate of line 5
    rows[10] = rows[10].replace("user10@", "user12@")  # line 12 and 14 in one batch: line 14
    path = write_csv(tmp_path / "f.csv", with_long_city(rows, (5, 18)))  # 18: a plain refusal
    settings = AmqpSettings(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    async with altered(database_url, "check"):
        job = await publish_batches(path, settings, 10, order)
        consumed = consume_burst(service_env, "--parallel", "1")
    assert consumed.rc == 0, consumed.stderr
    customers, rejects = await table(database_url)
    assert customers[(job, 25)]["email"] == "user3@example.com"
    assert {line: r["reason"] for (_, line), r in rejects.items()} == {
        5: "database_rejected", 14: "duplicate_key", 18: "database_rejected"}
    assert len(customers) == 27
    # reverse: line 5's taking its key back was refused and undone; the counts are net of
    # displacements either way
    assert (consumed.summary["inserted"], consumed.summary["rejected"]) == (27, 3)


async def test_index_row_too_large_is_refused_alone(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """54000: an email key longer than a btree entry may be (about 2.7 kB) is valid for the
    validators; PostgreSQL refuses it when it indexes it."""
    rng = random.Random(3)
    huge = "".join(rng.choice(string.ascii_lowercase) for _ in range(3000)) + "@example.com"
    rows = customers_rows(8)
    rows[3] = rows[3].replace("user3@example.com", huge)
    path = write_csv(tmp_path / "f.csv", rows)
    produced = produce(path, service_env)
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    customers, rejects = await table(database_url)
    assert sorted(line for _, line in customers) == [2, 3, 4, 6, 7, 8, 9]
    (reject,) = rejects.values()
    assert (reject["line_no"], reject["reason"]) == (5, "database_rejected")
    assert "index row size" in reject["detail"]
    assert "SQLSTATE 54000" in reject["detail"]
    assert produced.summary["rows_read"] == 8


async def test_lone_cr_inside_an_unquoted_field_is_kept(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    rows = customers_rows(5)
    rows[2] = rows[2].replace("First2", "Fir\rst2")
    path = write_csv(tmp_path / "f.csv", rows)
    assert produce(path, service_env).rc == 0
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["dead_lettered"] == 0
    customers, rejects = await table(database_url)
    assert rejects == {}
    by_line = {line: r for (_, line), r in customers.items()}
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert by_line[4]["first_name"] == "Fir\rst2"


async def test_unknown_message_version_is_dead_lettered_and_burst_exits_1(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    settings = AmqpSettings(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    connection = await aio_pika.connect(settings.url)
    try:
        channel = await connection.channel()
        exchange, _ = await amqp.declare(channel, settings)
        await exchange.publish(aio_pika.Message(b"x", headers={c.H_VERSION: 99},
                                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                               routing_key=settings.queue)
    finally:
        await connection.close()
    assert produce(write_csv(tmp_path / "f.csv", customers_rows(20)), service_env).rc == 0
    consumed = consume_burst(service_env)
    assert consumed.rc == 1
    assert consumed.summary["status"] == "dead_lettered"
    assert consumed.summary["dead_lettered"] == 1
    assert consumed.summary["inserted"] == 20  # the rest flowed
    assert [m.body for m in await drain(settings.url, settings.dead_letter_queue)] == [b"x"]


# --- isolate() on its own: bounded, right whatever the located line says ----------------------

@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await connection.execute("CREATE TEMP TABLE t (n int CHECK (n % 7 <> 0))")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.mark.parametrize("locate", ["none", "wrong", "right"])
@pytest.mark.parametrize("bad_every", [1, 3, 7, 1000])
async def test_isolate_finds_exactly_the_refused_items_in_bounded_attempts(
        conn: asyncpg.Connection, locate: str, bad_every: int) -> None:
    items = [n * 7 if n % bad_every == 0 else n * 7 + 1 for n in range(1, 200)]
    attempts = 0

    async def attempt(part: Sequence[int]) -> None:
        nonlocal attempts
        attempts += 1
        for n in part:  # one row at a time: the failing one is known, as COPY knows it
            await conn.execute("INSERT INTO t VALUES ($1)", n)

    def where(exc: asyncpg.PostgresError, part: Sequence[int]) -> int | None:
        if locate == "none":
            return None
        if locate == "wrong":
            return 0
        return next(i for i, n in enumerate(part) if n % 7 == 0)

    async with conn.transaction():
        bad = await isolate(conn, items, attempt, where, refused)
        loaded = sorted(r["n"] for r in await conn.fetch("SELECT n FROM t"))
    assert [n for n, _ in bad] == [n for n in items if n % 7 == 0]
    assert all(isinstance(exc, asyncpg.CheckViolationError) for _, exc in bad)
    assert loaded == sorted(n for n in items if n % 7 != 0)
    assert attempts <= 3 * len(items)


@pytest.mark.parametrize("path", ["fast", "merge"])
@pytest.mark.parametrize(("refused_lines", "loaded", "duplicates"), [
    ((5,), 7, {9: 7}),  # line 7 takes the key, line 9 is now a duplicate of line 7
    ((5, 7), 9, {}),  # and again
])
async def test_a_refused_record_passes_its_key_to_the_next_record_of_its_batch(
        tmp_path: Path, service_env: dict[str, str], database_url: str, path: str,
        refused_lines: tuple[int, ...], loaded: int, duplicates: dict[int, int]) -> None:
    """Within one batch the later records of a key are rejected duplicate_key before the
    database sees the first; when it refuses the first, the next one loads instead, as it
    would from another batch: the earliest line that loads wins, whatever the batches."""
    rows = customers_rows(10)
    for line in (7, 9):
        rows[line - 2] = rows[line - 2].replace(f"user{line - 2}@", "user3@")  # line 5's key
    if path == "merge":  # an earlier job holds the key of line 11: the stage path runs
        earlier = write_csv(tmp_path / "earlier.csv", [rows[9]])
        assert produce(earlier, service_env).rc == 0
        assert consume_burst(service_env).rc == 0
    source = write_csv(tmp_path / "f.csv", with_long_city(rows, refused_lines))
    async with altered(database_url, "check"):
        produced = produce(source, service_env)
        consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    job = produced.summary["job_id"]
    customers, rejects = await table(database_url)
    assert customers[(job, loaded)]["email"] == "user3@example.com"
    mine = {line: r for (j, line), r in rejects.items() if j == job}
    assert {line: r["reason"] for line, r in mine.items()} == {
        **{line: "database_rejected" for line in refused_lines},
        **{line: "duplicate_key" for line in duplicates},
        **({11: "duplicate_key"} if path == "merge" else {})}
    for line, holder in duplicates.items():
        assert mine[line]["detail"].endswith(f"already on line {holder}")
    inserted = 10 - len(refused_lines) - len(duplicates) - (path == "merge")
    assert consumed.summary["inserted"] == inserted
    assert sum(consumed.summary["rejects_by_reason"].values()) == 10 - inserted
    assert len([k for k in customers if k[0] == job]) == inserted


async def test_a_refused_key_take_back_leaves_the_later_line_loaded(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """The UPDATE that gives line 5 its key back from line 25 breaks a unique index on phone
    (line 28 holds that phone): line 5 is refused there, line 25 stays loaded, nothing else
    is touched. Batches commit in reverse order."""
    rows = customers_rows(30)
    rows[23] = rows[23].replace("user23@", "user3@")  # line 25: the key of line 5
    rows[3] = rows[3].replace("+1-555-0003", "+1-555-0026")  # line 5: the phone of line 28
    path = write_csv(tmp_path / "f.csv", rows)
    settings = AmqpSettings(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE UNIQUE INDEX test_phone ON customers (phone)")
        job = await publish_batches(path, settings, 10, "reverse")
        consumed = consume_burst(service_env, "--parallel", "1")
    finally:
        await conn.execute("DROP INDEX IF EXISTS test_phone")
        await conn.close()
    assert consumed.rc == 0, consumed.stderr
    customers, rejects = await table(database_url)
    assert customers[(job, 25)]["email"] == "user3@example.com"
    assert customers[(job, 28)]["phone"] == "+1-555-0026"
    (reject,) = rejects.values()
    assert (reject["line_no"], reject["reason"]) == (5, "database_rejected")
    assert 'unique constraint "test_phone"' in reject["detail"]
    assert len(customers) == 29
    assert (consumed.summary["inserted"], consumed.summary["rejected"]) == (29, 1)


@pytest.mark.unit
def test_failing_row_numbers_last_first() -> None:
    exc = asyncpg.CheckViolationError("new row violates check constraint")
    exc.detail = ("Failing row contains (a@b.co, x, 1, (y), 12, null, -3, job-1, 42, "
                  "2026-11-29 11:09:55.858952+00).")
    assert failing_row_numbers(exc) == [42, -3, 12, 1]
    assert failing_row_numbers(asyncpg.CheckViolationError("no detail")) == []
