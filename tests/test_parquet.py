"""Parquet files through the real producer, RabbitMQ, consumers and PostgreSQL.

The answer is the CSV load of the same records: the CSV file is loaded first and checked by
the independent checker (tests/checker.py); its Parquet conversion (scripts/to_parquet.py,
which also writes the CSV line of each Parquet row) must then give the same table and the same
rejects, line for line: Parquet row r stands for CSV line ``lines[r - 1]``, and the CSV records
Parquet cannot hold (wrong field count, broken quoting) are exactly the ones the conversion
dropped.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from libs import constants as c
from tests.pipeline import (
    ROOT,
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    drain,
    execute,
    fetch,
    gendata,
    kill_twice,
    produce,
    run_cli,
    write_csv,
)
from tests.test_rejects_export import reverse_queue

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

SAMPLE = ROOT / "data" / "customers_sample.csv"
RESET = ("TRUNCATE customers, ingest_rejects, ingest_batches, ingest_jobs, ingest_keys, "
         "ingest_datasets")
VALUES = "email, first_name, last_name, phone, birth_date, city, country, signup_at, balance"
DROPPABLE = {"wrong_column_count", "malformed_csv", "invalid_encoding"}


def to_parquet(source: Path, out: Path, *args: str) -> tuple[dict[str, Any], list[int]]:
    """The conversion's summary, and the CSV line of each Parquet row."""
    lines = out.with_suffix(".lines")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "to_parquet.py"), "--in",
                          str(source), "--out", str(out), "--line-map", str(lines), *args],
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(run.stdout), [int(n) for n in lines.read_text().split()]


def load(path: Path, env: dict[str, str], *args: str) -> str:
    produced = produce(path, env, *args)
    assert produced.rc == 0, produced.stderr
    assert produced.summary["status"] == "ok", produced.summary
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr
    return str(produced.summary["job_id"])


async def outcome(database_url: str) -> tuple[dict[str, tuple[Any, ...]], dict[int, str]]:
    """(the table by email: its values and line; the rejects' reasons by line)."""
    rows = await fetch(database_url, f"SELECT {VALUES}, line_no FROM customers")
    rejects = await fetch(database_url, "SELECT line_no, reason FROM ingest_rejects")
    reasons = {r["line_no"]: r["reason"] for r in rejects}
    assert len(reasons) == len(rejects), "two rejects on one line"
    return {r["email"]: tuple(r) for r in rows}, reasons


async def csv_outcome(path: Path, env: dict[str, str],
                      database_url: str) -> tuple[dict[str, tuple[Any, ...]], dict[int, str]]:
    """The CSV file's load, checked by the independent checker; then the tables emptied."""
    job = load(path, env)
    await assert_loaded_exactly(database_url, [path], [job])
    found = await outcome(database_url)
    await execute(database_url, RESET)
    return found


async def assert_same_as_csv(database_url: str, csv_found: tuple[dict[str, Any], dict[int, str]],
                             lines: list[int], dropped: dict[str, int]) -> None:
    """The Parquet load (in the tables now) is the CSV load, row r for CSV line lines[r-1]."""
    rows, rejects = await outcome(database_url)
    csv_rows, csv_rejects = csv_found
    assert {email: (*values[:-1], lines[values[-1] - 1]) for email, values in rows.items()} \
        == csv_rows
    mapped = {lines[row - 1]: reason for row, reason in rejects.items()}
    kept = set(lines)
    assert mapped == {line: reason for line, reason in csv_rejects.items() if line in kept}
    left_out = Counter(reason for line, reason in csv_rejects.items() if line not in kept)
    assert left_out == Counter(dropped)
    assert set(left_out) <= DROPPABLE


@pytest.mark.parametrize("types", ["strings", "typed"])
async def test_the_customers_sample_as_parquet_loads_as_its_csv(
        tmp_path: Path, service_env: dict[str, str], database_url: str, types: str) -> None:
    csv_found = await csv_outcome(SAMPLE, service_env, database_url)
    path = tmp_path / "customers.parquet"
    summary, lines = to_parquet(SAMPLE, path, "--types", types)
    assert summary["rows"] == 39
    assert summary["dropped"] == {"wrong_column_count": 1}
    job = load(path, service_env)
    await assert_same_as_csv(database_url, csv_found, lines, summary["dropped"])
    assert len(csv_found[0]) == 34
    assert job.startswith("customers-")


