"""Servers on localhost for the remote sources' tests: an HTTP server with Range and
conditional requests (stdlib http.server), an FTP server (pyftpdlib) and an S3 server (moto).
Each counts what it served, so a test can tell a ranged read from a download from the start.
Their ports come from tests/ports.py.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from tests.ports import free_ports

RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
for _noisy in ("pyftpdlib", "werkzeug"):  # one line per request otherwise
    logging.getLogger(_noisy).setLevel(logging.WARNING)


@dataclass
class Log:
    """What a server served: each request (method, path, first byte asked, status) and the
    body bytes sent."""

    requests: list[tuple[str, str, int | None, int]] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, start: int | None, status: int, sent: int) -> None:
        with self.lock:
            self.requests.append((method, path, start, status))
            self.bytes_sent += sent

    def sent(self, n: int) -> None:
        with self.lock:
            self.bytes_sent += n

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes_sent = 0

    def starts(self, method: str = "GET") -> list[int | None]:
        """The first byte each ``method`` request asked for (None: no Range)."""
        return [start for m, _, start, _ in self.requests if m == method]


class RangeServer(ThreadingHTTPServer):
    """Serves the files of ``root``. Options (set by tests between requests): ``validators``
    (send ETag and Last-Modified, honour If-Match / If-Unmodified-Since), ``weak`` (a W/
    ETag), ``signature`` (the ``sig`` query value required, else 403), ``basic_auth``
    (``user:password`` required, else 401), ``ranges`` (honour
    Range and say so; else ignore it, as python -m http.server does, and say nothing or, with
    ``says_no_ranges``, ``Accept-Ranges: none``), ``cut_next`` (cut the body of the next N
    GETs half-way: a reset connection), ``fail_next`` (answer the next N GETs 503)."""

    daemon_threads = True

    def __init__(self, root: Path, port: int) -> None:
        super().__init__(("127.0.0.1", port), RangeHandler)
        self.root = root
        self.log = Log()
        self.validators = True
        self.weak = False
        self.signature: str | None = None
        self.basic_auth: str | None = None  # "user:password" required, else 401
        self.ranges = True
        self.says_no_ranges = False
        self.cut_next = 0
        self.fail_next = 0

    def url(self, name: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}" + (f"?{query}" if query
                                                                      else "")


class RangeHandler(BaseHTTPRequestHandler):
    server: RangeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``server.log``."""

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _refusal(self, path: Path, query: str) -> int:
        srv = self.server
        if srv.basic_auth is not None and self.headers.get("Authorization") != (
                "Basic " + base64.b64encode(srv.basic_auth.encode()).decode()):
            return 401
        if srv.signature is not None and parse_qs(query).get("sig") != [srv.signature]:
            return 403
        if not path.is_file():
            return 404
        if srv.fail_next and self.command == "GET":
            srv.fail_next -= 1
            return 503
        return 0

    def _precondition_failed(self, etag: str, mtime: float) -> bool:
        if not self.server.validators:
            return False
        if (match := self.headers.get("If-Match")) is not None and match != etag:
            return True
        since = self.headers.get("If-Unmodified-Since")
        return since is not None and int(mtime) > parsedate_to_datetime(since).timestamp()

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        path = self.server.root / url.path.lstrip("/")
        if status := self._refusal(path, url.query):
            return self._empty(status, url.path)
        data, mtime = path.read_bytes(), path.stat().st_mtime
        etag = ("W/" if self.server.weak else "") + f'"{hashlib.md5(data).hexdigest()}"'
        if self._precondition_failed(etag, mtime):
            return self._empty(412, url.path)
        start, end, status = 0, len(data), 200
        asked = RANGE.match(self.headers.get("Range", "")) if self.server.ranges else None
        if asked:
            start = int(asked[1])
            end = min(int(asked[2]) + 1, len(data)) if asked[2] else len(data)
            status = 206
            if start >= len(data):
                return self._empty(416, url.path)
        self.send_response(status)
        self.send_header("Content-Length", str(end - start))
        if self.server.ranges or self.server.says_no_ranges:
            self.send_header("Accept-Ranges", "bytes" if self.server.ranges else "none")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        if self.server.validators:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(mtime, usegmt=True))
        self.end_headers()
        self.server.log.add(self.command, url.path, start if asked else None, status, 0)
        if body:  # logged first: the client may go on as soon as it has the body
            self.server.log.sent(self._body(data[start:end]))

    def _body(self, chunk: bytes) -> int:
        if self.server.cut_next:
            self.server.cut_next -= 1
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            return len(chunk) // 2
        self.wfile.write(chunk)
        return len(chunk)

    def _empty(self, status: int, path: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.log.add(self.command, path, None, status, 0)


@contextmanager
def http_server(root: Path) -> Iterator[RangeServer]:
    server = RangeServer(root, free_ports())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- FTP -------------------------------------------------------------------------------------

FTP_USER = "loader"
FTP_PASSWORD = "p@ss:w/rd-Secret7"  # characters a URL must percent-encode
# A second user, who may write (producer watch moves files): a password that needs encoding too.
FTP_PLAIN_USER, FTP_PLAIN_PASSWORD = "watcher", "w@tch:er/Pass-99"


@dataclass
class FtpServer:
    port: int
    root: Path
    log: Log

    def url(self, name: str, password: str = FTP_PASSWORD) -> str:
        return f"ftp://{FTP_USER}:{quote(password, safe='')}@127.0.0.1:{self.port}/{name}"


@contextmanager
def ftp_server(root: Path) -> Iterator[FtpServer]:
    """pyftpdlib serving ``root`` to FTP_USER / FTP_PASSWORD (read only); its log has each
    RETR with its REST offset and the bytes the data connections sent."""
    with warnings.catch_warnings():  # pyftpdlib on Python 3.11 imports asyncore (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import DTPHandler, FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

    log = Log()

    class CountingDTP(DTPHandler):  # type: ignore[misc]
        def close(self) -> None:
            if not self._closed:
                log.add("DATA", "", None, 0, self.tot_bytes_sent)
            super().close()

    class RecordingHandler(FTPHandler):  # type: ignore[misc]
        dtp_handler = CountingDTP

        def ftp_RETR(self, file: str) -> Any:
            log.add("RETR", file, self._restart_position, 0, 0)
            return super().ftp_RETR(file)

    authorizer = DummyAuthorizer()
    for user, password in ((FTP_USER, FTP_PASSWORD), (FTP_PLAIN_USER, FTP_PLAIN_PASSWORD)):
        authorizer.add_user(user, password, str(root), perm="elradfmw")  # watch moves files
    RecordingHandler.authorizer = authorizer
    port = free_ports()
    server = ThreadedFTPServer(("127.0.0.1", port), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"timeout": 0.1, "handle_exit": False}, daemon=True)
    thread.start()
    try:
        yield FtpServer(port, root, log)
    finally:
        server.close_all()
        thread.join(5)


