"""The producer's dataset resolution and registration, against real PostgreSQL and RabbitMQ.

Each test makes its own tables in the session database (migrated with migrations/ only) and
drops them afterwards. Expectations are computed here from the file, the table definition and
the job-id formula of the README, not by the producer's code.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs import amqp, registry
from libs import constants as c
from libs.errors import PoisonMessage
from libs.schema import from_file, from_table
from libs.schema.model import Dataset
from libs.settings import AmqpSettings
from tests.conftest import Endpoints, migrate
from tests.pipeline import (
    Run,
    customers_rows,
    drain,
    drop_database,
    execute,
    finish,
    produce,
    queue_depth,
    start,
    with_database,
    write_csv,
)

pytestmark = pytest.mark.integration

ORDERS = """
CREATE TABLE orders (
    order_id    integer PRIMARY KEY,
    customer    text NOT NULL,
    amount      numeric(10, 2),
    ordered_at  timestamptz NOT NULL DEFAULT now(),
    note        text
)"""
# No primary key, two unique keys: the user must choose.
ORDER_LINES = """
CREATE TABLE order_lines (
    line_id  integer NOT NULL UNIQUE,
    code     text NOT NULL UNIQUE,
    qty      integer
)"""
ORDERS_YAML = """\
name: orders
schema:
  fields:
    - {name: order_id, type: integer}
    - {name: customer, type: string, constraints: {required: true}}
    - {name: amount, type: number}
  primaryKey: [order_id]
