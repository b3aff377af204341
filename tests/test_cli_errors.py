"""User and configuration errors: one line ``error: ...`` on stderr, exit 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline import Run, consume_burst, customers_rows, produce, run_cli, write_csv

pytestmark = pytest.mark.integration


def _errors(run: Run) -> list[str]:
    return [line for line in run.lines if line.startswith("error: ")]


def assert_one_error_line(run: Run, *words: str) -> str:
    assert run.rc == 2, run.stderr
    assert "Traceback" not in run.stderr
    [line] = _errors(run)
    for word in words:
        assert word in line, line
    for other in run.lines:  # everything else on stderr is a log line (JSON)
        if other != line:
            json.loads(other)
    return line


@pytest.mark.parametrize(("module", "args", "words"), [
    ("producer", (), ("Missing option '--file'", "--help")),
    ("producer", ("--file", "x.csv", "--parallel", "many"), ("'--parallel'", "--help")),
    ("consumer", ("--no-such-option",), ("--no-such-option", "--help")),
    ("consumer", ("--burst", "--ready-file", "/nonexistent/dir/ready"),
     ("--ready-file", "/nonexistent/dir", "does not exist")),
])
def test_usage_errors_look_like_ours(service_env: dict[str, str], module: str,
                                     args: tuple[str, ...], words: tuple[str, ...]) -> None:
    run = run_cli(module, *args, env=service_env)
    assert_one_error_line(run, *words)
    assert len(run.lines) == 1
    assert "Usage:" not in run.stderr


def test_wrong_broker_password_is_one_line_and_exit_2(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": "amqp://guest:not-the-pw-42@127.0.0.1:5672/"}
    produced = produce(path, env)
    line = assert_one_error_line(produced, "login", "AMQP_URL")
    assert produced.summary["status"] == "refused"
    consumed = consume_burst(env)
    assert_one_error_line(consumed, "login", "AMQP_URL")
    for run in (produced, consumed):
        assert "not-the-pw-42" not in run.stderr + json.dumps(run.summary)
    assert "127.0.0.1" in line


def test_unknown_virtual_host_is_one_line_and_exit_2(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/no-such-vhost"}
    assert_one_error_line(produce(path, env), "virtual host 'no-such-vhost'")


def test_wrong_database_user_is_one_line_and_exit_2(
        service_env: dict[str, str], database_url: str) -> None:
    url = database_url.replace("postgres@", "no_such_role:pg-pw-17@", 1)
    assert url != database_url
    run = consume_burst({**service_env, "DATABASE_URL": url})
    assert_one_error_line(run, "refused the login", "DATABASE_URL")
    assert "pg-pw-17" not in run.stderr


def test_library_log_lines_are_rendered_like_ours(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "f.csv", customers_rows(5))
    env = {**service_env, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    run = produce(path, env, "--retry-budget", "1")
    assert run.rc == 1
    assert "ERROR:aiormq" not in run.stderr
    logs = [json.loads(line) for line in run.lines if not line.startswith("error: ")]
    assert any(entry["event"] == "retrying" for entry in logs)
    # Each failed attempt is said once, by our retry line; aiormq does not repeat it.
    assert not [entry for entry in logs if entry.get("logger") == "aiormq.connection"]
