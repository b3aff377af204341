"""``producer watch`` on a remote prefix (moto's S3 with --s3-endpoint-url, pyftpdlib): the
listing and the moves take the sources' options, each file is published once through its
URL and loads exactly; no secret in the output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.pipeline import ROOT, assert_loaded_exactly, consume_burst, finish, start, wait_for
from tests.source_servers import (
    FTP_PLAIN_PASSWORD,
    FTP_PLAIN_USER,
    S3_SECRET,
    ftp_server,
    s3_client,
    s3_env,
    s3_server,
)

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "data" / "customers_sample.csv"


@dataclass
class Prefix:
    inbox: str
    done: str
    env: dict[str, str]
    secrets: tuple[str, ...]
    done_names: Any  # Callable[[], list[str]]: the names under the done prefix


@contextmanager
def prefix(kind: str, root: Path) -> Iterator[Prefix]:
    """``in/customers.csv`` under a prefix of ``kind``'s server, and an empty ``done/``."""
    (root / "in").mkdir()
    (root / "done").mkdir()
    if kind == "ftp":
        shutil.copy(SAMPLE, root / "in" / "customers.csv")
        with ftp_server(root) as ftp:
            # a password with @ : / fails here: fsspec's url_to_fs (the listing) keeps it
            # percent-encoded (the reads, libs.sources, decode it)
            base = (f"ftp://{FTP_PLAIN_USER}:{quote(FTP_PLAIN_PASSWORD, safe='')}"
                    f"@127.0.0.1:{ftp.port}")
            yield Prefix(f"{base}/in/", f"{base}/done/", {},
                         (FTP_PLAIN_PASSWORD, quote(FTP_PLAIN_PASSWORD, safe="")),
                         lambda: sorted(p.name for p in (root / "done").iterdir()))
        return
    with s3_server() as s3:
        client, bucket = s3_client(s3.endpoint), f"drop-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="in/customers.csv", Body=SAMPLE.read_bytes())

        def done_names() -> list[str]:
            listed = client.list_objects_v2(Bucket=bucket, Prefix="done/").get("Contents", [])
            return sorted(item["Key"].rsplit("/", 1)[-1] for item in listed)

        yield Prefix(f"s3://{bucket}/in/", f"s3://{bucket}/done/", s3_env(s3.endpoint),
                     (S3_SECRET,), done_names)


def _lines(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    handle = proc.files[0]  # type: ignore[attr-defined]
    text = os.pread(handle.fileno(), 1 << 20, 0).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("kind", ["s3", "ftp"])
async def test_a_watched_remote_prefix_publishes_its_file_once_and_moves_it(
        tmp_path: Path, kind: str, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    with prefix(kind, tmp_path) as where:
        env = {**service_env, **where.env}
        proc = start("producer", "watch", where.inbox, "--interval", "0.3", "--done-prefix",
                     where.done, env=env)

        async def published() -> bool:
            return any(line.get("status") == "ok" for line in _lines(proc))

        await wait_for(published, 60, "the watcher's result line")
        await wait_for(lambda: _async(where.done_names() == ["customers.csv"]), 30,
                       "the file moved to the done prefix")
        lines = _lines(proc)
        proc.send_signal(signal.SIGTERM)
        run = finish(proc)
    assert run.rc == 0, run.stderr[-2000:]
    [line] = [line for line in lines if line.get("status") == "ok"]
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr[-2000:]
    await assert_loaded_exactly(database_url, [SAMPLE], [line["job_id"]])
    shown = [json.dumps(line) for line in lines] + [
        text for text in run.stderr.splitlines() if '"event": "watching"' not in text]
    assert not [text for text in shown if any(secret in text for secret in where.secrets)]


async def test_the_watcher_never_shows_a_done_prefix_password(tmp_path: Path,
                                                             service_env: dict[str, str]) -> None:
    with prefix("ftp", tmp_path) as where:
        proc = start("producer", "watch", where.inbox, "--interval", "0.3", "--done-prefix",
                     where.done, "--pattern", "none-*", env=service_env)
        await wait_for(lambda: _async(any(
            '"watching"' in text for text in _stderr(proc).splitlines())), 30, "watching")
        proc.send_signal(signal.SIGTERM)
        run = finish(proc)
    assert not [secret for secret in where.secrets if secret in run.stderr]


def _stderr(proc: subprocess.Popen[str]) -> str:
    handle = proc.files[1]  # type: ignore[attr-defined]
    return os.pread(handle.fileno(), 1 << 20, 0).decode()


async def _async(value: bool) -> bool:
    return value
