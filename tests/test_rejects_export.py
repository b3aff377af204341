"""``ingest rejects``: the failures dataset, exact, through the real producer and consumers.

The expectations come from the independent checker (tests/checker.py): which lines are
rejected and why, and each record's bytes as its own splitter reads them from the file. The
export is compared with them byte for byte, then its rows are fixed and loaded again as a
new job, which the checker verifies too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs import rejects
from tests.checker import (
    CSV,
    CsvDialect,
    Expected,
    assert_exact,
    check,
    decode,
    expected,
    iter_records,
    split_fields,
)
from tests.checker_rules import Invalid
from tests.format_loads import reverse_queue
from tests.pipeline import (
    FIELD_CASES,
    consume_burst,
    execute,
    finish,
    gendata,
    produce,
    run_cli,
    start,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

BOM = b"\xef\xbb\xbf"
REBUILT_SQL = ("SELECT line_no FROM ingest_rejects WHERE job_id = $1 AND detail LIKE "
               "'%(record rebuilt from the loaded row)' ORDER BY line_no")


def records(path: Path, dialect: CsvDialect = CSV) -> dict[int, bytes]:
    """Every record of ``path`` by line (the header is line 1), by the checker's splitter."""
    with path.open("rb") as handle:
        return dict(iter_records(iter(handle), dialect))


def physical_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


