"""``producer --dry-run``: the rejects (line, reason) a real load through producer and consumer
gives, found in-process with RabbitMQ and Redis out of reach; no table of the user's changed;
the report file; the dry run's job; user errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline import (
    FIELD_CASES,
    ROOT,
    Run,
    consume_burst,
    customers_rows,
    execute,
    fetch,
    gendata,
    produce,
    write_csv,
)
from tests.test_field_cases_csv import same_kinds_file

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

NOWHERE = {"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/", "REDIS_URL": "redis://127.0.0.1:1/0"}
EXAMPLES = (ROOT / "migrations-examples" / "20261129000001_create_example_tables.sql")
TABLES = ("customers", "suppliers", "user_purchase")
CHECKSUM = "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} t"


@pytest.fixture
async def example_tables(database_url: str) -> None:
    """The bundled datasets' tables (customers is the tool's own, with lineage columns; the
    other two keep lineage in ingest_keys), empty."""
    up = EXAMPLES.read_text().split("-- migrate:up", 1)[1].split("-- migrate:down", 1)[0]
    await execute(database_url, up, "TRUNCATE suppliers, user_purchase")


def dry_run(path: Path, env: dict[str, str], report: Path, *args: str) -> Run:
    run = produce(path, {**env, **NOWHERE}, "--dry-run", "--rejects-out", str(report),
                  "--retry-budget", "3", *args)
    assert run.rc == 0, run.stderr
    assert run.summary["dry_run"] is True
    assert run.summary["status"] == "ok"
    return run


def report_rows(report: Path) -> list[list[str]]:
    with report.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def reported(report: Path) -> dict[int, str]:
    return {int(row[0]): row[1] for row in report_rows(report)[1:]}


async def rejects_of(database_url: str, job_id: str) -> dict[int, str]:
    rows = await fetch(database_url, "SELECT line_no, reason FROM ingest_rejects "
                                     f"WHERE job_id = '{job_id}'")
    return {r["line_no"]: r["reason"] for r in rows}


async def checksums(database_url: str) -> dict[str, Any]:
    sums = {t: (await fetch(database_url, CHECKSUM.format(t)))[0][0] for t in TABLES}
    sums["ingest_keys"] = (await fetch(database_url, CHECKSUM.format("ingest_keys")))[0][0]
    sums["ingest_batches"] = (await fetch(database_url, "SELECT count(*) FROM ingest_batches"))
    return sums


async def real_load(path: Path, env: dict[str, str], database_url: str,
                    *args: str) -> tuple[str, dict[int, str]]:
    produced = produce(path, env, *args)
    assert produced.rc == 0, produced.stderr
    assert produced.summary["status"] == "ok"  # a dry run before it blocks nothing
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["dead_lettered"] == 0
    job = produced.summary["job_id"]
    return job, await rejects_of(database_url, job)


def dirty_file(tmp_path: Path) -> Path:
    return gendata(tmp_path / "dirty.csv", 3000, 7, "--dirty")


def field_case(name: str) -> Any:
    return lambda tmp_path: Path(shutil.copy(FIELD_CASES / name, tmp_path / name))


FILES = {
    "customers-sample": (lambda tmp_path: ROOT / "data" / "customers_sample.csv", "customers"),
    "suppliers-sample": (lambda tmp_path: ROOT / "data" / "suppliers_sample.csv", "suppliers"),
    "user-purchase-sample": (lambda tmp_path: ROOT / "data" / "user_purchase_sample.txt",
                             "user_purchase"),
    **{name[:2]: (field_case(name), "customers") for name in (
        "01-lone-quote.csv", "02-unescaped-inner-quotes.csv", "03-mysql-backslash-escapes.csv",
        "05-unicode-digits.csv", "08-fraction-digits.csv", "13-excel-trailing-comma.csv",
        "20-email-normalization.csv")},
    "same-kinds": (lambda tmp_path: same_kinds_file(tmp_path / "kinds.csv"), "customers"),
    "dirty": (dirty_file, "customers"),
}


@pytest.mark.usefixtures("example_tables")
@pytest.mark.parametrize("name", list(FILES))
async def test_the_dry_run_rejects_what_a_real_load_rejects(
        name: str, tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    make, dataset = FILES[name]
    path = make(tmp_path)
    args = ("--dataset", dataset, "--batch-size", "97")  # duplicates across batches too
    before = await checksums(database_url)
    report = tmp_path / "rejects.csv"
    dry = dry_run(path, service_env, report, *args)
    assert await checksums(database_url) == before, "the dry run changed a table"
    found = reported(report)
    assert await rejects_of(database_url, dry.summary["job_id"]) == found
    assert dry.summary["rejected"] == len(found)
    assert dry.summary["loadable"] == dry.summary["records"] - len(found)

    job, loaded = await real_load(path, service_env, database_url, *args)
    assert job == dry.summary["real_job_id"] != dry.summary["job_id"]
    assert found == loaded
    if name == "dirty":
        assert {"duplicate_key", "malformed_csv", "invalid_encoding",
                "wrong_column_count"} <= set(found.values())

    # After the load, a dry run of the same file reports that load's own rejects: its rows
    # are this file's (a rerun would change nothing), not duplicates.
    before = await checksums(database_url)
    again = dry_run(path, service_env, tmp_path / "again.csv", *args)
    assert await checksums(database_url) == before, "the dry run changed a table"
    assert reported(tmp_path / "again.csv") == found
    assert again.summary["job_id"] == dry.summary["job_id"]
    assert await rejects_of(database_url, dry.summary["job_id"]) == found  # replaced, not added


async def test_keys_already_in_the_table_are_duplicates_as_a_load_finds_them(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    first = write_csv(tmp_path / "first.csv", customers_rows(30))
    await real_load(first, service_env, database_url)
    await execute(database_url, "INSERT INTO customers (email) VALUES ('user45@example.com')")
    second = write_csv(tmp_path / "second.csv", customers_rows(30, start=20))  # 20-49
    before = await checksums(database_url)
    report = tmp_path / "rejects.csv"
    dry = dry_run(second, service_env, report)
    assert await checksums(database_url) == before
    assert dry.summary["table_checked"] is True
    rows = report_rows(report)
    assert {int(r[0]): r[1] for r in rows[1:]} == dict.fromkeys([*range(2, 12), 27],
                                                                 "duplicate_key")
    assert rows[1][2].startswith("key already loaded from job customers-")
    assert rows[-1][2] == "key already in the table, not loaded by this tool"
    _, loaded = await real_load(second, service_env, database_url)
    assert loaded == reported(report)


async def test_the_report_keeps_each_records_fields_as_read(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    header = "email,First Name,last_name,phone,birth_date,city,country,signup_at,balance"
    path = write_csv(tmp_path / "f.csv", [
        "a@x.io,A,L,,,,,,",
        "b@x.io,B,L,,,,,",  # 8 fields
        'c@x.io,"C, ""the"" third",L,,,,,,,extra',  # 10 fields
        'd@x.io,"broken" quote,L,,,,,,',
        "a@x.io,again,L,,,,,,",
        "bad-email,E,L,,,,,,",
    ], header=header)
    (tmp_path / "f.csv").write_bytes(path.read_bytes() + b"e@x.io,\xff,L,,,,,,\n")
    report = tmp_path / "rejects.csv"
    dry_run(path, service_env, report)
    assert report_rows(report) == [
        ["_line", "_reason", "_detail", *header.lower().split(",")],
        ["3", "wrong_column_count", "expected 9 fields, found 8", "b@x.io", "B", "L", "", "", "",
         "", ""],
        ["4", "wrong_column_count", "expected 9 fields, found 10", "c@x.io",
         'C, "the" third', "L", "", "", "", "", "", "", "extra"],
        ["5", "malformed_csv", "field 2: closing quote at line 5, column 15 is followed by ' ' "
         "(a quote inside a quoted field must be doubled)", 'd@x.io,"broken" quote,L,,,,,,'],
        ["6", "duplicate_key", "email a@x.io already on line 2", "a@x.io", "again", "L", "",
         "", "", "", "", ""],
        ["7", "invalid_email", "email: 'bad-email' has 0 '@' (exactly one is needed)",
         "bad-email", "E", "L", "", "", "", "", "", ""],
        ["8", "invalid_encoding", "byte 0xff at offset 7 is not UTF-8", "e@x.io,\ufffd,L,,,,,,"],
    ]


async def test_without_postgresql_a_dataset_file_still_validates(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = ROOT / "data" / "customers_sample.csv"
    env = {**service_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    report = tmp_path / "rejects.csv"
    run = dry_run(path, env, report, "--retry-budget", "1")
    s = run.summary
    assert (s["database_available"], s["table_checked"], s["sealed"]) == (False, False, False)
    assert (s["records"], s["loadable"], s["rejected"]) == (40, 34, 6)
    assert sorted(reported(report).values()) == sorted(
        ["wrong_column_count", "invalid_email", "invalid_date", "invalid_timestamp",
         "invalid_number", "duplicate_key"])
    assert "PostgreSQL unreachable" in run.stderr


async def test_the_dry_run_job_is_marked_and_sealed(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = gendata(tmp_path / "f.csv", 500, 3, "--dirty")
    run = dry_run(path, service_env, tmp_path / "r.csv", "--batch-size", "50")
    rows = await fetch(database_url, "SELECT job_id, dry_run, records, batches, bytes, sealed_at "
                                     "FROM ingest_jobs")
    assert len(rows) == 1
    job = rows[0]
    assert (job["job_id"], job["dry_run"], job["records"], job["batches"], job["bytes"]) == (
        run.summary["job_id"], True, run.summary["records"], run.summary["batches"],
        path.stat().st_size)
    assert job["sealed_at"] is not None
    assert run.summary["batches"] == -(-run.summary["records"] // 50)


@pytest.mark.parametrize(("args", "message"), [
    (("--rejects-out", "r.csv"), "--rejects-out names the dry run's report"),
    (("--dry-run", "--rejects-out", "/nonexistent/dir/r.csv"),
     "cannot write the rejects report /nonexistent/dir/r.csv"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, service_env: dict[str, str],
                                             args: tuple[str, ...], message: str) -> None:
    run = produce(write_csv(tmp_path / "f.csv", customers_rows(3)), {**service_env, **NOWHERE},
                  *args)
    assert run.rc == 2, run.stderr
    errors = [line for line in run.lines if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    assert message in errors[0]
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("mode", ["upsert", "merge"])
async def test_upsert_and_merge_dry_runs_reject_what_their_loads_reject(
        mode: str, tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """A public report: the dry run applied insert's duplicate rule in every mode and never
    checked merge's operation codes. Upsert and merge supersede duplicates; merge rejects an
    unknown operation not_in_enum (the table's op column has no rule of its own here)."""
    await execute(database_url, "DROP TABLE IF EXISTS ops_t",
                  "CREATE TABLE ops_t (k integer PRIMARY KEY, v text, op text)")
    path = tmp_path / "ops.csv"
    path.write_text("k,v,op\n1,a,I\n2,b,I\n1,c,U\n3,d,D\n2,e,d\n4,f,X\n5,g,I\n1,h,D\n")
    args = ("--table", "ops_t", "--mode", mode, "--batch-size", "3")
    try:
        dry = dry_run(path, service_env, tmp_path / "rejects.csv", *args)
        found = reported(tmp_path / "rejects.csv")
        job, loaded = await real_load(path, service_env, database_url, *args)
    finally:
        await execute(database_url, "DROP TABLE IF EXISTS ops_t")
    assert job == dry.summary["real_job_id"]
    assert found == loaded
    assert found == ({6: "not_in_enum", 7: "not_in_enum"} if mode == "merge" else {})
