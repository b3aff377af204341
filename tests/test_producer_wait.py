"""``producer --wait``: follows the job until it ends; its last line is the job's status with
the publish summary under "publish", its exit code that of ``ingest wait``."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from libs import constants as c
from tests.checker import expected
from tests.pipeline import customers_rows, finish, gendata, produce, start, write_csv

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


async def test_wait_ends_when_the_data_is_in(tmp_path: Path,
                                             service_env: dict[str, str]) -> None:
    path = gendata(tmp_path / "dirty.csv", 2000, 20261302, "--dirty")
    consumer = start("consumer", "--parallel", "2", env=service_env)
    try:
        waited = produce(path, service_env, "--batch-size", "200", "--wait")
        failed = produce(path, service_env, "--batch-size", "200", "--max-errors", "0",
                         "--wait", "--wait-timeout", "60")
    finally:
        consumer.send_signal(signal.SIGTERM)
        assert finish(consumer).rc == 0
    assert waited.rc == 0, waited.stderr[-2000:]
    line = waited.summary
    exp = expected([path])
    assert line["state"] == "succeeded_with_rejects"
    assert line["progress"] == {"records_done": exp.records[0], "fraction": 1.0}
    assert line["counts"]["inserted"] == len(exp.rows)
    assert line["counts"]["rejected"] == len(exp.rejects)
    assert line["publish"]["status"] == "ok"
    assert line["publish"]["job_id"] == line["job_id"]
    assert line["publish"]["records"] == exp.records[0]
    # Another job (another option): every record is a duplicate of the first job's, over 0.
    assert failed.rc == c.EXIT_FAILED, failed.stderr[-2000:]
    assert failed.summary["state"] == "failed"
    assert failed.summary["error"].startswith("threshold crossed")


async def test_wait_times_out_without_consumers(tmp_path: Path,
                                                service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(100))
    waited = produce(path, service_env, "--wait", "--wait-timeout", "0.5")
    assert waited.rc == c.EXIT_TIMEOUT
    assert waited.summary["state"] == "loading"
    assert waited.summary["counts"]["unprocessed"] == 100
    assert waited.summary["publish"]["status"] == "ok"
    refused = produce(path, service_env, "--wait", "--wait-timeout", "-1")
    assert refused.rc == c.EXIT_USAGE
