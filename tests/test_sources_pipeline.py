"""The producer on remote sources end to end (real RabbitMQ, PostgreSQL, Redis; moto's S3,
pyftpdlib and the Range HTTP server of tests/source_servers.py): the customers sample loads
exactly (tests/checker.py), a run killed mid-way resumes at its offset with a ranged read,
a changed object is a new job, errors are one line, and no secret reaches the output or the
job's rows."""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from libs import constants as c
from libs.sources.remote import FIRST_REQUEST
from tests.pipeline import (
    ROOT,
    Run,
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    fetch,
    finish,
    queue_depth,
    run_cli,
    start,
    wait_for,
    write_csv,
)
from tests.source_servers import (
    FTP_PASSWORD,
    S3_SECRET,
    Log,
    ftp_server,
    http_server,
    s3_client,
    s3_env,
    s3_server,
    s3_server_with_auth,
)

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "data" / "customers_sample.csv"
SIGNATURE = "Sig-4b1d9e77aa"
KINDS = ("https", "s3", "ftp")


@dataclass
class Remote:
    """A file behind a server: its URL, what the producer shows for it, the extra
    environment, the server's log, the secrets that must never be shown."""

    url: str
    display: str
    env: dict[str, str]
    log: Log
    upload: object  # Callable[[bytes], None]: replace the object
    secrets: list[str] = field(default_factory=list)

    def starts(self) -> list[int | None]:
        return self.log.starts("RETR" if self.url.startswith("ftp") else "GET")


@contextmanager
def remote(kind: str, root: Path, name: str) -> Iterator[Remote]:
    """``root/name`` behind ``kind``'s server (``https`` is plain HTTP with a signature)."""
    with ExitStack() as stack:
        if kind == "https":
            http = stack.enter_context(http_server(root))
            http.signature = SIGNATURE
            yield Remote(http.url(name, f"sig={SIGNATURE}&X-Amz-Expires=600"),
                         http.url(name) + "?***", {}, http.log, (root / name).write_bytes,
                         [SIGNATURE])
        elif kind == "ftp":
            ftp = stack.enter_context(ftp_server(root))
            yield Remote(ftp.url(name), f"ftp://loader:***@127.0.0.1:{ftp.port}/{name}", {},
                         ftp.log, (root / name).write_bytes,
                         [FTP_PASSWORD, quote(FTP_PASSWORD, safe="")])
        else:
            s3 = stack.enter_context(s3_server())
            client, bucket = s3_client(s3.endpoint), f"in-{uuid.uuid4().hex[:12]}"
            client.create_bucket(Bucket=bucket)

            def upload(data: bytes) -> None:
                client.put_object(Bucket=bucket, Key=name, Body=data)

            upload((root / name).read_bytes())
            s3.log.clear()
            yield Remote(f"s3://{bucket}/{name}", f"s3://{bucket}/{name}",
                         s3_env(s3.endpoint), s3.log, upload, [S3_SECRET])


def produce_url(url: str, env: dict[str, str], *args: str) -> Run:
    return run_cli("producer", "--file", url, "--no-progress", *args, env=env)


async def assert_no_secret(source: Remote, database_url: str, *runs: Run) -> None:
    """No secret in the runs' stderr and summaries, nor in any job row."""
    rows = await fetch(database_url, "SELECT * FROM ingest_jobs")
    shown = "".join(run.stderr + json.dumps(run.summary) for run in runs) + \
        "".join(str(dict(row)) for row in rows)
    for secret in source.secrets:
        assert secret not in shown


