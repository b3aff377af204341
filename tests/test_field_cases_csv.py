"""Field cases 01, 02, 03, 12, 13 and 18 (../shared/field-cases, issue 10) through the real
producer and consumer (--burst) against RabbitMQ, PostgreSQL and Redis: the stored values, the
rejects with reason and line, and the independent checker's verdict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiormq
import asyncpg
import pytest

from libs.constants import DEFAULT_BATCH_BYTES
from tests.pipeline import (
    FIELD_CASES,
    assert_loaded_exactly,
    consume_burst,
    fetch,
    produce,
    queue_depth,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CASES = FIELD_CASES


def case(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copy(CASES / name, tmp_path / name))


async def load(path: Path, env: dict[str, str], database_url: str,
               *args: str) -> tuple[dict[str, Any], dict[int, asyncpg.Record],
                                    dict[int, asyncpg.Record]]:
    """Produce and consume ``path``; (producer summary, rows by line, rejects by line),
    after the independent checker agreed with the tables."""
    produced = produce(path, env, *args)
    assert produced.rc == 0, produced.stderr
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["status"] == "ok"
    assert consumed.summary["dead_lettered"] == 0
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
    rows = await fetch(database_url, "SELECT * FROM customers")
    rejects = await fetch(database_url, "SELECT * FROM ingest_rejects")
    return (produced.summary, {r["line_no"]: r for r in rows},
            {r["line_no"]: r for r in rejects})


async def test_01_a_lone_quote_is_literal_and_touches_no_other_record(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    summary, rows, rejects = await load(case("01-lone-quote.csv", tmp_path), service_env,
                                        database_url)
    assert summary["rows_read"] == 5
    assert not rejects
    assert sorted(rows) == [2, 3, 4, 5, 6]
    assert rows[2]["city"] == 'Wilson"s Mills'
    assert rows[5]["last_name"] == 'O"Neil'
    assert (rows[3]["email"], rows[4]["email"]) == ("ben.tamm@example.org",
                                                    "cara.lind@example.org")


async def test_02_unescaped_inner_quotes_are_malformed_and_say_where(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    _, rows, rejects = await load(case("02-unescaped-inner-quotes.csv", tmp_path), service_env,
                                  database_url)
    assert sorted(rejects) == [2]
    assert rejects[2]["reason"] == "malformed_csv"
    assert rejects[2]["detail"] == (
        "field 6: closing quote at line 2, column 51 is followed by 'B' "
        "(a quote inside a quoted field must be doubled)")
    assert rejects[2]["raw"].startswith("fay.grant@example.org,")
    assert sorted(rows) == [3]
    assert rows[3]["city"] == "Boston"


async def test_03_mysql_backslash_quote_costs_only_its_own_record(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    _, rows, rejects = await load(case("03-mysql-backslash-escapes.csv", tmp_path),
                                  service_env, database_url)
    assert sorted(rows) == [2, 4, 5]
    assert rows[2]["city"] == "C:\\Users\\hal\\"
    assert sorted(rejects) == [3]
    assert rejects[3]["reason"] == "malformed_csv"
    assert rejects[3]["detail"].startswith(
        "field 3: closing quote at line 3, column 30 is followed by 'J'")


async def test_12_cr_only_line_ends_are_refused_at_once(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    run = produce(case("12-mac-cr-only.csv", tmp_path), service_env)
    assert run.rc == 2
    assert len(run.lines) == 1, run.stderr
    assert "CR-only line ends" in run.lines[0]
    assert "tr '\\r' '\\n'" in run.lines[0]
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):  # not even declared
        await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])


async def test_13_excel_trailing_comma_is_an_ignored_unnamed_column(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = case("13-excel-trailing-comma.csv", tmp_path)
    produced = produce(path, service_env)
    assert produced.rc == 0, produced.stderr
    warnings = [line for line in produced.lines if "columns without a name ignored" in line]
    assert len(warnings) == 1
    assert '"positions": [10]' in warnings[0]
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    assert (consumed.summary["dead_lettered"], consumed.summary["inserted"]) == (0, 2)
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
    rows = {r["line_no"]: r for r in await fetch(database_url, "SELECT * FROM customers")}
    assert sorted(rows) == [2, 3]
    assert (rows[2]["email"], rows[2]["balance"], rows[3]["email"]) == (
        "lu.mars@example.org", 31, "mo.ness@example.org")


def line_starts(path: Path) -> list[int]:
    """The byte offset of each line's start (index 0 = line 1), plus the file's size."""
    data = path.read_bytes()
    starts, at = [0], data.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\n", at + 1)
    if starts[-1] != len(data):
        starts.append(len(data))
    return starts


@pytest.fixture
def wide_file(tmp_path: Path) -> Path:
    """Case 18, written by its script at test time (150 MB)."""
    path = tmp_path / "wide.csv"
    subprocess.run([sys.executable, str(CASES / "18-wide-batch.py"), str(path)], check=True)
    return path


async def test_18_wide_records_make_batches_bounded_in_bytes(
        wide_file: Path, service_env: dict[str, str], database_url: str) -> None:
    path = wide_file
    assert path.stat().st_size > 128 << 20  # one message of it: over RabbitMQ's default limit
    summary, rows, rejects = await load(path, service_env, database_url)
    assert len(rows) == 1000
    assert not rejects
    assert summary["batches_total"] > 1
    assert rows[1001]["email"] == "wide999@example.org"
    starts = line_starts(path)
    batches = await fetch(database_url, "SELECT first_line, last_line, records "
                          "FROM ingest_batches ORDER BY first_line")
    assert len(batches) == summary["batches_total"]
    assert sum(b["records"] for b in batches) == 1000
    sizes = [starts[b["last_line"]] - starts[b["first_line"] - 1] for b in batches]
    assert max(sizes) <= DEFAULT_BATCH_BYTES
    assert sum(sizes) == path.stat().st_size - starts[1]  # every line after the header


def same_kinds_file(path: Path) -> Path:
    """More inputs of kinds 2 and 3: quotes in odd places, malformed and unclosed quotes."""
    header = b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n"
    lines = [
        b'a@x.io,"Smith, ""Jr""",L,,,,,,\n',        # 2 loaded: Smith, "Jr"
        b'b@x.io, "spaced",L,,,,,,\n',              # 3 loaded: the quote is not first
        b'c@x.io,trail",L,,,,,,\n',                 # 4 loaded: trail"
        b'd@x.io,"x" ,L,,,,,,\n',                   # 5 malformed: quote then a space
        b'e@x.io,"two\r\nlines",L,,,,,,\r\n',       # 6-7 loaded: CRLF inside quotes
        b'f@x.io,"multi\nline"x,L,,,,,,\n',         # 8-9 malformed on its second line
        b'g@x.io,"",L,,,,,,\n',                     # 10 loaded: empty quoted field (NULL)
        b'h@x.io,"never closed,L,,,,,,\n',          # 11-132 malformed (closed by line 132)
        *[f"r{i}@x.io,R,L,,,,,,\n".encode() for i in range(120)],   # 12-131
        b'z@x.io,"open at the end\n',               # 132: its quote closes line 11's
        b"last@x.io,L,L,,,,,,\n",
    ]
    path.write_bytes(header + b"".join(lines))
    return path


