"""Jobs of different load-mode families on one table load one after the other (a public
report: an older insert job committing after a newer merge brought a deleted key back; an older
upsert after a newer replace brought back a removed row). A job of another family that is
still loading keeps a new job off the table (exit 2, one line naming it); `ingest abort`
stops a job that will never finish."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline import ROOT, consume_burst, execute, fetch, produce

pytestmark = pytest.mark.integration
NO_BROKER = {"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}


@pytest.fixture
async def table(database_url: str, clean_tables: None) -> str:
    await execute(database_url, "DROP TABLE IF EXISTS modal",
                  "CREATE TABLE modal (k integer PRIMARY KEY, v text, op char(1))")
    return database_url


def ingest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def csv(tmp_path: Path, name: str, rows: str) -> Path:
    path = tmp_path / name
    path.write_text("k,v,op\n" + rows)
    return path


async def test_another_mode_waits_for_a_loading_job_then_job_order_holds(
        tmp_path: Path, table: str, service_env: dict[str, str]) -> None:
    inserts = csv(tmp_path, "x.csv", "1,x1,I\n2,x2,I\n")
    deletes = csv(tmp_path, "md.csv", "1,d1,D\n")
    args = ("--table", "modal", "--retry-budget", "1")
    registered = produce(inserts, {**service_env, **NO_BROKER}, *args, "--mode", "insert")
    assert registered.rc == 1  # gave up on the broker: registered, nothing published
    refused = produce(deletes, service_env, *args, "--mode", "merge")
    assert refused.rc == 2, refused.stderr
    [line] = [x for x in refused.stderr.splitlines() if x.startswith("error:")]
    assert registered.summary["job_id"] in line
    assert "in insert mode, still loading" in line
    assert f"ingest abort {registered.summary['job_id']}" in line

    assert produce(inserts, service_env, *args, "--mode", "insert").rc == 0  # the same job
    assert consume_burst(service_env).rc == 0
    merged = produce(deletes, service_env, *args, "--mode", "merge")
    assert merged.rc == 0, merged.stderr
    assert consume_burst(service_env).rc == 0
    rows = await fetch(table, "SELECT k, v FROM modal ORDER BY k")
    assert [tuple(r) for r in rows] == [(2, "x2")]  # job order: inserted, then deleted


async def test_ingest_abort_lets_another_mode_load_and_skips_the_aborted_jobs_batches(
        tmp_path: Path, table: str, service_env: dict[str, str]) -> None:
    old = csv(tmp_path, "x.csv", "1,x1,I\n2,x2,I\n")
    new = csv(tmp_path, "y.csv", "1,y1,I\n3,y3,I\n")
    args = ("--table", "modal", "--retry-budget", "1")
    stuck = produce(old, {**service_env, **NO_BROKER}, *args, "--mode", "upsert")
    job = stuck.summary["job_id"]
    assert produce(new, service_env, *args, "--mode", "insert").rc == 2
    aborted = ingest(service_env, "abort", job)
    assert aborted.returncode == 0, aborted.stderr
    assert json.loads(aborted.stdout) == {"job_id": job, "aborted": True}
    assert json.loads(ingest(service_env, "abort", job).stdout)["aborted"] is False
    assert produce(new, service_env, *args, "--mode", "insert").rc == 0
    rerun = produce(old, service_env, *args, "--mode", "upsert")  # its batches are skipped
    assert rerun.rc == 0, rerun.stderr
    consumed = consume_burst(service_env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["skipped"] == 2
    rows = await fetch(table, "SELECT k, v FROM modal ORDER BY k")
    assert [tuple(r) for r in rows] == [(1, "y1"), (3, "y3")]
    unknown = ingest(service_env, "abort", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: no job nope in ingest_jobs"
