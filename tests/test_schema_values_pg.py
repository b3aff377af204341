"""The datetime and numeric(p,s) rules against a real PostgreSQL (issue 10, F3/F7/F9): every
value the validator accepts is read by PostgreSQL, stored as the value itself would be
(``out::timestamptz = value::timestamptz``), and every value PostgreSQL reads is accepted
unless it is one of our documented refusals. So no accepted value becomes
``database_rejected``, and the reason never depends on batch size."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from libs.schema.compile import Reject
from tests.schema_helpers import one_field

pytestmark = pytest.mark.integration

TRY = """
CREATE FUNCTION pg_temp.try_tz(v text) RETURNS timestamptz LANGUAGE plpgsql AS
$$ BEGIN RETURN v::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION pg_temp.try_ts(v text) RETURNS timestamp LANGUAGE plpgsql AS
$$ BEGIN RETURN v::timestamp; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION pg_temp.try_num(v text) RETURNS numeric LANGUAGE plpgsql AS
$$ BEGIN RETURN v::numeric; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION pg_temp.try_num142(v text) RETURNS numeric LANGUAGE plpgsql AS
$$ BEGIN RETURN v::numeric(14,2); EXCEPTION WHEN others THEN RETURN NULL; END $$;
"""
ZONE = re.compile(r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$")


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await connection.execute("SET TIME ZONE 'UTC'")
    await connection.execute(TRY)
    # Year 10000 and BC instants are outside Python's datetime: compare as text.
    await connection.set_type_codec("timestamptz", encoder=str, decoder=str,
                                    schema="pg_catalog", format="text")
    await connection.set_type_codec("timestamp", encoder=str, decoder=str,
                                    schema="pg_catalog", format="text")
    try:
        yield connection
    finally:
        await connection.close()


def stamps() -> list[str]:
    days = ["2020-01-01", "2021-02-29", "2020-13-01", "0001-01-01", "9999-12-31"]
    clocks = [f"T{h}:{m}" + s for h, m, s in itertools.product(
        ["00", "23", "24", "25"], ["00", "59", "60"],
        ["", ":00", ":59", ":60", ":61", ":60.5", ":00.0000004", ":59.9999995", ":00.5"])]
    zones = ["", "Z", "+05", "+1530", "+15:59", "-15:59", "+16:00", "-16:00", "+23:59",
             "+24:00", "+14:60", "+15:99", "-15:75", "+16:60", "-00:60"]
    return [d + c + z for d, c, z in itertools.product(days, clocks, zones)] + days


def validated(field: dict[str, Any], values: list[str]) -> dict[str, str | None]:
    p = one_field(field)
    out: dict[str, str | None] = {}
    for value in values:
        result = p.validate([value])
        if isinstance(result, Reject):
            assert "could not be checked" not in result.detail, (value, result)
            out[value] = None
        else:
            out[value] = result[0]
    return out


def pg_readable_zone(value: str) -> bool:
    zone = ZONE.search(value[10:])
    if zone is None or zone.group() == "Z":
        return True
    digits = zone.group()[1:].replace(":", "")
    return int(digits[:2]) < 16 and int(digits[2:] or 0) < 60


async def test_datetime_agrees_with_postgresql(conn: asyncpg.Connection) -> None:
    values = stamps()
    ours = validated({"type": "datetime"}, values)
    rows = await conn.fetch("SELECT v, pg_temp.try_tz(v) AS theirs, pg_temp.try_tz(o) AS stored "
                            "FROM unnest($1::text[], $2::text[]) AS t(v, o)",
                            values, [ours[v] or "" for v in values])
    wrong = []
    for row in rows:
        value, theirs, stored = row["v"], row["theirs"], row["stored"]
        accepted = ours[value] is not None
        if accepted and stored is None:
            wrong.append(f"{value!r} accepted as {ours[value]!r}, which PostgreSQL refuses")
        elif accepted and theirs is not None and stored != theirs:
            wrong.append(f"{value!r} stored as {stored}, PostgreSQL reads {theirs}")
        elif not accepted and theirs is not None and pg_readable_zone(value):
            wrong.append(f"{value!r} refused, PostgreSQL reads it as {theirs}")
    assert not wrong, "\n".join(wrong[:40])


async def test_converted_offsets_are_the_same_instant(conn: asyncpg.Connection) -> None:
    """A zone of 16 h or more (PostgreSQL refuses it) is the local time minus the offset."""
    values = [v for v in stamps() if ZONE.search(v[10:]) and not pg_readable_zone(v)]
    ours = validated({"type": "datetime"}, values)
    kept = [v for v in values if ours[v] is not None]
    assert len(kept) > 100
    local = [ZONE.sub("", v) for v in kept]
    offsets = [ZONE.search(v[10:]).group().replace(":", "") for v in kept]  # type: ignore[union-attr]
    rows = await conn.fetch(
        "SELECT pg_temp.try_tz(o) AS stored, "
        "(l::timestamp - (substr(z, 1, 3) || ' hours')::interval "
        " - (substr(z, 1, 1) || coalesce(nullif(substr(z, 4, 2), ''), '0') || ' minutes')"
        "::interval)::text AS wanted "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, l, z)",
        [ours[v] for v in kept], local, offsets)
    for value, row in zip(kept, rows, strict=True):
        assert row["stored"] is not None, value
        assert row["stored"].removesuffix("+00") == row["wanted"], value


async def test_naive_column_stores_utc(conn: asyncpg.Connection) -> None:
    values = stamps()
    ours = validated({"type": "datetime", "x-ingest": {"columnType": "timestamp"}}, values)
    rows = await conn.fetch(
        "SELECT v, (pg_temp.try_tz(v) AT TIME ZONE 'UTC')::text AS theirs, "
        "pg_temp.try_ts(o)::text AS stored FROM unnest($1::text[], $2::text[]) AS t(v, o)",
        values, [ours[v] or "" for v in values])
    for row in rows:
        value = row["v"]
        if ours[value] is None:
            continue
        assert row["stored"] is not None, (value, ours[value])
        if row["theirs"] is not None:
            assert row["stored"] == row["theirs"], (value, ours[value])


def numbers() -> list[str]:
    signs = ["", "+", "-"]
    wholes = ["", "0", "5", "0000000000001", "999999999999", "1234567890123", "000"]
    fractions = ["", ".", ".5", ".25", ".250", ".125", ".00", ".0000"]
    made = [s + w + f for s, w, f in itertools.product(signs, wholes, fractions)]
    return [v for v in made if v] + ["1e3", "1E-2", "NaN", "inf", "+-1", "1_000", "\uff11",
                                     " 1 ", "1,5"]


async def test_numeric_14_2_agrees_with_postgresql(conn: asyncpg.Connection) -> None:
    """Accepted: PostgreSQL reads the value into numeric(14,2) without rounding, and stores the
    same number. Refused although PostgreSQL reads it: only an exponent or NaN (our rule)."""
    values = numbers()
    ours = validated({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, values)
    rows = await conn.fetch(
        "SELECT v, pg_temp.try_num(v) AS exact, pg_temp.try_num142(v) AS theirs, "
        "pg_temp.try_num142(o) AS stored FROM unnest($1::text[], $2::text[]) AS t(v, o)",
        values, [ours[v] or "" for v in values])
    for row in rows:
        value = row["v"].strip()
        fits = row["theirs"] is not None and row["exact"] == row["theirs"]
        if ours[row["v"]] is not None:
            assert row["stored"] is not None, row
            assert row["stored"] == row["exact"], row
        elif fits:
            assert "e" in value.lower() or value.lower() in ("nan", "inf"), row
