"""Flow control: while RabbitMQ blocks publishers (a resource alarm) the producer waits.

The unit tests drive libs.amqp.FlowControl by hand; the chaos test raises a real memory alarm
(the watermark is read first and restored in a ``finally``; the alarm lasts a few seconds).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiormq
import pytest

from libs.amqp import BLOCKED_HOOKS, FlowControl, watch_blocked
from libs.errors import BrokerBlocked, Stopped
from tests.pipeline import (
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    finish,
    queue_depth,
    start,
    wait_for,
    write_csv,
)


@pytest.mark.unit
def test_aiormq_still_has_the_handlers_we_wrap() -> None:
    for name in BLOCKED_HOOKS:
        assert callable(getattr(aiormq.Connection, name, None)), name


class FakeUnderlay:
    """An aiormq connection as far as watch_blocked sees it: the two private handlers."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def _Connection__handle_connection_blocked(self, frame: Any) -> None:
        self.handled.append(f"blocked: {frame.reason}")

    async def _Connection__handle_connection_unblocked(self, frame: Any) -> None:
        self.handled.append("unblocked")


@pytest.mark.unit
async def test_the_hook_follows_reconnects_and_keeps_aiormqs_own_handling() -> None:
    first, second = FakeUnderlay(), FakeUnderlay()
    callbacks: list[Any] = []
    connection: Any = SimpleNamespace(transport=SimpleNamespace(connection=first),
                                      reconnect_callbacks=SimpleNamespace(add=callbacks.append))
    flow = FlowControl(limit_s=30)
    watch_blocked(connection, flow)
    await first._Connection__handle_connection_blocked(SimpleNamespace(reason="low on memory"))
    assert flow.reason == "low on memory"
    assert first.handled == ["blocked: low on memory"]  # aiormq's handler still runs
    connection.transport.connection = second  # the broker went away while blocking us
    [reconnected] = callbacks
    reconnected(connection)
    assert not flow.blocked  # a new connection starts unblocked
    await second._Connection__handle_connection_blocked(SimpleNamespace(reason="low on disk"))
    assert flow.reason == "low on disk"
    await second._Connection__handle_connection_unblocked(SimpleNamespace())
    assert not flow.blocked
    assert second.handled == ["blocked: low on disk", "unblocked"]


@pytest.mark.unit
async def test_the_confirm_clock_stops_while_blocked() -> None:
    changes: list[str | None] = []
    flow = FlowControl(limit_s=30, on_change=changes.append)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, flow.set_blocked, "low on memory")
    loop.call_later(0.5, flow.set_unblocked)
    started = time.monotonic()
    # The confirm arrives 0.6 s in; the timeout is 0.3 s, but 0.45 s of that was blocked.
    result = await flow.unblocked_within(asyncio.sleep(0.6, result="ack"), wait_s=0.3)
    assert result == "ack"
    assert time.monotonic() - started >= 0.6
    assert changes == ["low on memory", None]


@pytest.mark.unit
async def test_without_a_block_the_confirm_times_out() -> None:
    flow = FlowControl(limit_s=30)
    with pytest.raises(TimeoutError):
        await flow.unblocked_within(asyncio.sleep(5), wait_s=0.1)


@pytest.mark.unit
async def test_a_block_longer_than_the_limit_gives_up() -> None:
    flow = FlowControl(limit_s=0.2)
    flow.set_blocked("low on disk")
    with pytest.raises(BrokerBlocked, match="low on disk"):
        await flow.unblocked_within(asyncio.sleep(5), wait_s=10)


@pytest.mark.unit
async def test_a_stop_ends_the_wait_while_blocked() -> None:
    stop = asyncio.Event()
    flow = FlowControl(limit_s=600, stop=stop)
    flow.set_blocked("low on memory")
    asyncio.get_running_loop().call_later(0.05, stop.set)
    with pytest.raises(Stopped):
        await flow.wait_unblocked()


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def _set_watermark(value: str) -> None:
    """``value`` as read from vm_memory_monitor: ``0.4`` or ``{absolute,1073741824}``."""
    if value.startswith("{absolute,"):
        _rabbitmqctl("set_vm_memory_high_watermark", "absolute", value[10:-1])
    else:
        _rabbitmqctl("set_vm_memory_high_watermark", value)


def _stderr_so_far(proc: subprocess.Popen[str]) -> str:
    handle = proc.files[1]  # type: ignore[attr-defined]
    handle.seek(0)
    return str(handle.read())


@pytest.mark.chaos
@pytest.mark.timeout(180)
@pytest.mark.usefixtures("clean_tables")
async def test_memory_alarm_pauses_the_producer_until_it_clears(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(100_000))
    # A publish timeout and a retry budget far shorter than the alarm: spent on it, they
    # would end the run (the behaviour before flow control).
    producer = start("producer", "--file", str(path), "--batch-size", "20", "--parallel", "1",
                     "--publish-timeout", "1", "--retry-budget", "2", env=service_env)

    async def publishing() -> bool:
        try:
            return await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) > 0
        except aiormq.exceptions.ChannelNotFoundEntity:  # not declared yet
            return False

    await wait_for(publishing, 30, "the first batches")
    previous = _rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    try:
        _rabbitmqctl("set_vm_memory_high_watermark", "0.0001")

        async def says_blocked() -> bool:
            return "RabbitMQ blocks publishing" in _stderr_so_far(producer)

        await wait_for(says_blocked, 10, "the producer to say it is blocked")
        await asyncio.sleep(4)  # longer than publish timeout + retry budget
        assert producer.poll() is None, "the producer waits while blocked"
    finally:
        _set_watermark(previous)
    run = finish(producer, timeout=120)
    assert run.rc == 0, run.stderr[-3000:]
    assert run.stderr.count("RabbitMQ blocks publishing") == 1
    assert "RabbitMQ unblocked publishing" in run.stderr
    assert "low on memory" in run.stderr
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [path], [run.summary["job_id"]])


@pytest.mark.chaos
@pytest.mark.timeout(120)
async def test_blocked_too_long_exits_1_and_a_signal_ends_the_wait(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(2_000))
    previous = _rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    try:
        _rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
        bounded = start("producer", "--file", str(path), "--batch-size", "20",
                        "--blocked-timeout", "2", env=service_env)
        signalled = start("producer", "--file", str(path), "--batch-size", "20",
                          env={**service_env, "INGEST_REDIS_PREFIX":
                               service_env["INGEST_REDIS_PREFIX"] + ":other"})

        async def both_blocked() -> bool:
            return all("RabbitMQ blocks publishing" in _stderr_so_far(proc)
                       for proc in (bounded, signalled))

        await wait_for(both_blocked, 10, "both producers to say they are blocked")
        signalled.send_signal(signal.SIGTERM)
        stopped = finish(signalled, timeout=5)
        gave_up = finish(bounded, timeout=15)
    finally:
        _set_watermark(previous)
    assert stopped.rc == 143
    assert stopped.summary["status"] == "interrupted"
    assert gave_up.rc == 1
    assert gave_up.summary["status"] == "gave_up"
    assert "blocked publishing for 2s" in gave_up.lines[-1]
    assert "--blocked-timeout" in gave_up.lines[-1]
    assert "retrying" not in gave_up.stderr
