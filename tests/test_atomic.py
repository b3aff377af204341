"""Issue 12, second round: atomic jobs, replace and error thresholds, through the real producer
and consumers, against the oracle (tests/oracle.py): an atomic job leaves what its streaming
job leaves; replace leaves exactly the job's accepted rows; a threshold crossed skips the
later batches of a streaming job and applies nothing of an atomic one; a crash between the
last batch and the apply is healed by the scan; readers see the old or the new table only."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs import constants as c
from libs.load.stage import stage_name
from libs.schema import from_file
from producer.app import job_id_for
from tests import oracle
from tests.pipeline import (
    ROOT,
    consume_burst,
    execute,
    fetch,
    finish,
    produce,
    purge,
    start,
    write_csv,
)
from tests.test_load_modes import (
    HEADER,
    consume,
    fresh,  # noqa: F401 (fixture)
    job_counts,
    suppliers_file,
    table,
    wanted,
)

pytestmark = pytest.mark.integration
MODES = ("insert", "upsert", "merge")


def produce_job(env: dict[str, str], path: Path, mode: str, *args: str) -> str:
    run = produce(path, env, "--dataset", "suppliers", "--mode", mode, "--batch-size", "7",
                  *args)
    assert run.rc == 0, run.stderr
    assert run.summary["sealed"] is True
    return str(run.summary["job_id"])


async def job_row(url: str, job: str) -> dict[str, Any]:
    (row,) = await fetch(url, "SELECT atomic, applied_at, error, max_errors, max_error_ratio "
                              f"FROM ingest_jobs WHERE job_id = '{job}'")
    return dict(row)


async def stage_exists(url: str, job: str) -> bool:
    (row,) = await fetch(url, f"SELECT to_regclass('ingest_stage.{stage_name(job)}') AS t")
    return row["t"] is not None


async def pending(url: str, job: str) -> int:
    (row,) = await fetch(url, "SELECT coalesce(sum(pending), 0)::int AS n FROM ingest_batches "
                              f"WHERE job_id = '{job}'")
    return int(row["n"])


@pytest.mark.parametrize("consumers", [1, 3])
@pytest.mark.parametrize("mode", MODES)
async def test_an_atomic_job_leaves_what_its_streaming_job_leaves(
        tmp_path: Path, fresh: str, service_env: dict[str, str], mode: str,  # noqa: F811
        consumers: int) -> None:
    path = suppliers_file(tmp_path / "s.csv", seed=7)
    job = produce_job(service_env, path, mode, "--atomic")
    assert await stage_exists(fresh, job)
    consume(service_env, consumers)
    expected = oracle.final([path], "suppliers", mode)
    assert await table(fresh) == wanted(expected)
    assert await job_counts(fresh, job) == +expected.counts[0]
    row = await job_row(fresh, job)
    assert row["atomic"] is True
    assert row["applied_at"] is not None
    assert row["error"] is None
    assert not await stage_exists(fresh, job)
    assert await pending(fresh, job) == 0


async def test_nothing_is_visible_before_the_apply(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    """Every batch staged, the job not sealed (the producer died before its seal): the target
    is empty and the records are pending; the rerun seals, a consumer applies."""
    path = suppliers_file(tmp_path / "s.csv", seed=8)
    env = {**service_env, c.FAULT_ENV: "producer.before_seal"}
    killed = produce(path, env, "--dataset", "suppliers", "--mode", "upsert", "--atomic",
                     "--batch-size", "7")
    assert killed.rc == -9
    consume(service_env)
    job = job_id_for_file(path, "upsert", atomic=True)
    assert await table(fresh) == {}
    assert await pending(fresh, job) == 60 - await rejected(fresh, job)
    assert (await job_row(fresh, job))["applied_at"] is None
    assert produce_job(service_env, path, "upsert", "--atomic") == job  # seals, seal message
    consume(service_env)
    assert await table(fresh) == wanted(oracle.final([path], "suppliers", "upsert"))


def job_id_for_file(path: Path, mode: str, **options: Any) -> str:
    spec = from_file.load("suppliers", ROOT / "datasets")
    return job_id_for(spec.name, spec.fingerprint, hashlib.sha256(path.read_bytes()).hexdigest(),
                      mode, **options)


async def rejected(url: str, job: str) -> int:
    (row,) = await fetch(url, "SELECT count(*)::int AS n FROM ingest_rejects "
                              f"WHERE job_id = '{job}'")
    return int(row["n"])


OLD_ROWS = [  # keys 1 and 2 are in every suppliers_file pool; 99 never is
    ("00000001-0000-4000-8000-000000000001", "OLD-0001", "Old one"),
    ("00000002-0000-4000-8000-000000000002", "OLD-0002", "Old two"),
    ("00000099-0000-4000-8000-000000000099", "OLD-0099", "Old ninety-nine"),
]


async def seed_old_rows(url: str) -> None:
    values = ", ".join(f"('{k}', '{code}', '{name}', true, false, false, 'I')"
                       for k, code, name in OLD_ROWS)
    await execute(url, f"INSERT INTO suppliers VALUES {values}")


@pytest.fixture
def referencing(fresh: str) -> Any:  # noqa: F811
    """A table whose rows reference suppliers (a foreign key: TRUNCATE is refused)."""
    asyncio.run(execute(fresh, "DROP TABLE IF EXISTS supplier_notes",
                        "CREATE TABLE supplier_notes (id serial PRIMARY KEY, supplier uuid "
                        "NOT NULL REFERENCES suppliers (id), note text)"))
    yield fresh
    asyncio.run(execute(fresh, "DROP TABLE IF EXISTS supplier_notes"))


@pytest.mark.parametrize("consumers", [1, 3])
async def test_replace_leaves_exactly_the_jobs_accepted_rows(
        tmp_path: Path, fresh: str, service_env: dict[str, str],  # noqa: F811
        consumers: int) -> None:
    await seed_old_rows(fresh)
    path = suppliers_file(tmp_path / "s.csv", seed=9)
    job = produce_job(service_env, path, "replace")
    assert (await job_row(fresh, job))["atomic"] is True  # replace always is
    consume(service_env, consumers)
    expected = oracle.final([path], "suppliers", "replace")
    assert await table(fresh) == wanted(expected)
    assert OLD_ROWS[2][0] not in await table(fresh)
    assert await job_counts(fresh, job) == +expected.counts[0]
    keys = await fetch(fresh, "SELECT count(*)::int AS n FROM ingest_keys "
                              "WHERE target = 'public.suppliers'")
    assert keys[0]["n"] == len(expected.rows)


async def test_replace_of_a_referenced_table_keeps_the_referenced_rows(
        tmp_path: Path, referencing: str, service_env: dict[str, str]) -> None:
    """DELETE path: the referenced keys are in the file, so their rows are overwritten in
    place and the referencing rows stay valid; the key the file lacks (99) is removed."""
    await seed_old_rows(referencing)
    await execute(referencing, f"INSERT INTO supplier_notes (supplier, note) VALUES "
                               f"('{OLD_ROWS[0][0]}', 'a'), ('{OLD_ROWS[1][0]}', 'b')")
    path = suppliers_file(tmp_path / "s.csv", seed=9)
    expected = oracle.final([path], "suppliers", "replace")
    assert {OLD_ROWS[0][0], OLD_ROWS[1][0]} <= {str(k) for k in expected.rows}
    job = produce_job(service_env, path, "replace")
    consume(service_env)
    assert (await job_row(referencing, job))["error"] is None
    assert await table(referencing) == wanted(expected)
    notes = await fetch(referencing, "SELECT count(*)::int AS n FROM supplier_notes")
    assert notes[0]["n"] == 2
    assert await job_counts(referencing, job) == +expected.counts[0]


async def test_replace_that_removes_a_referenced_row_fails_and_changes_nothing(
        tmp_path: Path, referencing: str, service_env: dict[str, str]) -> None:
    await seed_old_rows(referencing)
    await execute(referencing, "INSERT INTO supplier_notes (supplier, note) VALUES "
                               f"('{OLD_ROWS[2][0]}', 'still referenced')")
    before = await table(referencing)
    path = suppliers_file(tmp_path / "s.csv", seed=9)
    job = produce_job(service_env, path, "replace")
    consume(service_env)
    row = await job_row(referencing, job)
    assert row["applied_at"] is None
    assert row["error"].startswith("replace refused by PostgreSQL: ")
    assert "supplier_notes" in row["error"]  # PostgreSQL's message names the reference
    assert await table(referencing) == before
    counts = await job_counts(referencing, job)  # nothing loaded: rejected or skipped
    assert set(counts) <= {"rejected", "skipped"}
    assert counts["skipped"] > 0
    assert not await stage_exists(referencing, job)


@pytest.mark.parametrize("mode", ["replace", "upsert"])
async def test_a_reader_during_the_apply_sees_the_old_or_the_new_table(
        tmp_path: Path, fresh: str, service_env: dict[str, str], mode: str) -> None:  # noqa: F811
    await seed_old_rows(fresh)
    path = suppliers_file(tmp_path / "s.csv", seed=12, records=400, keys=200)
    args = () if mode == "replace" else ("--atomic",)
    produce_job(service_env, path, mode, *args)
    old = len(OLD_ROWS)
    loaded = {str(k) for k in oracle.final([path], "suppliers", mode).rows}
    new = len(loaded if mode == "replace" else loaded | {k for k, _, _ in OLD_ROWS})
    env = {**service_env, c.FAULT_ENV: "consumer.apply_pause", c.FAULT_AFTER_ENV: "2"}
    consumer = start("consumer", "--burst", "--parallel", "4", env=env)
    seen: Counter[int] = Counter()
    conn = await asyncpg.connect(fresh)
    try:
        while consumer.poll() is None:
            seen[int(await conn.fetchval("SELECT count(*) FROM suppliers"))] += 1
            await asyncio.sleep(0.01)
        seen[int(await conn.fetchval("SELECT count(*) FROM suppliers"))] += 1
    finally:
        await conn.close()
    assert finish(consumer).rc == 0
    assert set(seen) == {old, new}, seen  # both seen, nothing in between
    assert seen[old] > 20  # the reader kept reading (or waiting) during the 2 s apply


def dirty_suppliers(path: Path, records: int = 140) -> Path:
    """Every fourth record has an invalid uuid: 35 rejects in 140 records."""
    rows = [f"{'bad-uuid' if n % 4 == 3 else f'{n:08x}-0000-4000-8000-{n:012x}'},"
            f"ABC-{n % 10000:04d},Name {n},1,0,0,I" for n in range(records)]
    return write_csv(path, rows, header=HEADER)


async def test_streaming_threshold_skips_the_later_batches_and_keeps_the_earlier_rows(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    path = dirty_suppliers(tmp_path / "d.csv")
    job = produce_job(service_env, path, "insert", "--max-errors", "10")
    run = consume_one_by_one(service_env)
    assert run["skipped"] > 0
    row = await job_row(fresh, job)
    assert row["error"].startswith("threshold crossed: ")
    assert "stay" in row["error"]
    counts = await job_counts(fresh, job)
    assert sum(counts.values()) == 140
    assert counts["rejected"] > 10  # the crossing batch committed with its rejects
    loaded = await table(fresh)
    assert len(loaded) == counts["inserted"] > 0  # rows committed before stay
    batches = await fetch(fresh, "SELECT seq, skipped, records FROM ingest_batches "
                                 f"WHERE job_id = '{job}' ORDER BY seq")
    skipped = [b["seq"] for b in batches if b["skipped"]]
    assert all(b["skipped"] == b["records"] for b in batches if b["skipped"])
    # one consumer, one batch at a time, in order: the batches after the crossing one
    assert skipped == list(range(skipped[0], len(batches)))


def consume_one_by_one(env: dict[str, str]) -> dict[str, Any]:
    run = consume_burst(env, "--parallel", "1")
    assert run.rc == 0, run.stderr[-3000:]
    return run.summary


@pytest.mark.parametrize("limit", [("--max-errors", "34"), ("--max-error-ratio", "0.2")])
async def test_atomic_threshold_crossed_applies_nothing(
        tmp_path: Path, fresh: str, service_env: dict[str, str],  # noqa: F811
        limit: tuple[str, str]) -> None:
    path = dirty_suppliers(tmp_path / "d.csv")  # 35 rejects > 34, > 0.2 x 140 = 28
    job = produce_job(service_env, path, "insert", "--atomic", *limit)
    consume(service_env, 3)
    row = await job_row(fresh, job)
    assert row["applied_at"] is None
    assert row["error"].startswith("threshold crossed: 35 rejects > ")
    assert await table(fresh) == {}
    assert await rejected(fresh, job) == 35  # the rejects stay for the report
    assert await job_counts(fresh, job) == Counter(rejected=35, skipped=105)
    assert not await stage_exists(fresh, job)


async def test_atomic_threshold_not_crossed_applies(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    path = dirty_suppliers(tmp_path / "d.csv")
    job = produce_job(service_env, path, "insert", "--atomic", "--max-errors", "35")
    consume(service_env)
    assert (await job_row(fresh, job))["error"] is None
    assert len(await table(fresh)) == 105
    assert await job_counts(fresh, job) == Counter(inserted=105, rejected=35)


async def test_a_crash_between_the_last_batch_and_the_apply_is_healed_by_the_scan(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    path = suppliers_file(tmp_path / "s.csv", seed=13)
    job = produce_job(service_env, path, "merge", "--atomic")
    env = {**service_env, c.FAULT_ENV: "consumer.before_apply"}
    killed = consume_burst(env, "--parallel", "1")
    assert killed.rc == -9
    assert await table(fresh) == {}
    assert (await job_row(fresh, job))["applied_at"] is None
    assert await pending(fresh, job) > 0
    # What may be left (the seal message, if the kill came first) goes: only the scan heals.
    await purge(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    healed = consume_burst(service_env)  # nothing in the queue: the start scan applies it
    assert healed.rc == 0, healed.stderr[-3000:]
    assert healed.summary["jobs_applied"] == 1
    expected = oracle.final([path], "suppliers", "merge")
    assert await table(fresh) == wanted(expected)
    assert await job_counts(fresh, job) == +expected.counts[0]


@pytest.mark.unit
def test_the_job_id_adds_only_options_that_are_not_the_default() -> None:
    def digest(*parts: str) -> str:
        return "s-" + hashlib.sha256("\0".join(("fp", "d", *parts)).encode()).hexdigest()[:24]

    assert job_id_for("s", "fp", "d", "upsert") == digest("upsert")  # as before
    assert job_id_for("s", "fp", "d", atomic=True) == digest("atomic")
    assert job_id_for("s", "fp", "d", "upsert", atomic=True, max_errors=10) == digest(
        "upsert", "atomic", "max_errors=10")
    assert job_id_for("s", "fp", "d", "replace", atomic=True) == digest("replace")
    assert job_id_for("s", "fp", "d", max_error_ratio=1) == digest("max_error_ratio=1.0")
    assert job_id_for("s", "fp", "d", max_errors=0, dry_run=True) == digest(
        "max_errors=0", "dry-run")


@pytest.mark.parametrize(("args", "message"), [
    (("--max-error-ratio", "1.5"), "error: --max-error-ratio must be between 0 and 1"),
    (("--max-error-ratio", "-0.1"), "error: --max-error-ratio must be between 0 and 1"),
    (("--max-error-ratio", "nan"), "error: --max-error-ratio must be between 0 and 1"),
    (("--max-errors", "-1"), "error: --max-errors must be 0 or more, got -1"),
])
def test_bad_threshold_options_are_one_line_and_exit_2(
        tmp_path: Path, service_env: dict[str, str], args: tuple[str, ...],
        message: str) -> None:
    path = dirty_suppliers(tmp_path / "d.csv")
    run = produce(path, service_env, "--dataset", "suppliers", *args)
    assert run.rc == 2
    errors = [line for line in run.lines if line.strip()]
    assert len(errors) == 1, run.stderr
    assert errors[0].startswith(message), run.stderr


@pytest.mark.unit
def test_help_says_what_each_option_does() -> None:
    out = subprocess.run([sys.executable, "-m", "producer", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for text in ("--atomic", "--max-errors", "--max-error-ratio", "replace",
                 "All or nothing", "exactly the job's accepted rows"):
        assert text in " ".join(out.split()), text


async def test_the_consumer_summary_counts_each_apply_reject_once(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    """A public report: rejects made at the apply were counted twice in the summary's
    rejects_by_reason, all as duplicate_key."""
    rows = [f"{n % 20:08x}-0000-4000-8000-{n % 20:012x},ABC-{n:04d},Name {n},1,0,0,I"
            for n in range(30)]  # lines 22-31 repeat the keys of lines 2-11: duplicate_key
    path = write_csv(tmp_path / "dups.csv", [*rows, "bad-uuid,ABC-0001,X,1,0,0,I"],
                     header=HEADER)
    job = produce_job(service_env, path, "insert", "--atomic")
    run = consume_burst(service_env, "--parallel", "1")
    assert run.rc == 0, run.stderr[-2000:]
    summary = run.summary
    stored = await fetch(fresh, f"SELECT reason, count(*) AS n FROM ingest_rejects "
                                f"WHERE job_id = '{job}' GROUP BY reason")
    assert summary["rejects_by_reason"] == {r["reason"]: r["n"] for r in stored}
    assert summary["rejects_by_reason"] == {"duplicate_key": 10, "invalid_uuid": 1}
    assert sum(summary["rejects_by_reason"].values()) == summary["rejected"]
