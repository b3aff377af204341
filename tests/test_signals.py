"""Signals are honoured anywhere, also while connecting or retrying (README: exit codes)."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
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


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a connection attempt hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


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


def test_sigterm_interrupts_a_hanging_connection_attempt(
        tmp_path: Path, service_env: dict[str, str], silent_port: int) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{silent_port}/"}
    rc, stderr, _ = _stop_while_retrying("producer", "--file", str(path), env=env)
    assert rc == c.EXIT_SIGTERM, stderr
    env = {**service_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{silent_port}/x"}
    rc, stderr, _ = _stop_while_retrying("consumer", env=env)
    assert rc == c.EXIT_OK, stderr
