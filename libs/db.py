"""PostgreSQL access: the pool, and asyncpg errors mapped onto the project's error tree."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from libs.errors import ConfigurationError, DatabaseUnavailable, IngestError, PermanentError
from libs.settings import PostgresSettings, redact_text, redact_url

# sqlstate classes worth a retry: connection exception, transaction rollback (serialization
# failure, deadlock), insufficient resources, operator intervention (shutdown, starting up),
# system error.
TRANSIENT_CLASSES: Final = frozenset({"08", "40", "53", "57", "58"})
# Data exception and integrity violation, and program limit exceeded (e.g. an index row too
# large): the batch's content is the problem (PostgreSQL docs, Appendix A).
DATA_CLASSES: Final = frozenset({"22", "23"})
DATA_CODES: Final = frozenset({"54000"})
# Invalid authorization specification (wrong user or password, pg_hba.conf refusal).
INVALID_AUTHORIZATION: Final = "28"
INVALID_CATALOG_NAME: Final = "3D000"  # the database does not exist
UNDEFINED_OBJECTS: Final = frozenset({"42P01", "42703"})  # undefined table, undefined column
CONNECT_TIMEOUT: Final = 10.0
COMMAND_TIMEOUT: Final = 120.0
# Every session of ours: UTC, and no JIT. The load statements run once per batch against a
# temporary stage without statistics; their estimates (over 1M for an upsert batch's UPDATE
# of ingest_keys) put them above jit_above_cost and jit_optimize_above_cost, so each was
# compiled with inlining and optimization, a cost paid again every batch. Upsert of 200k
# rows: 9.68 and 8.70 s with JIT, 8.55 and 8.36 s without (issue 15).
SESSION: Final = {"timezone": "UTC", "jit": "off"}


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def translate(exc: BaseException, url: str) -> IngestError:
    """The project's error for an exception raised by asyncpg or the network."""
    text = redact_text(f"{type(exc).__name__}: {exc}", url)
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state[:2] in TRANSIENT_CLASSES:
            return DatabaseUnavailable(text)
        if state[:2] == INVALID_AUTHORIZATION:
            return ConfigurationError(
                f"PostgreSQL at {redact_url(url)} refused the login: {text}; check the user "
                "and password in DATABASE_URL / --database-url")
        if state == INVALID_CATALOG_NAME:
            return ConfigurationError(f"{text} at {redact_url(url)}: create and migrate it with "
                                      "`make migrate-db`, or fix DATABASE_URL")
        if state[:2] == "42":
            return ConfigurationError(text)
        return PermanentError(text)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        return DatabaseUnavailable(text)
    if isinstance(exc, OSError | TimeoutError | ConnectionError | EOFError):
        return DatabaseUnavailable(text)
    return PermanentError(text)


def not_migrated(exc: BaseException, url: str) -> ConfigurationError | None:
    """The error saying to run ``make migrate-db`` when ``exc`` (raised by a query on the
    tool's own tables) means the database does not exist or lacks a table or column of
    migrations/; None for any other exception."""
    if not isinstance(exc, asyncpg.PostgresError):
        return None
    state = str(getattr(exc, "sqlstate", "") or "")
    if state == INVALID_CATALOG_NAME:
        error = translate(exc, url)
        assert isinstance(error, ConfigurationError)
        return error
    if state in UNDEFINED_OBJECTS:
        return ConfigurationError(f"the database lacks the tool's tables ({exc}): "
                                  "run `make migrate-db`")
    return None


@asynccontextmanager
async def translated(url: str) -> AsyncIterator[None]:
    """Re-raise database and network exceptions as TransientError / PermanentError."""
    try:
        yield
    except IngestError:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError,
            asyncpg.exceptions.InternalClientError, EOFError) as exc:
        raise translate(exc, url) from exc


async def create_pool(settings: PostgresSettings, size: int, *, min_size: int = 1,
                      application_name: str = "csv-ingest-consumer") -> asyncpg.Pool:
    """A pool of at most ``size`` connections with UTC sessions; errors are translated.
    ``min_size`` 0 connects nothing yet (the API starts while PostgreSQL is down)."""
    async with translated(settings.url):
        pool = await asyncpg.create_pool(
            settings.url,
            min_size=min_size,
            max_size=size,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            server_settings={**SESSION, "application_name": application_name},
        )
    assert pool is not None
    return pool


async def connect(settings: PostgresSettings, application_name: str) -> asyncpg.Connection:
    """One connection with a UTC session (the producer's); errors are translated."""
    async with translated(settings.url):
        conn: asyncpg.Connection = await asyncpg.connect(
            settings.url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT,
            server_settings={**SESSION, "application_name": application_name})
    return conn


Conn = asyncpg.Connection | PoolConnectionProxy

REQUIRED_TABLES: Final = ("ingest_rejects", "ingest_batches", "ingest_jobs", "ingest_datasets",
                          "ingest_keys", "ingest_dead_letters")
JOB_COLUMNS: Final = ("fingerprint", "error", "atomic", "applied_at")


async def check_schema(pool: asyncpg.Pool) -> None:
    """Fail fast with a clear message when the database was not migrated (the tool's own
    tables and the columns issue 11 added; a dataset's table is checked before its job's
    first batch)."""
    tables = REQUIRED_TABLES
    async with translated(""), pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
        found = await conn.fetch("SELECT name FROM unnest($1::text[]) AS name "
                                 "WHERE to_regclass(quote_ident(name)) IS NOT NULL", tables)
        missing = sorted(set(tables) - {row["name"] for row in found})
        if not missing:
            columns = await conn.fetch(
                "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = "
                "'ingest_jobs'::regclass AND attname = ANY($1::text[]) AND NOT attisdropped",
                list(JOB_COLUMNS))
            missing = [f"ingest_jobs.{name}" for name in
                       sorted(set(JOB_COLUMNS) - {row["attname"] for row in columns})]
    if missing:
        raise ConfigurationError(f"the database lacks {', '.join(missing)}: "
                                 "run `make migrate-db`")


async def wait_closed(pool: asyncpg.Pool, wait_s: float) -> None:
    """Close the pool, terminating it if in-flight work does not finish in time."""
    try:
        await asyncio.wait_for(pool.close(), wait_s)
    except TimeoutError:
        pool.terminate()


