"""``producer watch FOLDER``: each complete new file published once, as its own job, against
the real broker, database and Redis; exactness by the independent checker (tests/checker.py).

Each test has its own folder, queue, Redis prefix (service_env) and clean tables; the
watchers poll every INTERVAL seconds.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiormq
import pytest
import redis

from libs import constants as c
from tests.pipeline import (
    ROOT,
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    fetch,
    queue_depth,
    start,
    wait_for,
    write_csv,
)

pytestmark = pytest.mark.integration

INTERVAL = 0.3
SAMPLE = ROOT / "data" / "customers_sample.csv"
STOP_WITHIN_S = 2.0
SKIPPED = "already loaded (its job is sealed): skipped"
ROWS = 50_000  # 2500 batches of 20, one at a time: seconds of publishing


def watch(folder: Path | str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return start("producer", "watch", str(folder), "--interval", str(INTERVAL), *args, env=env)


def _read(handle: Any) -> str:
    """What the process wrote to ``handle`` so far (pread: the shared offset stays put)."""
    chunks, offset = [], 0
    while chunk := os.pread(handle.fileno(), 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode()


def results(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """The JSON lines the watcher printed on stdout so far."""
    return [json.loads(line) for line in _read(proc.files[0]).splitlines()  # type: ignore[attr-defined]
            if line.strip()]


def logs(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """Its JSON log lines on stderr so far (a line that is no JSON is kept as its text)."""
    found = []
    for line in _read(proc.files[1]).splitlines():  # type: ignore[attr-defined]
        try:
            found.append(json.loads(line))
        except ValueError:
            found.append({"event": line})
    return found


def events(proc: subprocess.Popen[str], event: str) -> list[dict[str, Any]]:
    return [line for line in logs(proc) if line.get("event") == event]


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, float]:
    """SIGTERM (or ``signum``); the exit code and the seconds it took."""
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"watcher still running 30 s after SIGTERM:\n"
                             f"{_read(proc.files[1])[-3000:]}") from None  # type: ignore[attr-defined]
    return rc, time.monotonic() - sent


async def sealed_jobs(database_url: str) -> list[dict[str, Any]]:
    rows = await fetch(database_url, "SELECT job_id, source, records, batches, sealed_at "
                                     "FROM ingest_jobs WHERE NOT dry_run ORDER BY job_seq")
    return [dict(row) for row in rows if row["sealed_at"] is not None]


async def wait_sealed(database_url: str, n: int, proc: subprocess.Popen[str],
                      within: float = 60) -> list[dict[str, Any]]:
    async def enough() -> bool:
        assert proc.poll() is None, _read(proc.files[1])[-3000:]  # type: ignore[attr-defined]
        return len(await sealed_jobs(database_url)) >= n

    await wait_for(enough, within, f"{n} sealed jobs")
    return await sealed_jobs(database_url)


def drop(folder: Path, name: str, rows: list[str]) -> Path:
    """A complete file moved into ``folder`` in one rename (written beside it first)."""
    staging = folder.parent / "staging"
    staging.mkdir(exist_ok=True)
    path = write_csv(staging / name, rows)
    return path.rename(folder / name)


def job_of(found: list[dict[str, Any]], path: Path) -> str:
    return next(r["job_id"] for r in found if Path(r["file"]).name == path.name)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


async def test_files_dropped_while_watching_are_each_loaded_exactly(
        inbox: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    proc = watch(inbox, service_env, "--batch-size", "7")
    await asyncio.sleep(2 * INTERVAL)
    paths = [shutil.copy(SAMPLE, inbox / "sample.csv")]
    paths = [Path(p) for p in paths]
    await asyncio.sleep(INTERVAL)
    paths.append(drop(inbox, "a.csv", customers_rows(30, 0, "a.example")))
    paths.append(drop(inbox, "b.csv", customers_rows(45, 0, "b.example")))
    plain = write_csv(inbox.parent / "c.csv", customers_rows(20, 0, "c.example"))
    (inbox.parent / "c.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    (inbox.parent / "c.csv.gz").rename(inbox / "c.csv.gz")  # its format from its name
    await wait_sealed(database_url, 4, proc)
    rc, _ = stop(proc)
    assert rc == c.EXIT_OK
    found = results(proc)
    assert sorted(Path(r["file"]).name for r in found) == [
        "a.csv", "b.csv", "c.csv.gz", "sample.csv"]
    assert all(r["status"] == "ok" and r["sealed"] for r in found), found
    assert len({r["job_id"] for r in found}) == 4
    assert consume_burst(service_env).rc == 0
    jobs = [job_of(found, p) for p in paths] + [job_of(found, inbox / "c.csv.gz")]
    await assert_loaded_exactly(database_url, [*paths, plain], jobs)  # c.csv: the gz's lines


async def test_a_file_written_slowly_is_published_once_complete(
        inbox: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    proc = watch(inbox, service_env)
    await asyncio.sleep(2 * INTERVAL)
    rows = customers_rows(50)
    path = inbox / "slow.csv"
    lines = [b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n",
             *(row.encode() + b"\n" for row in rows)]
    with path.open("wb") as handle:  # 6 parts, INTERVAL * 0.6 apart: never stable meanwhile
        for k in range(6):
            handle.write(b"".join(lines[k * 9:(k + 1) * 9] if k < 5 else lines[45:]))
            handle.flush()
            await asyncio.sleep(INTERVAL * 0.6)
    jobs = await wait_sealed(database_url, 1, proc)
    await asyncio.sleep(3 * INTERVAL)
    rc, _ = stop(proc)
    assert rc == c.EXIT_OK
    assert [(j["source"], j["records"]) for j in await sealed_jobs(database_url)] == [
        ("slow.csv", 50)]
    all_jobs = await fetch(database_url, "SELECT job_id FROM ingest_jobs")
    assert [r["job_id"] for r in all_jobs] == [jobs[0]["job_id"]]  # no job of a partial file
    assert [(r["status"], r["rows_confirmed"]) for r in results(proc)] == [("ok", 50)]


async def test_temporary_names_are_ignored_until_renamed_and_pattern_filters(
        inbox: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    proc = watch(inbox, service_env, "--pattern", "*.csv")
    for name in ("x.csv.part", ".hidden.csv", "~lock.csv", "y.csv.tmp", "notes.txt"):
        write_csv(inbox / name, customers_rows(3, 0, name.strip(".~") + ".example"))
    (inbox / "sub").mkdir()
    write_csv(inbox / "sub" / "deep.csv", customers_rows(3, 0, "deep.example"))
    await asyncio.sleep(6 * INTERVAL)
    assert await fetch(database_url, "SELECT job_id FROM ingest_jobs") == []
    assert proc.poll() is None
    (inbox / "x.csv.part").rename(inbox / "x.csv")
    jobs = await wait_sealed(database_url, 1, proc)
    await asyncio.sleep(3 * INTERVAL)
    rc, _ = stop(proc)
    assert rc == c.EXIT_OK
    assert [j["source"] for j in await sealed_jobs(database_url)] == ["x.csv"]
    assert [r["file"] for r in results(proc)] == [str(inbox / "x.csv")]
    assert jobs[0]["records"] == 3


async def test_a_restart_skips_the_files_done_also_after_a_redis_flush(
        inbox: Path, service_env: dict[str, str], database_url: str, clean_tables: None,
        queue_name: str, redis_prefix: str) -> None:
    paths = [drop(inbox, "a.csv", customers_rows(20, 0, "a.example")),
             drop(inbox, "b.csv", customers_rows(20, 0, "b.example"))]
    proc = watch(inbox, service_env, "--batch-size", "5")
    await wait_sealed(database_url, 2, proc)
    assert stop(proc)[0] == c.EXIT_OK
    depth = await queue_depth(service_env["AMQP_URL"], queue_name)
    assert depth == 8
    for flush in (False, True):
        if flush:  # the offsets are gone: the database's jobs still say the files are done
            client = redis.Redis.from_url(service_env["REDIS_URL"])
            assert client.delete(*client.keys(redis_prefix + "*")) >= 2
            client.close()
        again = watch(inbox, service_env, "--batch-size", "5")

        async def skipped(proc: subprocess.Popen[str] = again) -> bool:
            return len(events(proc, SKIPPED)) >= 2

        await wait_for(skipped, 30, "both files skipped")
        await asyncio.sleep(3 * INTERVAL)
        assert stop(again)[0] == c.EXIT_OK
        assert results(again) == []
        assert len(events(again, SKIPPED)) == 2
        assert await queue_depth(service_env["AMQP_URL"], queue_name) == depth
    assert consume_burst(service_env).rc == 0
    jobs = await sealed_jobs(database_url)
    await assert_loaded_exactly(database_url, paths, [j["job_id"] for j in jobs])


async def test_two_watchers_on_one_folder_publish_each_file_once(
        inbox: Path, service_env: dict[str, str], database_url: str, clean_tables: None,
        queue_name: str) -> None:
    procs = [watch(inbox, service_env, "--batch-size", "10") for _ in range(2)]
    await asyncio.sleep(2 * INTERVAL)
    paths = [drop(inbox, f"f{k}.csv", customers_rows(100, 0, f"f{k}.example"))
             for k in range(4)]
    await wait_sealed(database_url, 4, procs[0])

    async def each_seen_by_both() -> bool:  # the one that did not publish a file skips it
        return sum(len(events(p, SKIPPED)) for p in procs) >= 4

    await wait_for(each_seen_by_both, 30, "each file skipped by the other watcher")
    await asyncio.sleep(3 * INTERVAL)
    for proc in procs:
        assert stop(proc)[0] == c.EXIT_OK
    assert sum(len(events(p, SKIPPED)) for p in procs) == 4
    found = [r for proc in procs for r in results(proc)]
    assert sorted(Path(r["file"]).name for r in found) == [p.name for p in paths], found
    assert all(r["status"] == "ok" for r in found), found
    assert sum(r["batches_published"] for r in found) == 40
    assert await queue_depth(service_env["AMQP_URL"], queue_name) == 40
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, paths, [job_of(found, p) for p in paths])


async def test_sigterm_mid_file_exits_0_and_the_next_start_resumes_it_exactly(
        inbox: Path, service_env: dict[str, str], database_url: str, clean_tables: None,
        queue_name: str) -> None:
    args = ("--batch-size", "20", "--parallel", "1")
    path = drop(inbox, "big.csv", customers_rows(ROWS))
    proc = watch(inbox, service_env, *args)

    async def publishing() -> bool:
        assert proc.poll() is None, _read(proc.files[1])[-3000:]  # type: ignore[attr-defined]
        try:
            return await queue_depth(service_env["AMQP_URL"], queue_name) >= 50
        except aiormq.exceptions.ChannelNotFoundEntity:  # not declared yet
            return False

    await wait_for(publishing, 30, "the file's first batches")
    rc, took = stop(proc)
    assert rc == c.EXIT_OK
    assert took < STOP_WITHIN_S, took
    [first] = results(proc)
    assert first["status"] == "interrupted", first
    assert first["offset_saved"], first
    assert 0 < first["rows_confirmed"] < ROWS
    assert await sealed_jobs(database_url) == []
    again = watch(inbox, service_env, *args)
    await wait_sealed(database_url, 1, again)
    assert stop(again)[0] == c.EXIT_OK
    [second] = results(again)
    assert second["status"] == "ok"
    assert second["job_id"] == first["job_id"]
    assert second["resumed_from_line"] == first["confirmed_up_to_line"] + 1
    assert first["batches_published"] + second["batches_published"] == ROWS // 20
    assert consume_burst(service_env, "--parallel", "4").rc == 0
    await assert_loaded_exactly(database_url, [path], [first["job_id"]])


async def test_done_dir_takes_sealed_files_and_a_bad_file_does_not_stop_the_watcher(
        inbox: Path, tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    done, failed = tmp_path / "done", tmp_path / "failed"
    proc = watch(inbox, service_env, "--done-dir", str(done), "--failed-dir", str(failed))
    (inbox / "bad.csv").write_text("name,email\nx,y@example.com\n")  # no required columns
    good = drop(inbox, "good.csv", customers_rows(10, 0, "good.example"))

    async def moved() -> bool:
        assert proc.poll() is None, _read(proc.files[1])[-3000:]  # type: ignore[attr-defined]
        return (done / "good.csv").exists() and (failed / "bad.csv").exists()

    await wait_for(moved, 30, "good.csv in done/, bad.csv in failed/")
    assert [j["source"] for j in await sealed_jobs(database_url)] == ["good.csv"]
    later = drop(inbox, "later.csv", customers_rows(10, 0, "later.example"))
    await wait_for(lambda: asyncio.sleep(0, (done / "later.csv").exists()), 30,
                   "later.csv in done/")
    assert stop(proc, signal.SIGINT)[0] == c.EXIT_OK  # SIGINT as SIGTERM
    assert sorted(os.listdir(inbox)) == []
    by_name = {Path(r["file"]).name: r for r in results(proc)}
    assert by_name["bad.csv"]["status"] == "refused"
    assert "header" in by_name["bad.csv"]["message"] or "column" in by_name["bad.csv"]["message"]
    assert [by_name[n]["status"] for n in ("good.csv", "later.csv")] == ["ok", "ok"]
    assert len(events(proc, "file refused: left alone until it changes")) == 1
    assert consume_burst(service_env).rc == 0
    assert not good.exists()
    assert not later.exists()
    await assert_loaded_exactly(database_url, [done / "good.csv", done / "later.csv"],
                                [by_name["good.csv"]["job_id"], by_name["later.csv"]["job_id"]])


async def test_a_refused_file_stays_and_is_not_retried_until_it_changes(
        inbox: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    proc = watch(inbox, service_env, "--done-dir", str(inbox / "done"))
    bad = inbox / "bad.csv"
    bad.write_text("name,email\nx,y@example.com\n")

    async def refused(n: int) -> bool:
        assert proc.poll() is None, _read(proc.files[1])[-3000:]  # type: ignore[attr-defined]
        return len(events(proc, "file refused: left alone until it changes")) >= n

    await wait_for(lambda: refused(1), 30, "bad.csv refused")
    await asyncio.sleep(5 * INTERVAL)
    assert len(events(proc, "file refused: left alone until it changes")) == 1
    assert bad.exists()  # a failed publish leaves the file in place
    write_csv(bad, customers_rows(5, 0, "fixed.example"))  # fixed: a new content, a new job
    await wait_sealed(database_url, 1, proc)
    await wait_for(lambda: asyncio.sleep(0, (inbox / "done" / "bad.csv").exists()), 30,
                   "the fixed file in done/")
    assert stop(proc)[0] == c.EXIT_OK
    assert [r["status"] for r in results(proc)] == ["refused", "ok"]


async def test_a_folder_that_goes_away_and_comes_back_is_watched_again(
        inbox: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    proc = watch(inbox, service_env)
    # Only once it watches: a folder missing at the start is the user's error (exit 2).
    await wait_for(lambda: asyncio.sleep(0, bool(events(proc, "watching"))), 30,
                   "the watcher started")
    await asyncio.sleep(2 * INTERVAL)
    await asyncio.to_thread(inbox.rmdir)
    await asyncio.sleep(4 * INTERVAL)
    assert proc.poll() is None
    await asyncio.to_thread(inbox.mkdir)
    drop(inbox, "back.csv", customers_rows(5, 0, "back.example"))
    await wait_sealed(database_url, 1, proc)
    assert stop(proc)[0] == c.EXIT_OK
    assert len(events(proc, "cannot list the source: trying again every interval")) == 1
    assert [r["status"] for r in results(proc)] == ["ok"]


async def test_a_watcher_killed_mid_file_leaves_it_to_the_other_which_resumes_it(
        inbox: Path, service_env: dict[str, str], database_url: str, clean_tables: None,
        queue_name: str) -> None:
    args = ("--batch-size", "20", "--parallel", "1")
    path = drop(inbox, "big.csv", customers_rows(ROWS))
    procs = [watch(inbox, service_env, *args) for _ in range(2)]

    async def one_publishing() -> bool:
        for proc in procs:
            assert proc.poll() is None, _read(proc.files[1])[-3000:]  # type: ignore[attr-defined]
        return any(events(p, "job registered") for p in procs)

    await wait_for(one_publishing, 30, "a watcher publishing the file")
    first, other = procs if events(procs[0], "job registered") else procs[::-1]
    await asyncio.sleep(0.5)
    first.kill()  # its claim goes with its connection
    first.wait()
    await wait_sealed(database_url, 1, other)
    assert stop(other)[0] == c.EXIT_OK
    [done] = results(other)
    assert done["status"] == "ok"
    assert done["resumed_from_line"] > 2, done  # from the offset the killed one saved
    assert consume_burst(service_env, "--parallel", "4").rc == 0
    await assert_loaded_exactly(database_url, [path], [done["job_id"]])
