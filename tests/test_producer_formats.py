"""The producer's dialect and encoding options against real RabbitMQ and Redis.

The consumer side of these files needs the job's dataset (dialect, encoding) from PostgreSQL;
until that lands the batches are checked as published.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from libs import constants as c
from tests.pipeline import customers_rows, drain, produce

pytestmark = pytest.mark.integration

NAMES = "email;first_name;last_name;phone;birth_date;city;country;signup_at;balance"


def latin1_semicolon_file(path: Path) -> bytes:
    rows = [row.replace(",", ";") for row in customers_rows(30)]
    rows[2] = "zoë@example.com;Zoë;Müller;1;;São Paulo;BR;;1.50"
    rows[5] = '"ñ@example.com";"Ñandú; Jr";L;1;;;;;'
    data = ("\n".join([NAMES, *rows]) + "\n").encode("latin-1")
    path.write_bytes(data)
    return data


async def test_semicolon_latin1_file_with_options(tmp_path: Path,
                                                  service_env: dict[str, str]) -> None:
    path = tmp_path / "latin.csv"
    data = latin1_semicolon_file(path)
    run = produce(path, service_env, "--delimiter", ";", "--encoding", "latin-1",
                  "--batch-size", "7")
    assert run.rc == 0, run.stderr
    assert run.summary["rows_read"] == 30
    assert "may not be in the dataset's dialect" not in run.stderr
    messages = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    by_seq = sorted(messages, key=lambda m: (m.headers or {})[c.H_SEQ])
    assert b"".join(m.body for m in by_seq) == data[len(NAMES) + 1:]  # the file's bytes
    assert list(by_seq[0].headers[c.H_COLUMNS]) == NAMES.split(";")  # type: ignore[index]


def test_semicolon_latin1_file_without_options_says_why(tmp_path: Path,
                                                        service_env: dict[str, str]) -> None:
    path = tmp_path / "latin.csv"
    latin1_semicolon_file(path)
    run = produce(path, service_env)
    assert run.rc == 2
    hint = next(line for line in run.lines if "dialect or encoding" in line)
    assert "--delimiter ';'" in hint
    assert "--encoding" in hint
    assert "the header lacks" in run.lines[-1]


async def test_latin1_file_published_with_a_warning(tmp_path: Path,
                                                    service_env: dict[str, str]) -> None:
    path = tmp_path / "latin.csv"
    rows = customers_rows(4)
    rows[1] = rows[1].replace("First1", "Zoë")
    header = NAMES.replace(";", ",")
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode("latin-1"))
    run = produce(path, service_env)
    assert run.rc == 0, run.stderr
    assert run.summary["status"] == "ok"
    warning = next(line for line in run.lines if "dialect or encoding" in line)
    assert "--encoding" in warning
    await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])


async def test_utf16_file_is_published_as_utf8(tmp_path: Path,
                                               service_env: dict[str, str]) -> None:
    path = tmp_path / "wide.csv"
    rows = [*customers_rows(25), "zoë@x.io,Zoë,漢字,1,,,,,"]
    text = "\n".join([NAMES.replace(";", ","), *rows]) + "\n"
    path.write_bytes(text.encode("utf-16"))
    run = produce(path, service_env, "--encoding", "utf-16", "--batch-size", "4")
    assert run.rc == 0, run.stderr
    assert run.summary["rows_read"] == 26
    messages = await drain(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    by_seq = sorted(messages, key=lambda m: (m.headers or {})[c.H_SEQ])
    assert b"".join(m.body for m in by_seq) == text.encode()[len(NAMES) + 1:]


@pytest.mark.parametrize(("encoding", "newline"), [("utf-16-le", "\r\n"), ("utf-16-be", "\r\n"),
                                                   ("utf-16-le", "\n")])
def test_utf16_without_bom_and_without_option_names_the_byte_order(
        tmp_path: Path, service_env: dict[str, str], encoding: str, newline: str) -> None:
    """CRLF in UTF-16 is CR NUL LF NUL: the NUL bytes are named, not CR-only line ends."""
    header = "email,first_name,last_name,phone,birth_date,city,country,signup_at,balance"
    path = tmp_path / "wide.csv"
    path.write_bytes(newline.join([header, *customers_rows(2)]).encode(encoding))
    run = produce(path, service_env)
    assert run.rc == 2
    [line] = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    assert f"--encoding {encoding.replace('-', '').replace('utf16', 'utf-16')}" in line, line
    assert "CR" not in line


def test_utf16_option_on_a_file_without_bom_is_one_line(tmp_path: Path,
                                                        service_env: dict[str, str]) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("email,first_name,last_name,phone,birth_date,city,country,signup_at,"
                    "balance\n" + "\n".join(customers_rows(2)) + "\n")
    run = produce(path, service_env, "--encoding", "utf-16")
    assert run.rc == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    [line] = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    assert "byte order mark" in line
    assert "utf-16le or utf-16be" in line
