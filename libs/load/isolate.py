"""Find the records PostgreSQL refuses and keep the rest, inside the batch's transaction.

A statement over a set of records (COPY, INSERT ... SELECT, UPDATE) fails as a whole when one
record breaks a rule of the table. :func:`isolate` retries it on parts of the set, each in its
own savepoint: where the error names the failing record (COPY's context says
``COPY customers, line 3, column balance: ...``; for INSERT and UPDATE the failing row a CHECK
or NOT NULL violation shows holds the line_no), the records before it, the record alone and
the records after it; where it does not, the two halves (bisection). A part that fails and
holds one record is that record's refusal. Every retried part is strictly smaller than the
part that failed, so the attempts are bounded (at most about twice the records) and it never
loops. pgloader isolates COPY errors the same way (rows before the line are good, the line is
rejected, the rest is retried).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar

import asyncpg

from libs.db import DATA_CLASSES, DATA_CODES, Conn
from libs.load.payload import Row, row_at_line

T = TypeVar("T")
Attempt = Callable[[Sequence[T]], Awaitable[None]]
Locate = Callable[[asyncpg.PostgresError, Sequence[T]], "int | None"]

UNIQUE_VIOLATION: Final = "23505"
COPY_CONTEXT: Final = re.compile(r"COPY [^,]*, line ([0-9]+)(?:, column ([a-z_][a-z0-9_]*))?")
# "Failing row contains (v1, v2, ...)." (CHECK and NOT NULL violations): the numbers in it.
FAILING_ROW: Final = re.compile(r"Failing row contains \((.*)\)")
NUMBER: Final = re.compile(r"(?:^|, )(-?[0-9]+)(?=, |$)")


def refused(exc: BaseException) -> bool:
    """Did PostgreSQL refuse the data (rather than fail, or be unavailable)?"""
    if not isinstance(exc, asyncpg.PostgresError):
        return False
    state = str(exc.sqlstate or "")
    return state[:2] in DATA_CLASSES or state in DATA_CODES


def refused_not_key(exc: BaseException) -> bool:
    """Refused, and not a unique violation (the merge path settles those for the key)."""
    return refused(exc) and getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION


def copy_line(exc: asyncpg.PostgresError) -> int | None:
    """The payload line COPY's error context names, if any (1-based)."""
    found = COPY_CONTEXT.search(str(getattr(exc, "context", None) or ""))
    return int(found.group(1)) if found else None


def failing_row_numbers(exc: asyncpg.PostgresError) -> list[int]:
    """The integers among the values of the row a CHECK or NOT NULL violation shows, last
    first (the lineage columns end the table). A guess for finding the record: ``isolate``
    confirms it by trying the record alone."""
    found = FAILING_ROW.search(str(getattr(exc, "detail", None) or ""))
    if found is None:
        return []
    return [int(n) for n in reversed(NUMBER.findall(found.group(1)))]


def detail(exc: asyncpg.PostgresError) -> str:
    """The reject's detail: ``column: PostgreSQL's message [SQLSTATE]`` (column when known)."""
    column = getattr(exc, "column_name", None)
    if not column:
        found = COPY_CONTEXT.search(str(getattr(exc, "context", None) or ""))
        column = found.group(2) if found else None
    message = getattr(exc, "message", None) or str(exc)
    text = f"{message} [SQLSTATE {exc.sqlstate}]"
    return f"{column}: {text}" if column else text


async def isolate(conn: Conn, items: Sequence[T], attempt: Attempt[T], locate: Locate[T],
                  is_refusal: Callable[[BaseException], bool],
                  failed: asyncpg.PostgresError | None = None,
                  ) -> list[tuple[T, asyncpg.PostgresError]]:
    """Run ``attempt`` over ``items`` in savepoints until each item is done or refused alone.

    ``failed`` is the error of an attempt over all ``items`` already made (and rolled back).
    Returns the refused items with their errors, in ``items`` order. An error for which
    ``is_refusal`` is false propagates at once (the caller's transaction decides).
    """
    refusals: list[tuple[T, asyncpg.PostgresError]] = []
    pending: list[tuple[Sequence[T], asyncpg.PostgresError | None]] = [(items, failed)]
    while pending:
        part, error = pending.pop()
        if error is None:
            error = await _try(conn, part, attempt, is_refusal)
            if error is None:
                continue
        if len(part) == 1:
            refusals.append((part[0], error))
            continue
        pending.extend((piece, None) for piece in reversed(_split(part, locate(error, part))))
    return refusals


async def _try(conn: Conn, part: Sequence[T], attempt: Attempt[T],
               is_refusal: Callable[[BaseException], bool]) -> asyncpg.PostgresError | None:
    try:
        async with conn.transaction():  # a savepoint: the batch's transaction is outside
            await attempt(part)
    except asyncpg.PostgresError as exc:
        if not is_refusal(exc):
            raise
        return exc
    return None


def _split(part: Sequence[T], at: int | None) -> list[Sequence[T]]:
    """Smaller parts: before / at / after a known culprit, else the two halves."""
    if at is not None and 0 <= at < len(part):
        pieces = [part[:at], part[at:at + 1], part[at + 1:]]
    else:
        half = len(part) // 2
        pieces = [part[:half], part[half:]]
    return [piece for piece in pieces if piece]


def copy_culprit(exc: asyncpg.PostgresError, rows: Sequence[Row]) -> int | None:
    """The index of the row COPY's error names (``payload.copy_payload`` rows), if any."""
    line = copy_line(exc)
    return None if line is None else row_at_line(rows, line)


def line_culprit(exc: asyncpg.PostgresError, lines: Sequence[int]) -> int | None:
    """INSERT ... SELECT and UPDATE name no line; a failing row they show holds its line_no
    (a guess: isolate() confirms it). Without one: None, bisect."""
    where = {line: index for index, line in enumerate(lines)}
    return next((where[n] for n in failing_row_numbers(exc) if n in where), None)
