"""The COPY payload writer: every value read back identical by a real CSV COPY."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.load.payload import copy_payload, csv_line, row_at_line

pytestmark = pytest.mark.integration

ALPHABET = [",", '"', "\r", "\n", "\r\n", "\\", "\\.", ".", " ", "a", "Z", "é", "字", "''", "\t"]


def random_value(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))


async def copy_back(database_url: str, rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """COPY ``rows`` into a temporary table of text columns and read them back in order."""
    width = len(rows[0])
    conn = await asyncpg.connect(database_url)
    try:
        columns = ", ".join(f"c{i} text" for i in range(width))
        await conn.execute(f"CREATE TEMP TABLE t (n serial, {columns})")

        async def source() -> AsyncIterator[bytes]:
            yield copy_payload(rows)

        await conn.copy_to_table("t", source=source(), columns=[f"c{i}" for i in range(width)],
                                 format="csv")
        found = await conn.fetch(f"SELECT {', '.join(f'c{i}' for i in range(width))} "
                                 "FROM t ORDER BY n")
    finally:
        await conn.close()
    return [tuple("" if v is None else v for v in rec) for rec in found]


async def test_random_values_round_trip_through_copy(database_url: str) -> None:
    rng = random.Random(10)
    rows = [tuple(random_value(rng) for _ in range(5)) for _ in range(3000)]
    assert await copy_back(database_url, rows) == rows


@pytest.mark.parametrize("value", ["\\.", "\\.\r", "\\.\n", "a\n\\.\nb", "\\", "\r", "x\ry"])
async def test_end_of_data_marker_and_lone_cr_in_a_single_column(database_url: str,
                                                                  value: str) -> None:
    rows = [("before",), (value,), ("after",)]
    assert await copy_back(database_url, rows) == rows


async def test_empty_value_is_null_and_plain_batch_is_plain_csv(database_url: str) -> None:
    rows = [("a", "", "c"), ("", "", "")]
    assert copy_payload(rows) == b"a,,c\n,,\n"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TEMP TABLE t (a text, b text, c text)")

        async def source() -> AsyncIterator[bytes]:
            yield copy_payload(rows)

        await conn.copy_to_table("t", source=source(), format="csv")
        assert await conn.fetchval("SELECT count(*) FROM t WHERE b IS NULL") == 2
    finally:
        await conn.close()


@pytest.mark.unit
def test_quoting_rule() -> None:
    assert csv_line(("a", "b,c", 'd"e', "f\rg", "h\\.", "")) == \
        'a,"b,c","d""e","f\rg","h\\.",'
    assert copy_payload([("a,b", "c")]) == b'"a,b",c\n'


@pytest.mark.unit
def test_row_at_line_counts_physical_lines() -> None:
    rows = [("a", "b"), ("multi\nline\nvalue", "x"), ("c", "d")]
    assert [row_at_line(rows, line) for line in range(0, 7)] == [None, 0, 1, 1, 1, 2, None]


@pytest.mark.unit
def test_the_plain_hint_never_changes_the_payload() -> None:
    rng = random.Random(4)
    for _ in range(300):
        rows = [tuple(random_value(rng) if rng.random() < 0.2 else "ab"
                      for _ in range(3)) for _ in range(rng.randint(1, 5))]
        assert copy_payload(rows, maybe_plain=True) == copy_payload(rows, maybe_plain=False)
