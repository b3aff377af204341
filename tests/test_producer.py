"""The producer against real RabbitMQ and Redis: batches, confirms, resume, user errors."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import aiormq
import pytest

from libs import constants as c
from tests.pipeline import customers_rows, drain, kill_twice, produce, queue_depth, write_csv

pytestmark = pytest.mark.integration

HEADER_LEN = len(b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n")


def tricky_file(path: Path, n: int) -> Path:
    rows = customers_rows(n)
    rows[3] = 'q@x.io,"O""Brien, Jr",L,1,,"multi\nline\r\ncity",FR,,'
    rows[10] = ""  # a blank line
    rows[20] = rows[20] + "\r"  # CRLF among LF
    return write_csv(path, rows)


async def test_every_batch_arrives_exactly_as_made(tmp_path: Path,
                                                   service_env: dict[str, str]) -> None:
    path = tricky_file(tmp_path / "f.csv", 95)
    run = produce(path, service_env, "--batch-size", "10", "--parallel", "3")
    assert run.rc == 0, run.stderr
    s = run.summary
    assert s["status"] == "ok"
    assert s["rows_read"] == 94  # 95 lines, one blank
    assert s["batches_total"] == s["batches_published"] == 10
    assert s["resumed_from_line"] == 0
    assert s["offset_store_available"] is True

    messages = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert len(messages) == 10
    by_seq = sorted(messages, key=lambda m: (m.headers or {})[c.H_SEQ])
    assert [m.headers[c.H_SEQ] for m in by_seq] == list(range(10))  # type: ignore[index]
    assert b"".join(m.body for m in by_seq) == path.read_bytes()[HEADER_LEN:]
    assert len({m.message_id for m in messages}) == 10
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in messages)
    assert sum(m.headers[c.H_RECORDS] for m in messages) == 94  # type: ignore[misc]
    first = by_seq[0].headers
    assert first[c.H_VERSION] in c.SCHEMA_VERSIONS  # 1 until the producer registers (issue 11)
    assert first[c.H_FIRST_LINE] == 2
    assert by_seq[1].headers[c.H_FIRST_LINE] == 14  # 10 records, one spans 3 lines


async def test_kill_then_rerun_resumes_from_the_confirmed_prefix(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    # Content of its own: a job of the same content (test_file_changed's) in the session's
    # database would have fixed its batch size.
    path = write_csv(tmp_path / "big.csv", customers_rows(60_000, start=1_000_000))
    args = ("--batch-size", "10", "--parallel", "4")
    # The offset is saved every second: this run dies right after its first save.
    kill_twice(path, service_env, 200, *args)
    rerun = produce(path, service_env, *args)
    assert rerun.rc == 0, rerun.stderr
    s = rerun.summary
    assert s["resumed_from_line"] > 2
    assert s["batches_published"] < 6000
    assert s["batches_total"] == 6000
    assert s["rows_confirmed"] == 60_000

    messages = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    ranges = {(m.headers[c.H_FIRST_LINE], m.headers[c.H_LAST_LINE]): m.body  # type: ignore[index]
              for m in messages}
    assert b"".join(body for _, body in sorted(ranges.items())) == \
        path.read_bytes()[HEADER_LEN:], "the union of published batches is the whole file"
    assert len(messages) >= 6000


async def test_done_file_publishes_nothing(tmp_path: Path,
                                           service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(50))
    assert produce(path, service_env, "--batch-size", "7").rc == 0
    depth = await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    again = produce(path, service_env, "--batch-size", "7")
    assert again.rc == 0
    assert again.summary["status"] == "already_done"
    assert again.summary["batches_published"] == 0
    assert await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"]) == depth


async def test_changed_file_does_not_reuse_the_offset(tmp_path: Path,
                                                      service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(40))
    first = produce(path, service_env, "--batch-size", "5")
    write_csv(path, customers_rows(41))
    second = produce(path, service_env, "--batch-size", "5")
    assert second.rc == 0
    assert second.summary["job_id"] != first.summary["job_id"]
    assert second.summary["resumed_from_line"] == 0
    assert second.summary["batches_published"] == 9


async def test_redis_down_publishes_everything_and_says_so(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(30))
    env = {**service_env, "REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"}
    for _ in range(2):
        run = produce(path, env, "--batch-size", "10")
        assert run.rc == 0, run.stderr
        assert run.summary["offset_store_available"] is False
        assert run.summary["offset_saved"] is False
        assert run.summary["batches_published"] == 3
    assert "offset store unavailable" in run.stderr
    assert "hunter2" not in run.stderr + str(run.summary)


def test_broker_unreachable_exits_1_and_says_how_far_it_got(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": "amqp://guest:s3cret@127.0.0.1:1/"}
    run = produce(path, env, "--retry-budget", "2")
    assert run.rc == 1
    assert run.summary["status"] == "gave_up"
    assert "0 rows confirmed" in run.stderr
    assert "s3cret" not in run.stderr + str(run.summary)


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    (b"", "empty"),
    (b"email,first_name,last_name,birth_date,city,country,signup_at,balance\nx\n", "phone"),
    (b"email,email\n", "more than once"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, service_env: dict[str, str],
                                             content: bytes | None, message: str) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    run = produce(path, service_env)
    assert run.rc == 2
    assert len(run.lines) == 1, run.stderr
    assert message in run.lines[0]
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--batch-bytes", "0"), "--batch-bytes must be at least 1"),
    (("--batch-size", "0"), "--batch-size must be at least 1"),
])
def test_bad_batch_bounds_are_user_errors(tmp_path: Path, service_env: dict[str, str],
                                          args: tuple[str, ...], message: str) -> None:
    run = produce(write_csv(tmp_path / "f.csv", customers_rows(3)), service_env, *args)
    assert run.rc == 2
    assert len(run.lines) == 1, run.stderr
    assert message in run.lines[0]


def test_header_only_publishes_nothing(tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "h.csv", [])
    run = produce(path, service_env)
    assert run.rc == 0
    assert run.summary["rows_read"] == 0
    assert run.summary["batches_published"] == 0


async def test_a_header_too_wide_for_a_message_is_refused_at_once(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    """20,000 extra columns: their names cannot travel in AMQP headers (frame_max); exit 2 at
    once saying so, instead of reconnecting until the retry budget is spent."""
    extra = ",".join(f"c{i:05d}" for i in range(20_000))
    header = "email,first_name,last_name,phone,birth_date,city,country,signup_at,balance"
    path = write_csv(tmp_path / "wide.csv", [r + "," * 20_000 for r in customers_rows(3)],
                     header=f"{header},{extra}")
    run = produce(path, service_env)
    assert run.rc == 2, run.stderr
    errors = [line for line in run.lines if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    assert "20009 columns" in errors[0]
    assert "remove the columns" in errors[0]
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):  # nothing declared
        await queue_depth(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