async def checked(database_url: str, exp: Expected, jobs: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        assert_exact(await check(conn, exp, jobs))
    finally:
        await conn.close()


async def record_source(database_url: str, job: str, path: Path | None,
                        digest_of: Path | None = None) -> None:
    """What the producer records of its file (``ingest_jobs.source_path``, ``source_digest``:
    the sha256 of ``digest_of``, else of ``path``)."""
    hashed = digest_of or path
    digest = f"'{hashlib.sha256(hashed.read_bytes()).hexdigest()}'" if hashed else "NULL"
    value = f"'{path}'" if path else "NULL"
    await execute(database_url, f"UPDATE ingest_jobs SET source_path = {value}, "
                                f"source_digest = {digest} WHERE job_id = '{job}'")


def export(job: str, fmt: str, out: Path, env: dict[str, str], *args: str) -> Path:
    run = run_cli("ingest", "rejects", job, "--format", fmt, "--out", str(out), *args, env=env)
    assert run.rc == 0, run.stderr
    assert run.summary["file"] == str(out)
    return out


def csv_rows(out: Path, exp: Expected, wanted: dict[int, bytes],
             dialect: CsvDialect = CSV) -> list[tuple[list[str], bytes]]:
    """The export's rows, checked: a header of the three names and the job's columns, then
    one row per expected reject in line order, ending with the record's exact bytes; the
    (three leading fields, record) of each."""
    with out.open("rb") as handle:
        rows = list(iter_records(iter(handle), dialect))
    header = split_fields(decode(rows[0][1], dialect), dialect)
    assert header[:3] == ["_line", "_reason", "_detail"]
    lines = sorted(line for (_, line) in exp.rejects)
    assert len(rows) - 1 == len(lines)
    found = []
    for (_, row), line in zip(rows[1:], lines, strict=True):
        record = wanted[line]
        assert row.endswith(record), (line, row, record)
        lead = split_fields(decode(row[: len(row) - len(record)], dialect), dialect)
        assert lead[3:] == [""], lead
        assert lead[:2] == [str(line), exp.rejects[(0, line)]]
        found.append((lead[:3], record))
    return found


def jsonl_rows(out: Path, exp: Expected, wanted: dict[int, bytes], names: list[str],
               dialect: CsvDialect = CSV) -> list[dict[str, Any]]:
    objects = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    lines = sorted(line for (_, line) in exp.rejects)
    assert [o["line"] for o in objects] == lines
    for o in objects:
        record = wanted[o["line"]]
        assert o["reason"] == exp.rejects[(0, o["line"])]
        try:
            text = decode(record, dialect)
        except Invalid:  # not text
            text = None
        if text is None:
            assert base64.b64decode(o["raw_base64"]) == record
            assert o["fields"] is None
            continue
        assert "raw_base64" not in o, o
        assert o["raw"].encode(dialect.encoding) == record
        try:
            fields = split_fields(text, dialect)
        except Invalid:
            fields = []
        want = dict(zip(names, fields, strict=True)) if len(fields) == len(names) else None
        assert o["fields"] == want
    return objects


async def test_dirty_file_exports_exactly_and_its_fixed_rows_load(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = gendata(tmp_path / "dirty.csv", 1200, 13, "--dirty")
    produced = produce(path, service_env, "--batch-size", "40")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    await reverse_queue(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    consumers = [start("consumer", "--burst", "--parallel", "1", env=service_env)
                 for _ in range(2)]
    for proc in consumers:
        assert (await asyncio.to_thread(finish, proc)).rc == 0
    exp = expected([path])
    await checked(database_url, exp, [job])
    reasons = set(exp.reasons())
    assert {"invalid_encoding", "malformed_csv", "wrong_column_count",
            "duplicate_key"} <= reasons
    displaced = [r["line_no"] for r in await _rebuilt(database_url, job)]
    assert displaced, "no displaced duplicate: the case is not exercised"
    await record_source(database_url, job, path)
    wanted = records(path)
    for r in await _raw_bytes(database_url, job):  # kept exactly where the text is not exact
        record = wanted[r["line_no"]]
        try:
            decode(record)
            exact = True
        except Invalid:
            exact = False
        assert (r["raw_bytes"] is None) == exact, (r["line_no"], record)
        assert r["raw_bytes"] is None or r["raw_bytes"] == record

    rows = csv_rows(export(job, "csv", tmp_path / "rejects.csv", service_env), exp, wanted)
    details = {int(lead[0]): lead[2] for lead, _ in rows}
    assert all("rebuilt" not in details[line] for line in displaced)
    names = [n.strip().lower() for n in split_fields(decode(wanted[1][3:]))]
    objects = jsonl_rows(export(job, "jsonl", tmp_path / "rejects.jsonl", service_env), exp,
                         wanted, names)
    assert any("raw_base64" in o for o in objects)

    # The export's header is the file's as it spells it (its BOM and the spaces around names
    # left out), not the columns as read; a job registered without it gives the columns.
    header = split_fields(decode((tmp_path / "rejects.csv").read_bytes().split(b"\n", 1)[0]))
    spelled = [n.strip() for n in split_fields(decode(wanted[1].removeprefix(BOM)))]
    assert header[3:] == spelled
    assert spelled != names  # the dirty header's case is exercised
    await execute(database_url, f"UPDATE ingest_jobs SET header_names = NULL "
                                f"WHERE job_id = '{job}'")
    old = export(job, "csv", tmp_path / "old.csv", service_env).read_bytes()
    assert split_fields(decode(old.split(b"\n", 1)[0]))[3:] == names
    assert produce(path, service_env, "--batch-size", "40").rc == 0  # a rerun fills it in
    again_header = export(job, "csv", tmp_path / "again.csv", service_env).read_bytes()
    assert split_fields(decode(again_header.split(b"\n", 1)[0]))[3:] == spelled

    # Fixed: the three leading columns dropped, each record repaired (a new key), loaded again.
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes((",".join(header[3:]) + "\n").encode() + b"".join(
        _repaired(record, names, line) + b"\n" for (_, record), line in
        zip(rows, sorted(line for (_, line) in exp.rejects), strict=True)))
    again = produce(fixed, service_env)
    assert again.rc == 0, again.stderr
    assert consume_burst(service_env).rc == 0
    both = expected([path, fixed])
    assert not [key for key in both.rejects if key[0] == 1]
    assert len(both.loaded) == len(exp.loaded) + len(rows)
    await checked(database_url, both, [job, again.summary["job_id"]])


def _repaired(record: bytes, names: list[str], line: int) -> bytes:
    """The record with its fields fixed: a fresh e-mail, the other checked fields emptied
    where they are wrong (decoded with replacement where it does not decode)."""
    text = record.decode("utf-8", "replace").replace("\x00", "")
    try:
        fields = split_fields(text)
    except Invalid:  # malformed: start from the names
        fields = []
    if len(fields) != len(names):
        fields = [""] * len(names)
    values = dict(zip(names, fields, strict=True))
    values["email"] = f"fixed{line}@example.net"
    for name in ("birth_date", "signup_at", "balance"):
        values[name] = ""
    return ",".join(f'"{values[n].replace(chr(34), 2 * chr(34))}"' for n in names).encode()


async def _raw_bytes(database_url: str, job: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch("SELECT line_no, raw_bytes FROM ingest_rejects "
                                     "WHERE job_id = $1 AND detail NOT LIKE '%rebuilt%'", job))
    finally:
        await conn.close()


async def _rebuilt(database_url: str, job: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(REBUILT_SQL, job))
    finally:
        await conn.close()


async def test_without_the_source_file_displaced_duplicates_say_so(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    rows = [f"u{i}@x.io,F,L,,,,,," for i in range(30)] + ["u3@x.io,Again,L,,,,,,"]
    path = tmp_path / "dups.csv"
    path.write_text("email,first_name,last_name,phone,birth_date,city,country,signup_at,"
                    "balance\n" + "\n".join(rows) + "\n")
    produced = produce(path, service_env, "--batch-size", "10")
    job = produced.summary["job_id"]
    await reverse_queue(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert consume_burst(service_env, "--parallel", "1").rc == 0
    assert [r["line_no"] for r in await _rebuilt(database_url, job)] == [32]
    await record_source(database_url, job, None, digest_of=path)
    out = export(job, "csv", tmp_path / "r.csv", service_env)
    body = out.read_bytes().split(b"\n")[1]
    assert body.startswith(b"32,duplicate_key,")
    assert b"the file's record is not available: the job records no source file" in body
    # With --source (the job's file) the record is exact again; another file is refused.
    given = export(job, "csv", tmp_path / "r2.csv", service_env, "--source", str(path))
    assert given.read_bytes().split(b"\n")[1].endswith(b",u3@x.io,Again,L,,,,,,")
    await record_source(database_url, job, path)
    exact = export(job, "csv", tmp_path / "r3.csv", service_env).read_bytes().split(b"\n")
    assert exact[1].endswith(b",u3@x.io,Again,L,,,,,,")
    assert b"rebuilt" not in exact[1]
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes() + b"\n")
    stale = export(job, "csv", tmp_path / "r4.csv", service_env, "--source", str(other))
    assert b"is not the job's file (its sha256 differs)" in stale.read_bytes()


CP1252_ROWS = [
    "0b6c1c8e-4f5a-4d2b-9a51-3f1e2d7c8b90;ACM-0001;Société Générale €;1;0;0;I",
    "6f9619ff-8b86-d011-b42d-00c04fc964ff;BOL-0002;\"Bolts; Nuts\r\nLtda\";1;1;0;I",
]


async def test_cp1252_semicolon_dataset_round_trips_byte_exact(
        tmp_path: Path, service_env: dict[str, str], example_tables: str) -> None:
    header = b"id;code;name;active;preferred;blocked;op\n"
    good = [row.encode("cp1252") for row in CP1252_ROWS]
    bad = [
        b"3d2f0a8e-1b7c-4e6d-8f9a-0c1b2d3e4f50;CAS-0003;Caf\x81 undefined;0;0;1;U",  # cp1252
        b"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d;DIS-0004;Nul\x00l;1;0;0;D",  # NUL
        b"11111111-2222-4333-8444-555555555555;EXT-0005;Too;few",  # wrong field count
        b"21111111-2222-4333-8444-555555555555;MAL-0006;\"Caf\xe9 \"Blue\" Door\";1;0;0;I",
        b"0B6C1C8E-4F5A-4D2B-9A51-3F1E2D7C8B90;DUP-0007;Dupl\xe9;1;0;0;I",  # duplicate id
        b"31111111-2222-4333-8444-555555555555;bad-code;Na\xefve;1;0;0;I",  # pattern
    ]
    path = tmp_path / "suppliers_cp1252.csv"
    path.write_bytes(header + b"\n".join(good + bad) + b"\n")
    options = ("--dataset", "suppliers", "--delimiter", ";", "--encoding", "cp1252")
    produced = produce(path, service_env, *options)
    assert produced.rc == 0, produced.stderr
    assert consume_burst(service_env).rc == 0
    dialect = CsvDialect(";", encoding="cp1252")
    exp = expected([path], dataset="suppliers", dialect=dialect)
    job = produced.summary["job_id"]
    await checked(example_tables, exp, [job])
    assert len(exp.rejects) == len(bad)
    wanted = records(path, dialect)
    out = export(job, "csv", tmp_path / "rejects.csv", service_env)
    rows = csv_rows(out, exp, wanted, dialect)
    assert [record for _, record in rows] == bad
    names = list(exp.columns)
    jsonl_rows(export(job, "jsonl", tmp_path / "r.jsonl", service_env), exp, wanted, names,
               dialect)
    conn = await asyncpg.connect(example_tables)
    try:  # what the HTTP API labels the download with
        assert [await rejects.charset(conn, job, f) for f in ("csv", "jsonl")] == [
            "windows-1252", "utf-8"]
    finally:
        await conn.close()

    # Fixed in place (the three leading columns dropped), loaded under the same options.
    fixes = {b"\x81": b"\xe9", b"\x00": b"", b"Too;few": b"Too;1;0;0;I",
             b"\"Caf\xe9 \"Blue\" Door\"": b"\"Caf\xe9 \"\"Blue\"\" Door\"",
             b"0B6C1C8E-4F5A-4D2B-9A51-3F1E2D7C8B90": b"41111111-2222-4333-8444-555555555555",
             b"bad-code": b"BAD-0008"}
    lines = out.read_bytes().split(b"\n")
    assert lines[0].split(b";", 3)[3] + b"\n" == header
    fixed_records = []
    for (lead, record) in rows:
        for wrong, right in fixes.items():
            record = record.replace(wrong, right)
        fixed_records.append(record)
        assert lead[0].isdigit()
    fixed = tmp_path / "fixed_cp1252.csv"
    fixed.write_bytes(header + b"\n".join(fixed_records) + b"\n")
    again = produce(fixed, service_env, *options)
    assert again.rc == 0, again.stderr
    assert consume_burst(service_env).rc == 0
    both = expected([path, fixed], dataset="suppliers", dialect=dialect)
    assert not [key for key in both.rejects if key[0] == 1]
    await checked(example_tables, both, [job, again.summary["job_id"]])


FIELD_CASE_FILES = sorted(p.name for p in FIELD_CASES.glob("*.csv"))


@pytest.mark.parametrize("name", FIELD_CASE_FILES)
async def test_field_cases_round_trip_byte_exact(
        name: str, tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = Path(shutil.copy(FIELD_CASES / name, tmp_path / name))
    produced = produce(path, service_env)
    if produced.rc != 0:  # refused before publishing (12: CR-only line ends): no job
        assert produced.rc == 2
        return
    assert consume_burst(service_env).rc == 0
    exp = expected([path])
    job = produced.summary["job_id"]
    await checked(database_url, exp, [job])
    await record_source(database_url, job, path)
    wanted = records(path)
    rows = csv_rows(export(job, "csv", tmp_path / "r.csv", service_env), exp, wanted)
    assert len(rows) == len(exp.rejects)
    names = [n.strip().lower() for n in split_fields(decode(wanted[1].removeprefix(
        b"\xef\xbb\xbf")))]
    jsonl_rows(export(job, "jsonl", tmp_path / "r.jsonl", service_env), exp, wanted, names)


def test_unknown_job_and_existing_out_are_user_errors(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    run = run_cli("ingest", "rejects", "no-such-job", env=service_env)
    assert run.rc == 2
    assert run.stderr.strip() == "error: no job no-such-job in ingest_jobs"
    out = tmp_path / "exists.csv"
    out.write_text("keep")
    run = run_cli("ingest", "rejects", "no-such-job", "--out", str(out), env=service_env)
    assert run.rc == 2
    assert "exists: pass --force" in run.stderr
    assert out.read_text() == "keep"
    run = run_cli("ingest", "rejects", "no-such-job", "--out", str(out), "--force",
                  env=service_env)
    assert run.rc == 2
    assert out.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["exists.csv"]  # no temporary left


async def test_aligned_export_is_an_aligned_file_with_three_leading_columns(
        tmp_path: Path, service_env: dict[str, str], example_tables: str) -> None:
    path = Path(shutil.copy(Path(__file__).parents[1] / "data" / "user_purchase_sample.txt",
                            tmp_path / "up.txt"))
    produced = produce(path, service_env, "--dataset", "user_purchase")
    assert produced.rc == 0, produced.stderr
    assert consume_burst(service_env).rc == 0
    exp = expected([path], dataset="user_purchase")
    job = produced.summary["job_id"]
    await checked(example_tables, exp, [job])
    assert exp.rejects
    lines = physical_lines(path)
    out = export(job, "csv", tmp_path / "r.txt", service_env).read_text("utf-8")
    head, *rows = out.removesuffix("\n").split("\n")
    width = head.index(lines[0].decode().split()[0])  # where the original header starts
    assert head[:width].split() == ["_line", "_reason", "_detail"]
    assert head[width:].encode() == lines[0].rstrip(b" ")
    wanted = sorted(line for (_, line) in exp.rejects)
    assert [int(row[:width].split()[0]) for row in rows] == wanted
    for row, line in zip(rows, wanted, strict=True):
        assert row[:width].split()[1] == exp.rejects[(0, line)]
        assert row[width:].encode() == lines[line - 1]  # the line exactly, cut at N chars
    objects = [json.loads(x) for x in
               export(job, "jsonl", tmp_path / "r.jsonl", service_env).read_text().splitlines()]
    assert [o["line"] for o in objects] == wanted
    assert all(o["fields"]["CPF"] == o["raw"].split()[0] for o in objects)  # header names


def test_stdout_is_the_default(service_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes(b"email,first_name,last_name,phone,birth_date,city,country,signup_at,"
                     b"balance\nnot-an-email,A,B,,,,,,\n")
    job = produce(path, service_env).summary["job_id"]
    assert consume_burst(service_env).rc == 0
    proc = subprocess.run([sys.executable, "-m", "ingest", "rejects", job], env=service_env,
                          capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(b"\n")[1].endswith(b",not-an-email,A,B,,,,,,")
    assert proc.stdout.startswith(b"_line,_reason,_detail,email,first_name,")


async def test_an_atomic_jobs_apply_rejects_are_read_from_the_source(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    """An atomic job's duplicates across batches are rejected by the apply, from the staged
    rows: the export reads their records from the job's file."""
    rows = [f"a{i}@x.io,F{i},L,,,,,," for i in range(20)] + ["  A4@X.IO ,Again,L,,,,,,"]
    path = tmp_path / "atomic.csv"
    path.write_text("email,first_name,last_name,phone,birth_date,city,country,signup_at,"
                    "balance\n" + "\n".join(rows) + "\n")
    produced = produce(path, service_env, "--batch-size", "5", "--atomic")
    assert produced.rc == 0, produced.stderr
    assert consume_burst(service_env).rc == 0
    job = produced.summary["job_id"]
    exp = expected([path])
    await checked(database_url, exp, [job])
    staged = await _fetch_one(database_url, job)
    assert staged["detail"].endswith("(record rebuilt from the staged row)")
    await record_source(database_url, job, path)
    out = export(job, "csv", tmp_path / "r.csv", service_env)
    rows_out = csv_rows(out, exp, records(path))
    assert rows_out[0][1] == b"  A4@X.IO ,Again,L,,,,,,"
    assert "rebuilt" not in rows_out[0][0][2]


async def _fetch_one(database_url: str, job: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchrow("SELECT * FROM ingest_rejects WHERE job_id = $1", job)
    finally:
        await conn.close()