# --- S3 (moto) -------------------------------------------------------------------------------

S3_KEY_ID = "AKIAEXAMPLETESTKEY01"
S3_SECRET = "s3cr3t-Example-Secret-Key-0001"


def s3_env(endpoint: str, key: str = S3_KEY_ID, secret: str = S3_SECRET) -> dict[str, str]:
    """What a producer needs to reach moto: credentials, region, the endpoint; no config
    files and no instance metadata lookups."""
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "INGEST_S3_ENDPOINT_URL": endpoint}


@dataclass
class S3Server:
    endpoint: str
    log: Log


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's S3 in a thread of this process (its WSGI app in werkzeug, as moto's
    ThreadedMotoServer runs it) behind a middleware that logs each object GET with the first
    byte of its Range and the body bytes sent."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    log = Log()
    app = DomainDispatcherApplication(create_backend_app)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        asked = RANGE.match(environ.get("HTTP_RANGE", ""))
        body = b"".join(app(environ, start_response))
        query = environ.get("QUERY_STRING", "")
        if environ["REQUEST_METHOD"] == "GET" and (not query or query.startswith("versionId")):
            log.add("GET", environ["PATH_INFO"], int(asked[1]) if asked else None, 0,
                    len(body))
        return [body]

    server = make_server("127.0.0.1", free_ports(), counting, True,
                         request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield S3Server(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def s3_server_with_auth(auth_after: int) -> Iterator[str]:
    """``moto_server`` in a process of its own (its settings are read at import) on a free
    port; its endpoint URL. Requests after the first ``auth_after`` must be signed with keys
    moto knows (none are): every later request is refused InvalidAccessKeyId."""
    port = free_ports()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": str(auth_after)}

    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_port(port, proc)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"moto_server exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"moto_server did not listen on {port} in 30 s")


def s3_client(endpoint: str) -> Any:
    """A boto3 client of moto (the tests' own, to make buckets and objects)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY_ID,
                        aws_secret_access_key=S3_SECRET, region_name="us-east-1")