@pytest.mark.parametrize("kind", KINDS)
async def test_the_sample_loads_exactly_from_each_source(
        tmp_path: Path, kind: str, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    shutil.copy(SAMPLE, tmp_path / "customers.csv")
    with remote(kind, tmp_path, "customers.csv") as source:
        env = {**service_env, **source.env}
        run = produce_url(source.url, env)
        assert run.rc == 0, run.stderr[-2000:]
        assert run.summary["file"] == source.display
        consumed = consume_burst(env)
        assert consumed.rc == 0, consumed.stderr[-2000:]
        job = run.summary["job_id"]
        await assert_loaded_exactly(database_url, [SAMPLE], [job])
        [row] = await fetch(database_url, "SELECT source, source_path, source_bytes "
                                          f"FROM ingest_jobs WHERE job_id = '{job}'")
        assert (row["source"], row["source_path"], row["source_bytes"]) == (
            "customers.csv", source.display, SAMPLE.stat().st_size)
        again = produce_url(source.url, env)
        assert (again.rc, again.summary["status"]) == (0, "already_done"), again.stderr
        out = tmp_path / "rejects.csv"  # the job's file is not local: rebuilt from the batches
        rejects = run_cli("ingest", "rejects", job, "--out", str(out), env=env)
        assert rejects.rc == 0, rejects.stderr
        assert len(out.read_text().splitlines()) == 1 + 6  # header + the sample's 6 rejects
        await assert_no_secret(source, database_url, run, consumed, again, rejects)


def line_offset(data: bytes, line: int) -> int:
    """The byte where physical line ``line`` (1-based) starts (no quoted newlines here)."""
    return sum(len(text) for text in data.splitlines(keepends=True)[: line - 1])


@pytest.mark.parametrize("kind", KINDS)
async def test_a_killed_run_resumes_at_its_offset_with_a_ranged_read(
        tmp_path: Path, kind: str, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    path = write_csv(tmp_path / "big.csv", customers_rows(50_000))
    data = path.read_bytes()
    args = ("--batch-size", "20", "--parallel", "1")  # 2500 batches: seconds, many saves
    with remote(kind, tmp_path, "big.csv") as source:
        env = {**service_env, **source.env}
        # killed after 1500 confirms: the offset saved (every 0.2 s) is well past the header
        killed = produce_url(source.url, {**env, c.FAULT_ENV: "producer.after_confirm",
                                          c.FAULT_AFTER_ENV: "1500"}, *args)
        assert killed.rc == -9, killed.stderr[-2000:]
        source.log.clear()
        rerun = produce_url(source.url, env, *args)
        assert rerun.rc == 0, rerun.stderr[-2000:]
        resumed = rerun.summary["resumed_from_line"]
        assert resumed > 2
        offset = line_offset(data, resumed)
        assert offset > FIRST_REQUEST  # past what reading the header fetched
        starts = source.starts()
        assert offset in starts, starts  # the object re-opened at the saved offset
        assert all(start in (0, None) or start >= offset for start in starts), starts
        if kind != "ftp":  # the header (256 KiB) and the rest from the offset, nothing else
            assert source.log.bytes_sent <= FIRST_REQUEST + len(data) - offset, starts
        consumed = consume_burst(env)
        assert consumed.rc == 0, consumed.stderr[-2000:]
        await assert_loaded_exactly(database_url, [path], [rerun.summary["job_id"]])
        await assert_no_secret(source, database_url, killed, rerun, consumed)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_changed_object_is_a_new_job(tmp_path: Path, kind: str,
                                             service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(40))
    with remote(kind, tmp_path, "f.csv") as source:
        env = {**service_env, **source.env}
        first = produce_url(source.url, env, "--batch-size", "5")
        assert first.rc == 0, first.stderr
        source.upload(write_csv(path, customers_rows(41)).read_bytes())  # type: ignore[operator]
        second = produce_url(source.url, env, "--batch-size", "5")
        assert second.rc == 0, second.stderr
        assert second.summary["job_id"] != first.summary["job_id"]
        assert (second.summary["resumed_from_line"], second.summary["batches_published"]) \
            == (0, 9)


@pytest.mark.parametrize("kind", ["https", "s3"])
async def test_an_object_replaced_mid_run_stops_the_producer_with_exit_2(
        tmp_path: Path, kind: str, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "big.csv", customers_rows(200_000))
    with remote(kind, tmp_path, "big.csv") as source:
        env = {**service_env, **source.env}
        proc = start("producer", "--file", source.url, "--no-progress", "--batch-size", "200",
                     "--parallel", "1", env=env)
        await wait_for(lambda: _published(env), 60, "the first batch")
        source.upload(path.read_bytes().replace(b"user9", b"userX"))  # type: ignore[operator]
        run = finish(proc)
        assert run.rc == 2, run.stderr[-2000:]
        assert run.summary["status"] == "refused"
        assert "changed while it was read" in run.summary["message"]
        assert run.summary["sealed"] is False
        assert all(secret not in run.stderr + json.dumps(run.summary)
                   for secret in source.secrets)


async def _published(env: dict[str, str]) -> bool:
    try:
        return await queue_depth(env["AMQP_URL"], env["INGEST_QUEUE"]) > 0
    except Exception:  # the queue is not declared yet
        return False


@pytest.mark.parametrize(("kind", "url", "message"), [
    ("https", "missing", "not found (HTTP 404)"),
    ("https", "bad-signature", "access refused (HTTP 403)"),
    ("https", "unknown-host", "unknown host nonexistent.invalid"),
    ("ftp", "missing", "not found"),
    ("ftp", "bad-password", "refused the login"),
    ("s3", "missing", "no such object"),
])
def test_source_errors_are_one_line_and_exit_2(tmp_path: Path, kind: str, url: str,
                                               message: str,
                                               service_env: dict[str, str]) -> None:
    shutil.copy(SAMPLE, tmp_path / "customers.csv")
    with remote(kind, tmp_path, "customers.csv") as source:
        target = {
            "missing": source.url.replace("customers.csv", "nothing.csv"),
            "bad-signature": source.url.replace(SIGNATURE, "Wrong-Sig-123"),
            "unknown-host": f"https://nonexistent.invalid/x.csv?sig={SIGNATURE}",
            "bad-password": source.url.replace(quote(FTP_PASSWORD, safe=""), "Bad-Pass-456"),
        }[url]
        run = produce_url(target, {**service_env, **source.env, "PRODUCER_RETRY_BUDGET": "2"})
    assert run.rc == 2, run.stderr
    assert len(run.lines) == 1, run.stderr
    assert message in run.lines[0]
    for secret in [*source.secrets, "Wrong-Sig-123", "Bad-Pass-456"]:
        assert secret not in run.stderr


def test_refused_s3_credentials_are_one_line_and_exit_2(tmp_path: Path,
                                                        service_env: dict[str, str]) -> None:
    with s3_server_with_auth(auth_after=2) as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="locked")
        client.put_object(Bucket="locked", Key="c.csv", Body=SAMPLE.read_bytes())
        run = produce_url("s3://locked/c.csv", {**service_env, **s3_env(endpoint)})
    assert run.rc == 2, run.stderr
    assert len(run.lines) == 1, run.stderr
    assert "S3 refused access" in run.lines[0]
    assert S3_SECRET not in run.stderr


def test_an_unreachable_source_is_retried_then_exit_1(service_env: dict[str, str]) -> None:
    from tests.ports import free_ports

    run = produce_url(f"http://127.0.0.1:{free_ports()}/x.csv?sig={SIGNATURE}",
                      {**service_env, "PRODUCER_RETRY_BUDGET": "2"})
    assert run.rc == 1, run.stderr
    assert "could not read its metadata for 2 s" in run.stderr
    assert SIGNATURE not in run.stderr


async def test_a_source_failing_past_the_budget_exits_1_and_a_rerun_resumes(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    path = write_csv(tmp_path / "big.csv", customers_rows(200_000))
    with http_server(tmp_path) as http:
        url = http.url("big.csv", f"sig={SIGNATURE}")
        proc = start("producer", "--file", url, "--no-progress", "--batch-size", "200",
                     "--parallel", "1", "--retry-budget", "3", env=service_env)
        await wait_for(lambda: _published(service_env), 60, "the first batch")
        http.fail_next = 10**6  # every GET from now on: 503
        run = finish(proc)
        assert run.rc == 1, run.stderr[-2000:]
        assert run.summary["status"] == "gave_up"
        assert "gave up on the source" in run.stderr
        assert "rerun to resume" in run.summary["message"]
        http.fail_next = 0
        rerun = produce_url(url, service_env, "--batch-size", "200")
        assert rerun.rc == 0, rerun.stderr[-2000:]
        assert rerun.summary["resumed_from_line"] > 2
        consumed = consume_burst(service_env)
        assert consumed.rc == 0, consumed.stderr[-2000:]
        await assert_loaded_exactly(database_url, [path], [rerun.summary["job_id"]])
    assert SIGNATURE not in run.stderr + rerun.stderr + json.dumps(run.summary)


@pytest.mark.parametrize("kind", ["https", "s3"])
async def test_a_gzip_object_loads_exactly(tmp_path: Path, kind: str,
                                           service_env: dict[str, str], database_url: str,
                                           clean_tables: None) -> None:
    (tmp_path / "customers.csv.gz").write_bytes(gzip.compress(SAMPLE.read_bytes()))
    with remote(kind, tmp_path, "customers.csv.gz") as source:
        env = {**service_env, **source.env}
        run = produce_url(source.url, env)
        assert run.rc == 0, run.stderr[-2000:]
        consumed = consume_burst(env)
        assert consumed.rc == 0, consumed.stderr[-2000:]
        await assert_loaded_exactly(database_url, [SAMPLE], [run.summary["job_id"]])


@pytest.mark.parametrize("kind", ["https", "s3"])
async def test_a_parquet_object_loads_as_its_csv(tmp_path: Path, kind: str,
                                                 service_env: dict[str, str], database_url: str,
                                                 clean_tables: None) -> None:
    """pyarrow reads the footer, then the row groups, through the ranged stream."""
    from tests.test_parquet import assert_same_as_csv, csv_outcome, to_parquet

    csv_found = await csv_outcome(SAMPLE, service_env, database_url)
    summary, lines = to_parquet(SAMPLE, tmp_path / "customers.parquet", "--types", "typed",
                                "--row-group-rows", "10")
    with remote(kind, tmp_path, "customers.parquet") as source:
        env = {**service_env, **source.env}
        run = produce_url(source.url, env)
        assert run.rc == 0, run.stderr[-2000:]
        consumed = consume_burst(env)
        assert consumed.rc == 0, consumed.stderr[-2000:]
    await assert_same_as_csv(database_url, csv_found, lines, summary["dropped"])
