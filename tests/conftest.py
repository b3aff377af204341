"""Real services for the tests, isolated per session (database) and per test (queue, Redis keys).

Where AMQP_URL / DATABASE_URL / REDIS_URL are set, or the local defaults answer, those services
are used. Where one does not answer and a Docker engine is present, it is started with
testcontainers. Otherwise the run stops with one line saying what is missing.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

from libs import constants as c
from tests import pipeline, services
from tests.pipeline import drop_database, with_database

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_CUSTOMERS = ROOT / "tests" / "sql" / "previous_customers.sql"
EXAMPLES_SQL = ROOT / "migrations-examples" / "20261129000001_create_example_tables.sql"
TABLES = ("customers, ingest_rejects, ingest_batches, ingest_jobs, ingest_keys, ingest_datasets, "
          "ingest_dead_letters, ingest_idempotency")


@dataclass(frozen=True)
class Endpoints:
    amqp_url: str
    database_url: str  # the server; the session's own database is made from it
    redis_url: str


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1",
                                       parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return probe.returncode == 0


def _container_class(module: str, name: str) -> Any:
    """testcontainers moved its modules under ``community``; take whichever is installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library's own deprecation notices
        try:
            found = importlib.import_module(f"testcontainers.community.{module}")
        except ImportError:
            found = importlib.import_module(f"testcontainers.{module}")
    return getattr(found, name)


def _start_containers(missing: list[str], stack: ExitStack) -> dict[str, str]:
    """Start the missing services with testcontainers (only where a Docker engine runs)."""
    urls: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "postgres" in missing:
            pg = stack.enter_context(
                _container_class("postgres", "PostgresContainer")("postgres:15", driver=None))
            urls["postgres"] = pg.get_connection_url()
        if "rabbitmq" in missing:
            mq = stack.enter_context(
                _container_class("rabbitmq", "RabbitMqContainer")("rabbitmq:3.13"))
            urls["rabbitmq"] = (f"amqp://guest:guest@{mq.get_container_host_ip()}:"
                                f"{mq.get_exposed_port(5672)}/")
        if "redis" in missing:
            rd = stack.enter_context(_container_class("redis", "RedisContainer")("redis:7"))
            urls["redis"] = (f"redis://{rd.get_container_host_ip()}:"
                             f"{rd.get_exposed_port(6379)}/0")
    return urls


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    wanted = {
        "rabbitmq": (os.environ.get("AMQP_URL", c.DEFAULT_AMQP_URL), 5672),
        "postgres": (os.environ.get("DATABASE_URL", c.DEFAULT_DATABASE_URL), 5432),
        "redis": (os.environ.get("REDIS_URL", c.DEFAULT_REDIS_URL), 6379),
    }
    missing = [name for name, (url, port) in wanted.items() if not _answers(url, port)]
    with ExitStack() as stack:
        started: dict[str, str] = {}
        if missing and _docker_works():
            started = _start_containers(missing, stack)
        elif missing:
            pytest.exit(f"tests need {', '.join(missing)}, not reachable at "
                        f"{', '.join(_where(wanted[m][0]) for m in missing)} and no Docker engine "
                        "for testcontainers: run `make infra`", returncode=3)
        urls = {name: started.get(name, url) for name, (url, _) in wanted.items()}
        yield Endpoints(urls["rabbitmq"], urls["postgres"], urls["redis"])


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _dbmate() -> str:
    local = Path(sys.executable).parent / "dbmate"
    found = str(local) if local.exists() else shutil.which("dbmate")
    if found is None:
        pytest.exit("dbmate not found next to the interpreter or on PATH: run `make install`",
                    returncode=3)
    return found


def migrate(database_url: str) -> None:
    """Create and migrate a database with the project's own migrations (dbmate), then add the
    ``customers`` table as the version before issue 11 created it (tests/sql/)."""
    url = database_url + ("&" if "?" in database_url else "?") + "sslmode=disable"
    subprocess.run([_dbmate(), "--url", url, "--migrations-dir", str(ROOT / "migrations"),
                    "--no-dump-schema", "up"], check=True, capture_output=True, timeout=60)
    with ThreadPoolExecutor(1) as thread:  # callers may run inside an event loop
        thread.submit(asyncio.run,
                      pipeline.execute(database_url, PREVIOUS_CUSTOMERS.read_text())).result()


@pytest.fixture(scope="session")
def database_url(endpoints: Endpoints) -> Iterator[str]:
    """A fresh database for this test session, migrated, dropped at the end."""
    name = f"ingest_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = with_database(endpoints.database_url, name)
    migrate(url)
    yield url
    asyncio.run(drop_database(endpoints.database_url, name))


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {TABLES}")
    finally:
        await conn.close()


@pytest.fixture
def clean_tables(database_url: str) -> None:
    asyncio.run(_truncate(database_url))


@pytest.fixture
def example_tables(database_url: str, clean_tables: None) -> Iterator[str]:
    """The session database with the bundled datasets' tables of migrations-examples/ (it has
    the previous version's customers, with in-row lineage, kept by IF NOT EXISTS, but no
    user_purchase or suppliers), all three empty; user_purchase and suppliers are dropped
    afterwards."""
    up = EXAMPLES_SQL.read_text().split("-- migrate:up", 1)[1].split("-- migrate:down", 1)[0]
    asyncio.run(pipeline.execute(database_url, "DROP TABLE IF EXISTS user_purchase, suppliers",
                                 up, "TRUNCATE customers, user_purchase, suppliers"))
    yield database_url
    asyncio.run(pipeline.execute(database_url, "DROP TABLE IF EXISTS user_purchase, suppliers"))


@pytest.fixture
def queue_name(endpoints: Endpoints) -> Iterator[str]:
    """A queue (and its exchange, dead-letter exchange and queue) of this test only."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(pipeline.delete_topology(endpoints.amqp_url, name))


@pytest.fixture
def redis_prefix(endpoints: Endpoints) -> Iterator[str]:
    """A Redis key prefix of this test only; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(endpoints.redis_url)
    try:
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _reap_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test leaves a producer or consumer running; a failed test shows their stderr."""
    yield
    left = pipeline.reap()
    report = getattr(request.node, "rep_call", None)
    if left and report is not None and report.failed:
        sys.stderr.write("\n".join(left) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def service_env(endpoints: Endpoints, database_url: str, queue_name: str,
                redis_prefix: str) -> dict[str, str]:
    """The environment for the CLIs under test: this test's services, JSON logs."""
    env = {k: v for k, v in os.environ.items()
           if k not in (c.FAULT_ENV, c.FAULT_AFTER_ENV, c.FAULT_KEY_ENV)}
    env.update(AMQP_URL=endpoints.amqp_url, DATABASE_URL=database_url,
               REDIS_URL=endpoints.redis_url, INGEST_QUEUE=queue_name,
               INGEST_REDIS_PREFIX=redis_prefix, LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(autouse=True)
def services_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a chaos test (it stops and restarts services), PostgreSQL and RabbitMQ are up."""
    yield
    if request.node.get_closest_marker("chaos") is not None:
        services.ensure_postgres()
        services.ensure_rabbit()