@pytest.mark.parametrize("args", [(), ("--batch-size", "7", "--batch-bytes", "300")])
async def test_more_quotes_of_the_same_kinds(tmp_path: Path, service_env: dict[str, str],
                                             database_url: str, args: tuple[str, ...]) -> None:
    path = same_kinds_file(tmp_path / "kinds.csv")
    summary, rows, rejects = await load(path, service_env, database_url, *args)
    # line 11's quote is not closed until the quote of line 132, followed by 'o': that record
    # (lines 11-132) is malformed; the bound (MAX_RECORD_LINES, 10,000) is not reached
    assert summary["rows_read"] == 7 + 1 + 1
    assert {line: r["reason"] for line, r in rejects.items()} == dict.fromkeys(
        [5, 8, 11], "malformed_csv")
    assert rejects[5]["detail"].startswith("field 2: closing quote at line 5, column 10 is "
                                           "followed by ' '")
    assert rejects[8]["detail"].startswith("field 2: closing quote at line 9, column 5 is "
                                           "followed by 'x'")
    assert rejects[11]["detail"].startswith("field 2: closing quote at line 132, column 8 is "
                                            "followed by 'o'")
    assert [rows[line]["first_name"] for line in (2, 3, 4, 6, 10)] == [
        'Smith, "Jr"', ' "spaced"', 'trail"', "two\r\nlines", None]
    assert sorted(rows)[5:] == [133]
