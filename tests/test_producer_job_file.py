"""``producer --source-name`` and ``--job-file``: what the HTTP API spawns the producer with."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.pipeline import customers_rows, drain, fetch, produce, write_csv

pytestmark = pytest.mark.integration


def test_source_name_is_recorded_and_job_file_written(
        tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> None:
    path = write_csv(tmp_path / "0123abcd.csv", customers_rows(7))
    job_file = tmp_path / "job.json"
    run = produce(path, service_env, "--source-name", "customers march.csv",
                  "--job-file", str(job_file), "--batch-size", "3")
    assert run.rc == 0, run.stderr
    assert json.loads(job_file.read_text()) == {"job_id": run.summary["job_id"]}
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    rows = asyncio.run(fetch(service_env["DATABASE_URL"], "SELECT job_id, source FROM ingest_jobs"))
    assert [(r["job_id"], r["source"]) for r in rows] == [(run.summary["job_id"],
                                                           "customers march.csv")]
    messages = asyncio.run(drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]))
    assert {m.headers["x-ingest-source"] for m in messages} == {"customers march.csv"}


async def test_without_source_name_the_file_name_is_the_source(
        tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> None:
    path = write_csv(tmp_path / "plain.csv", customers_rows(2))
    run = produce(path, service_env)
    assert run.rc == 0, run.stderr
    rows = await fetch(service_env["DATABASE_URL"], "SELECT source FROM ingest_jobs")
    assert [r["source"] for r in rows] == ["plain.csv"]


async def test_a_refused_file_writes_no_job_file(tmp_path: Path,
                                                 service_env: dict[str, str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("nothing,we,know\n1,2,3\n")
    job_file = tmp_path / "job.json"
    run = produce(path, service_env, "--job-file", str(job_file))
    assert run.rc == 2
    assert run.lines[-1].startswith("error: ")
    assert not job_file.exists()


def test_job_file_in_a_missing_directory_is_a_user_error(tmp_path: Path,
                                                         service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(1))
    run = produce(path, service_env, "--job-file", str(tmp_path / "nope" / "job.json"))
    assert run.rc == 2
    assert "--job-file" in run.stderr
    assert "does not exist" in run.stderr
