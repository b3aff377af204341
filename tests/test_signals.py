"""Signals are honoured anywhere, also while connecting or retrying (README: exit codes)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from libs import constants as c
from tests.pipeline import customers_rows, finish, start, write_csv

pytestmark = pytest.mark.integration

# Far below the retry budgets (60 s, 600 s) the processes would otherwise spend retrying.
STOP_BOUND_S = 5.0


def _stop_while_retrying(module: str, *args: str, env: dict[str, str]) -> tuple[int, str, float]:
    proc = start(module, *args, env=env)
    time.sleep(1.5)  # connecting and retrying by now
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    run = finish(proc, timeout=STOP_BOUND_S)
    return run.rc, run.stderr, time.monotonic() - sent


def test_sigterm_stops_a_producer_retrying_an_unreachable_broker(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    rc, stderr, _ = _stop_while_retrying("producer", "--file", str(path), env=env)
    assert rc == c.EXIT_SIGTERM
    assert "retrying" in stderr


def test_sigterm_stops_a_consumer_retrying_an_unreachable_database(
        service_env: dict[str, str]) -> None:
    env = {**service_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/ingest"}
    rc, stderr, _ = _stop_while_retrying("consumer", env=env)
    assert rc == c.EXIT_OK
    assert "retrying" in stderr
    assert "Traceback" not in stderr