x-ingest: {table: orders}
"""


_execute = execute


@pytest.fixture
async def tables(database_url: str, clean_tables: None) -> AsyncIterator[None]:
    """orders and order_lines in the session database (the tool's tables emptied)."""
    drop = "DROP TABLE IF EXISTS orders, order_lines"
    await _execute(database_url, drop, ORDERS, ORDER_LINES)
    yield
    await _execute(database_url, drop)


@pytest.fixture
async def topology(service_env: dict[str, str]) -> None:
    """The test's queue, declared as the producer declares it, so its depth can be read even
    when the producer never connects."""
    settings = AmqpSettings.from_url(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    connection = await amqp.connect(settings, "test")
    try:
        await amqp.declare(await connection.channel(), settings)
    finally:
        await connection.close()


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def expected_job(name: str, fingerprint: str, path: Path) -> str:
    """The README's formula: <name>-<24 hex of sha256(fingerprint NUL sha256(file))>."""
    return f"{name}-{sha256(fingerprint + chr(0) + sha256(path.read_bytes()))[:24]}"


def orders_csv(path: Path, header: str = "Order Id,Customer,Amount") -> Path:
    rows = ["1,ann,10.50", "2,bob,", "3,cy,7"]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


async def registered_rows(url: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """ingest_datasets by fingerprint (descriptor parsed) and ingest_jobs by job id."""
    conn = await asyncpg.connect(url)
    try:
        datasets = {r["fingerprint"]: {"name": r["name"], "descriptor": json.loads(r["d"])}
                    for r in await conn.fetch("SELECT fingerprint, name, descriptor::text AS d "
                                              "FROM ingest_datasets")}
        jobs = {r["job_id"]: dict(r) for r in await conn.fetch(
            "SELECT job_id, dataset, fingerprint, source, error FROM ingest_jobs")}
    finally:
        await conn.close()
    return datasets, jobs


def assert_refused(run: Run, *words: str) -> str:
    """Exit 2, one ``error:`` line holding ``words``, no traceback."""
    assert run.rc == 2, run.stderr
    assert "Traceback" not in run.stderr
    [line] = [ln for ln in run.lines if ln.startswith("error: ")]
    for word in words:
        assert word in line, line
    return line


async def test_table_without_a_dataset_file(tmp_path: Path, service_env: dict[str, str],
                                            database_url: str, tables: None) -> None:
    path = orders_csv(tmp_path / "orders.csv")
    run = produce(path, service_env, "--table", "orders")
    assert run.rc == 0, run.stderr
    assert run.summary["rows_read"] == 3
    assert run.summary["dataset"] == "orders"

    datasets, jobs = await registered_rows(database_url)
    [(fingerprint, registered)] = datasets.items()
    descriptor = registered["descriptor"]
    assert registered["name"] == "orders"
    assert [f["name"] for f in descriptor["schema"]["fields"]] == \
        ["order_id", "customer", "amount", "ordered_at", "note"]
    assert descriptor["schema"]["primaryKey"] == ["order_id"]
    assert descriptor["x-ingest"]["table"] == "orders"
    assert Dataset.from_descriptor(descriptor).fingerprint == fingerprint
    job_id = expected_job("orders", fingerprint, path)
    assert run.summary["job_id"] == job_id
    assert jobs[job_id]["fingerprint"] == fingerprint
    assert jobs[job_id]["dataset"] == "orders"
    assert jobs[job_id]["source"] == "orders.csv"
    assert jobs[job_id]["error"] is None

    [message] = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    headers = message.headers or {}
    assert headers[c.H_VERSION] == 2
    assert headers[c.H_FINGERPRINT] == fingerprint
    assert headers[c.H_JOB] == job_id
    assert headers[c.H_DATASET] == "orders"
    assert headers[c.H_COLUMNS] == ["order id", "customer", "amount"]  # as the file has them
    assert message.body == path.read_bytes().split(b"\n", 1)[1]


async def test_consumers_rebuild_the_dataset_from_the_registry(
        tmp_path: Path, service_env: dict[str, str], database_url: str, tables: None) -> None:
    path = orders_csv(tmp_path / "orders.csv")
    run = produce(path, service_env, "--table", "orders")
    assert run.rc == 0, run.stderr
    [message] = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    fingerprint = (message.headers or {})[c.H_FINGERPRINT]
    conn = await asyncpg.connect(database_url)
    try:
        rebuilt = await registry.load_descriptor(conn, fingerprint)
        assert rebuilt.fingerprint == fingerprint
        assert rebuilt == await from_table.dataset_from_table(conn, "orders")
        with pytest.raises(PoisonMessage, match="unknown dataset fingerprint"):
            await registry.load_descriptor(conn, "f" * 64)
        job = run.summary["job_id"]
        assert await registry.job_error(conn, job) is None
        assert await registry.mark_failed(conn, job, "table orders changed") is True
        assert await registry.mark_failed(conn, job, "again") is False  # the first is kept
        assert await registry.job_error(conn, job) == "table orders changed"
    finally:
        await conn.close()
    rerun = produce(path, service_env, "--table", "orders")
    assert rerun.rc == 0
    assert "this job was stopped earlier" in rerun.stderr


async def test_a_missing_required_column_is_named_and_nothing_published(
        tmp_path: Path, service_env: dict[str, str], database_url: str, tables: None,
        topology: None) -> None:
    path = orders_csv(tmp_path / "orders.csv", header="Order Id,Amount,Note")
    line = assert_refused(produce(path, service_env, "--table", "orders"), "customer")
    assert "order_id" not in line.split("(")[0], "only the missing column is named first"
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) == 0
    assert await registered_rows(database_url) == ({}, {})


async def test_several_unique_keys_need_key(tmp_path: Path, service_env: dict[str, str],
                                            database_url: str, tables: None,
                                            topology: None) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("line_id,code,qty\n1,A,2\n2,B,3\n")
    assert_refused(produce(path, service_env, "--table", "order_lines"),
                   "several unique keys", "line_id", "code", "--key")
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) == 0

    run = produce(path, service_env, "--table", "order_lines", "--key", "code")
    assert run.rc == 0, run.stderr
    datasets, _ = await registered_rows(database_url)
    [registered] = datasets.values()
    assert registered["descriptor"]["schema"]["primaryKey"] == ["code"]
    assert_refused(produce(path, service_env, "--table", "order_lines", "--key", "qty"),
                   "qty", "no unique index")


async def test_dataset_path_to_a_yaml_file(tmp_path: Path, service_env: dict[str, str],
                                           database_url: str, tables: None) -> None:
    spec_path = tmp_path / "my-orders.yaml"
    spec_path.write_text(ORDERS_YAML)
    path = orders_csv(tmp_path / "orders.csv", header="order_id,customer,amount")
    run = produce(path, service_env, "--dataset", str(spec_path))
    assert run.rc == 0, run.stderr
    assert run.summary["rows_read"] == 3
    # Registered as declared, with the table's column types for fields that name none.
    conn = await asyncpg.connect(database_url)
    try:
        table = await from_table.reflect(conn, "orders", None)
    finally:
        await conn.close()
    declared = from_table.with_column_types(from_file.load(str(spec_path)), table)[0]
    assert [f.column_type for f in declared.fields] == ["integer", "text", "numeric(10,2)"]
    datasets, jobs = await registered_rows(database_url)
    assert list(datasets) == [declared.fingerprint]
    assert run.summary["job_id"] == expected_job("orders", declared.fingerprint, path)
    assert jobs[run.summary["job_id"]]["fingerprint"] == declared.fingerprint
    [message] = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert (message.headers or {})[c.H_FINGERPRINT] == declared.fingerprint


async def test_dataset_name_from_the_datasets_dir(tmp_path: Path, service_env: dict[str, str],
                                                  tables: None) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "orders.yaml").write_text(ORDERS_YAML)
    path = orders_csv(tmp_path / "orders.csv", header="order_id,customer,amount")
    env = {**service_env, "INGEST_DATASETS_DIR": str(tmp_path / "specs")}
    assert produce(path, env, "--dataset", "orders").rc == 0
    assert_refused(produce(path, env, "--dataset", "nope"), "unknown dataset 'nope'", "orders")


