"""A broker refusal that retrying cannot fix stops the producer at once (exit 2, what to change).

RabbitMQ's max_message_size is lowered at runtime for the producer's run only (it applies to
channels opened while it is set); the value read first is restored in a ``finally``. The
permission cases use a user of the test's own, deleted afterwards.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.pipeline import (
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    produce,
    write_csv,
)

pytestmark = [pytest.mark.chaos, pytest.mark.usefixtures("clean_tables")]

LOWERED = 1024 * 1024


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


def _eval(expression: str) -> str:
    return _rabbitmqctl("eval", expression)


@contextmanager
def own_user(amqp_url: str) -> Iterator[tuple[str, str]]:
    """A RabbitMQ user with no permission at all; yields its name and AMQP URL."""
    name, password = f"ingest-test-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    _rabbitmqctl("add_user", name, password)
    parts = urlsplit(amqp_url)
    url = urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port}"))
    try:
        yield name, url
    finally:
        _rabbitmqctl("delete_user", name)


@contextmanager
def lowered_max_message_size() -> Iterator[None]:
    previous = _eval("application:get_env(rabbit, max_message_size).")  # {ok,N} or undefined
    _eval(f"application:set_env(rabbit, max_message_size, {LOWERED}).")
    try:
        yield
    finally:
        if previous.startswith("{ok,"):
            _eval(f"application:set_env(rabbit, max_message_size, {previous[4:-1]}).")
        else:
            _eval("application:unset_env(rabbit, max_message_size).")
    assert _eval("application:get_env(rabbit, max_message_size).") == previous


async def test_a_batch_over_max_message_size_stops_at_once_and_the_rerun_finishes(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    big = "x" * (LOWERED + 100_000)
    rows = [*customers_rows(30),
            f"big@example.com,Big,Row,+1-555-0000,1980-01-01,{big},FR,2024-01-01T00:00:00Z,1",
            *customers_rows(20, start=100)]
    path = write_csv(tmp_path / "f.csv", rows)
    args = ("--batch-size", "10", "--parallel", "1", "--retry-budget", "60")
    with lowered_max_message_size():
        refused = produce(path, service_env, *args)
    assert refused.rc == 2, refused.stderr[-2000:]
    errors = [line for line in refused.lines if line.startswith("error: ")]
    assert len(errors) == 1, refused.stderr[-2000:]
    assert "--batch-bytes" in errors[0]
    assert "max_message_size" in errors[0]
    assert "retrying" not in refused.stderr  # no retry budget spent on it
    for line in refused.lines:
        if line not in errors:
            json.loads(line)
    assert refused.summary["status"] == "refused"
    assert refused.summary["rows_confirmed"] == 30  # the three batches before it, no more
    assert refused.summary["confirmed_up_to_line"] == 31

    rerun = produce(path, service_env, *args)  # the limit is back to what it was
    assert rerun.rc == 0, rerun.stderr[-2000:]
    assert rerun.summary["resumed_from_line"] == 32
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [path], [rerun.summary["job_id"]])


def test_refused_vhost_and_permissions_stop_at_once_with_what_to_change(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    with own_user(service_env["AMQP_URL"]) as (name, url):
        password = urlsplit(url).password or ""
        env = {**service_env, "AMQP_URL": url}
        no_vhost = produce(path, env)
        _rabbitmqctl("set_permissions", "-p", "/", name, "^$", "^$", "^$")
        no_rights = produce(path, env)
    for run, words in ((no_vhost, ("virtual host '/' refused", name)),
                       (no_rights, ("permission refused", "set_permissions"))):
        assert run.rc == 2, run.stderr[-2000:]
        errors = [line for line in run.lines if line.startswith("error: ")]
        assert len(errors) == 1, run.stderr[-2000:]
        assert all(word in errors[0] for word in words), errors[0]
        assert "retrying" not in run.stderr
        assert password not in run.stderr + json.dumps(run.summary)