async def test_a_typed_clean_file_as_parquet_loads_as_its_csv(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    source = gendata(tmp_path / "clean.csv", 3000, 11)
    csv_found = await csv_outcome(source, service_env, database_url)
    path = tmp_path / "clean.parquet"
    summary, lines = to_parquet(source, path, "--types", "typed", "--row-group-rows", "700")
    assert summary["typed_columns"] == ["birth_date", "signup_at", "balance"]
    schema = pq.read_schema(path)
    assert str(schema.field("balance").type) == "decimal128(14, 2)"
    assert str(schema.field("signup_at").type) == "timestamp[us, tz=UTC]"
    load(path, service_env, "--batch-size", "250")
    await assert_same_as_csv(database_url, csv_found, lines, {})


@pytest.mark.parametrize("types", ["strings", "typed"])
async def test_a_dirty_file_as_parquet_gives_the_csv_table_and_rejects(
        tmp_path: Path, service_env: dict[str, str], database_url: str, types: str) -> None:
    """Later batches first: duplicates of earlier rows are loaded, then displaced; the rejects
    export reads them back from the Parquet file."""
    source = gendata(tmp_path / "dirty.csv", 3000, 17, "--dirty")
    csv_found = await csv_outcome(source, service_env, database_url)
    assert {"invalid_encoding", "duplicate_key", "invalid_date", "invalid_number"} <= set(
        csv_found[1].values())
    path = tmp_path / "dirty.parquet"
    summary, lines = to_parquet(source, path, "--types", types, "--row-group-rows", "500")
    assert summary["binary_columns"], "no bytes that are not UTF-8: a case is not exercised"
    produced = produce(path, service_env, "--batch-size", "100")
    assert produced.rc == 0, produced.stderr
    await reverse_queue(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert consume_burst(service_env, "--parallel", "1").rc == 0
    await assert_same_as_csv(database_url, csv_found, lines, summary["dropped"])
    await assert_rejects_export(tmp_path, produced.summary["job_id"], service_env,
                                database_url, path)


async def assert_rejects_export(tmp_path: Path, job: str, env: dict[str, str],
                                database_url: str, path: Path) -> None:
    """``ingest rejects`` of a parquet job: JSONL with each record as its JSON object and its
    fields; CSV with the fields as columns; displaced duplicates read back from the file."""
    stored = {r["line_no"]: r for r in await fetch(
        database_url, "SELECT line_no, reason, raw, detail FROM ingest_rejects")}
    displaced = [line for line, r in stored.items() if r["detail"].endswith("loaded row)")]
    assert displaced, "no displaced duplicate: the case is not exercised"
    names = list(pq.read_schema(path).names)
    out = tmp_path / "rejects.jsonl"
    run = run_cli("ingest", "rejects", job, "--format", "jsonl", "--out", str(out), env=env)
    assert run.rc == 0, run.stderr
    objects = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [o["line"] for o in objects] == sorted(stored)
    table = pq.read_table(path)
    for o in objects:
        record = json.loads(o["raw"])
        assert list(record) == names
        assert record["email"] == table.column("email")[o["line"] - 1].as_py()
        assert o["reason"] == stored[o["line"]]["reason"]
        assert "rebuilt" not in o["detail"]
        assert o["fields"] == {n: "" if v is None else v if isinstance(v, str)
                               else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                               for n, v in record.items()}
    out = tmp_path / "rejects.csv"
    run = run_cli("ingest", "rejects", job, "--format", "csv", "--out", str(out), env=env)
    assert run.rc == 0, run.stderr
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert rows[0] == ["_line", "_reason", "_detail", *names]
    by_line = {o["line"]: o for o in objects}
    for row in rows[1:]:
        o = by_line[int(row[0])]
        assert row[1:3] == [o["reason"], o["detail"]]
        assert row[3:] == list(o["fields"].values())


@pytest.mark.parametrize("groups", [("--row-group-rows", "1500"), ("--one-row-group",)])
async def test_kill_9_of_the_producer_then_a_rerun_is_exact(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        groups: tuple[str, ...]) -> None:
    source = gendata(tmp_path / "clean.csv", 20_000, 23)
    csv_found = await csv_outcome(source, service_env, database_url)
    path = tmp_path / "clean.parquet"
    summary, lines = to_parquet(source, path, "--types", "typed", *groups)
    assert summary["row_groups"] == (1 if groups == ("--one-row-group",) else 14)
    args = ("--batch-size", "50", "--parallel", "4")
    # The offset is saved every 0.2 s: this run dies right after its first save, mid-file.
    kill_twice(path, service_env, 60, *args)
    rerun = produce(path, service_env, *args)
    assert rerun.rc == 0, rerun.stderr
    s = rerun.summary
    assert s["resumed_from_line"] > 1
    assert s["batches_published"] < 400
    assert (s["batches_total"], s["rows_confirmed"], s["records"]) == (400, 20_000, 20_000)
    assert s["bytes"] == path.stat().st_size
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    await assert_same_as_csv(database_url, csv_found, lines, {})
    done = await fetch(database_url, "SELECT count(*) AS n FROM ingest_batches")
    assert done[0]["n"] == 400


@pytest.mark.parametrize(("content", "args"), [
    (b"email,first_name\na@b.io,A\n", ()),  # a CSV file named .parquet
    (None, ()),  # a Parquet file cut short: no footer
    (b"email,first_name\na@b.io,A\n", ("--format", "parquet")),
])
def test_a_file_that_is_not_parquet_is_one_error_line_and_exit_2(
        tmp_path: Path, service_env: dict[str, str], content: bytes | None,
        args: tuple[str, ...]) -> None:
    path = tmp_path / ("in.csv" if args else "in.parquet")
    if content is None:
        to_parquet(SAMPLE, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    run = produce(path, service_env, *args)
    assert run.rc == 2
    assert len(run.lines) == 1, run.stderr
    assert run.lines[0].startswith("error: the file is not a readable Parquet file: ")
    assert "Traceback" not in run.stderr


async def test_a_parquet_file_is_published_as_its_rows(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    """The batch messages: row numbers as lines, the header's names, Arrow bodies."""
    source = write_csv(tmp_path / "f.csv", customers_rows(25))
    path = tmp_path / "f.parquet"
    to_parquet(source, path, "--row-group-rows", "10")
    run = produce(path, service_env, "--batch-size", "10")
    assert run.rc == 0, run.stderr
    assert (run.summary["rows_read"], run.summary["batches_total"]) == (25, 3)
    assert run.summary["confirmed_up_to_line"] == 25
    messages = sorted(await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]),
                      key=lambda m: m.headers[c.H_SEQ])  # type: ignore[index]
    assert [(m.headers[c.H_FIRST_LINE], m.headers[c.H_LAST_LINE])  # type: ignore[index]
            for m in messages] == [(1, 10), (11, 20), (21, 25)]
    assert messages[0].headers[c.H_COLUMNS][:2] == ["email", "first_name"]  # type: ignore[index]
    assert all(m.body.startswith(b"\xff\xff\xff\xff") for m in messages)