@pytest.mark.parametrize(("change", "words"), [
    (("- {name: amount, type: number}", "- {name: discount, type: number}"),
     ("table orders lacks column(s) discount",)),
    (("    - {name: customer, type: string, constraints: {required: true}}\n", ""),
     ("requires column(s) customer",)),
    (("primaryKey: [order_id]", "primaryKey: [customer]"),
     ("no unique index on (customer)",)),
    (("- {name: amount, type: number}", "- {name: amount, type: boolean}"),
     ("incompatible", "amount")),
])
async def test_a_dataset_that_does_not_fit_its_table_publishes_nothing(
        tmp_path: Path, service_env: dict[str, str], database_url: str, tables: None,
        topology: None, change: tuple[str, str], words: tuple[str, ...]) -> None:
    spec_path = tmp_path / "orders.yaml"
    spec_path.write_text(ORDERS_YAML.replace(*change))
    path = orders_csv(tmp_path / "orders.csv", header="order_id,customer,amount,discount")
    assert_refused(produce(path, service_env, "--dataset", str(spec_path)), *words)
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) == 0
    assert await registered_rows(database_url) == ({}, {})


async def test_dataset_for_a_missing_table_is_refused(tmp_path: Path,
                                                      service_env: dict[str, str],
                                                      tables: None) -> None:
    spec_path = tmp_path / "orders.yaml"
    spec_path.write_text(ORDERS_YAML.replace("{table: orders}", "{table: no_such_orders}"))
    path = orders_csv(tmp_path / "orders.csv", header="order_id,customer,amount")
    assert_refused(produce(path, service_env, "--dataset", str(spec_path)), "no_such_orders")
    assert_refused(produce(path, service_env, "--table", "no_such_orders"), "no_such_orders")


