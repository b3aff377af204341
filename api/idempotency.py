"""``Idempotency-Key``: a key -> the job it made, with the digest of the request
(``ingest_idempotency``). A retried POST with the key gets the same job; another request under
the key is refused (422); the same key while its first request is still running, 409."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from api.problems import Problem
from libs.db import Conn

KEY: Final = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no space
_GET_SQL: Final = "SELECT job_id, request FROM ingest_idempotency WHERE key = $1"
_PUT_SQL: Final = """
INSERT INTO ingest_idempotency (key, job_id, request) VALUES ($1, $2, $3)
ON CONFLICT (key) DO NOTHING
"""


def check_key(key: str | None) -> str | None:
    """The header's value, or None without one; 400 problem for a malformed one."""
    if key is not None and not KEY.match(key):
        raise Problem(400, "Idempotency-Key must be 1-255 printable ASCII characters without "
                           "spaces", "invalid-idempotency-key")
    return key


def _differs(key: str) -> Problem:
    return Problem(422, f"Idempotency-Key {key!r} was used for another request (another "
                        "file, URL or options): use a new key", "idempotency-key-reused")


async def known_job(conn: Conn, key: str, digest: str) -> str | None:
    """The job made under ``key`` by the same request, None if the key is new; 422 problem if
    the key was used for another request."""
    row = await conn.fetchrow(_GET_SQL, key)
    if row is None:
        return None
    if row["request"] != digest:
        raise _differs(key)
    return str(row["job_id"])


async def remember(conn: Conn, key: str, digest: str, job_id: str) -> str:
    """Record ``key`` -> ``job_id``; the job the key stands for (another request that
    recorded it first wins: its job if it asked the same, else 422)."""
    await conn.execute(_PUT_SQL, key, job_id, digest)
    known = await known_job(conn, key, digest)
    assert known is not None
    return known


class InFlight:
    """Keys whose first request is still being served by this process."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold ``key`` for the block; 409 problem if it is held already."""
        if key is None:
            yield
            return
        if key in self.keys:
            raise Problem(409, f"a request with Idempotency-Key {key!r} is still being served: "
                               "retry once it has answered", "idempotency-key-in-use")
        self.keys.add(key)
        try:
            yield
        finally:
            self.keys.discard(key)