async def test_registered_before_the_first_publish(tmp_path: Path, service_env: dict[str, str],
                                                   database_url: str, tables: None) -> None:
    """With the broker unreachable nothing is published, yet the job is already registered."""
    path = orders_csv(tmp_path / "orders.csv")
    env = {**service_env, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    run = produce(path, env, "--table", "orders", "--retry-budget", "1")
    assert run.rc == 1
    assert "gave up on the broker" in run.stderr
    datasets, jobs = await registered_rows(database_url)
    [fingerprint] = datasets
    assert jobs == {run.summary["job_id"]: {
        "job_id": run.summary["job_id"], "dataset": "orders", "fingerprint": fingerprint,
        "source": "orders.csv", "error": None}}


async def test_same_file_under_another_dataset_is_another_job(
        tmp_path: Path, service_env: dict[str, str], database_url: str, tables: None) -> None:
    path = write_csv(tmp_path / "c.csv", customers_rows(20))
    bundled = produce(path, service_env)  # the default dataset: customers
    assert bundled.rc == 0, bundled.stderr
    customers = from_file.load("customers", Path(__file__).parents[1] / "datasets")
    assert bundled.summary["job_id"] == expected_job("customers", customers.fingerprint, path)
    # The same name, one rule more: another fingerprint, another job (not "already done").
    text = (Path(__file__).parents[1] / "datasets" / "customers.yaml").read_text()
    stricter = tmp_path / "customers.yaml"
    stricter.write_text(text.replace("  primaryKey: [email]",
                                     '  primaryKey: [email]\n  missingValues: ["", "NA"]'))
    other = produce(path, service_env, "--dataset", str(stricter))
    reflected = produce(path, service_env, "--table", "customers")
    assert other.rc == reflected.rc == 0, other.stderr + reflected.stderr
    jobs = {bundled.summary["job_id"], other.summary["job_id"], reflected.summary["job_id"]}
    assert len(jobs) == 3
    assert all(job.startswith("customers-") for job in jobs)
    assert other.summary["status"] == reflected.summary["status"] == "ok"
    assert other.summary["batches_published"] == 1
    datasets, registered = await registered_rows(database_url)
    assert len(datasets) == 3
    assert set(registered) == jobs
    assert {job["fingerprint"] for job in registered.values()} == set(datasets)
    messages = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert {(m.headers or {})[c.H_JOB]: (m.headers or {})[c.H_FINGERPRINT]
            for m in messages} == {j: r["fingerprint"] for j, r in registered.items()}


@pytest.mark.parametrize(("args", "words"), [
    (("--key", "email"), ("--key", "--table")),
    (("--table", "orders", "--key", "a,,b"), ("--key",)),
])
def test_bad_dataset_options_are_user_errors(tmp_path: Path, service_env: dict[str, str],
                                             args: tuple[str, ...],
                                             words: tuple[str, ...]) -> None:
    path = write_csv(tmp_path / "c.csv", customers_rows(2))
    assert_refused(produce(path, service_env, *args), *words)


def test_postgres_unreachable_is_retried_then_exit_1(tmp_path: Path,
                                                     service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "c.csv", customers_rows(2))
    env = {**service_env, "DATABASE_URL": "postgresql://postgres:pg-pw-99@127.0.0.1:1/ingest"}
    run = produce(path, env, "--retry-budget", "2")
    assert run.rc == 1, run.stderr
    assert run.summary["status"] == "gave_up"
    assert run.summary["batches_published"] == 0
    assert "gave up on PostgreSQL" in run.lines[-1]
    assert any("retrying" in line for line in run.lines)
    assert "pg-pw-99" not in run.stderr + json.dumps(run.summary)


def test_wrong_database_login_is_exit_2(tmp_path: Path, service_env: dict[str, str],
                                        database_url: str) -> None:
    url = database_url.replace("postgres@", "no_such_role:pg-pw-18@", 1)
    assert url != database_url
    path = write_csv(tmp_path / "c.csv", customers_rows(2))
    run = produce(path, {**service_env, "DATABASE_URL": url})
    assert_refused(run, "refused the login", "DATABASE_URL")
    assert "pg-pw-18" not in run.stderr


@pytest.fixture
async def unmigrated_url(endpoints: Endpoints) -> AsyncIterator[str]:
    """A database of its own with the orders table but without the tool's tables."""
    name = f"ingest_unmigrated_{uuid.uuid4().hex[:8]}"
    await _execute(with_database(endpoints.database_url, "postgres"), f'CREATE DATABASE "{name}"')
    url = with_database(endpoints.database_url, name)
    await _execute(url, ORDERS)
    yield url
    await drop_database(endpoints.database_url, name)


async def test_unmigrated_database_is_exit_2(tmp_path: Path, service_env: dict[str, str],
                                             unmigrated_url: str) -> None:
    path = orders_csv(tmp_path / "orders.csv")
    env = {**service_env, "DATABASE_URL": unmigrated_url}
    assert_refused(produce(path, env, "--table", "orders"), "make migrate-db")
    migrate(unmigrated_url)  # the same database, migrated: it works
    assert produce(path, env, "--table", "orders").rc == 0


@pytest.mark.parametrize("port", ["1", "silent"])
def test_sigterm_stops_a_producer_waiting_for_postgres(
        tmp_path: Path, service_env: dict[str, str], port: str) -> None:
    """Refused (retrying) or a connection that never answers: SIGTERM ends it, exit 143."""
    path = write_csv(tmp_path / "c.csv", customers_rows(2))
    with socket.socket() as server:  # accepts connections, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        number = server.getsockname()[1] if port == "silent" else 1
        env = {**service_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{number}/x"}
        proc = start("producer", "--file", str(path), env=env)
        time.sleep(1.5)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        run = finish(proc, timeout=5)
    assert time.monotonic() - sent < 5
    assert run.rc == c.EXIT_SIGTERM, run.stderr
    assert run.summary["status"] == "interrupted"
    assert run.summary["batches_published"] == 0
    assert "Traceback" not in run.stderr
