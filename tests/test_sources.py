"""Remote sources (libs/sources: s3, http, ftp) against real servers on localhost: ranged
reads after a seek, identity, changes during a read, retries, errors and redaction. The
producer end to end is in test_sources_pipeline.py."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from libs.errors import FileChanged, SourceUnavailable, UserError
from libs.sources import LocalSource, Source, SourceOptions, open_source, source_name
from libs.sources.remote import FIRST_REQUEST, STATE_CHECK_INTERVAL_S, redacted
from producer.inbox import member
from tests.pipeline import customers_rows, write_csv
from tests.source_servers import (
    FTP_PASSWORD,
    S3_SECRET,
    Log,
    ftp_server,
    http_server,
    s3_client,
    s3_env,
    s3_server,
)

SIGNATURE = "Sig-9f8e7d6c5b4a"
KINDS = ("http", "ftp", "s3")


@dataclass
class Served:
    """One file behind one server: its URL, the server's log, how to replace the file."""

    url: str
    log: Log
    options: SourceOptions
    replace: object  # Callable[[bytes], None]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore in this process: test credentials, no config files, no metadata lookups."""
    for key, value in s3_env("unused").items():
        if key != "INGEST_S3_ENDPOINT_URL":
            monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)


@contextmanager
def serve(kind: str, root: Path, name: str, *, versioned: bool = False) -> Iterator[Served]:
    """``root/name`` served by ``kind``'s server (S3: uploaded to bucket ``b``)."""
    with ExitStack() as stack:
        if kind == "http":
            http = stack.enter_context(http_server(root))
            http.signature = SIGNATURE
            yield Served(http.url(name, f"sig={SIGNATURE}&X-Amz-Expires=60"), http.log,
                         SourceOptions(retry_budget=5), (root / name).write_bytes)
        elif kind == "ftp":
            ftp = stack.enter_context(ftp_server(root))
            yield Served(ftp.url(name), ftp.log, SourceOptions(retry_budget=5),
                         (root / name).write_bytes)
        else:
            s3 = stack.enter_context(s3_server())
            client = s3_client(s3.endpoint)
            bucket = f"bkt-{uuid.uuid4().hex[:12]}"  # moto's state lives as long as the process
            client.create_bucket(Bucket=bucket)
            if versioned:
                client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={
                    "Status": "Enabled"})

            def upload(data: bytes) -> None:
                client.put_object(Bucket=bucket, Key=name, Body=data)

            upload((root / name).read_bytes())
            s3.log.clear()
            yield Served(f"s3://{bucket}/{name}", s3.log,
                         SourceOptions(retry_budget=5, s3_endpoint_url=s3.endpoint), upload)


def big_file(root: Path, rows: int = 100_000) -> bytes:
    return write_csv(root / "big.csv", customers_rows(rows)).read_bytes()


def opened(served: Served) -> Source:
    return open_source(served.url, served.options)


@pytest.mark.unit
@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:pw0rd@h.example/in/x.csv?X-Amz-Signature=abc#frag",
     "https://u:***@h.example/in/x.csv?***"),
    ("http://h.example:8080/x.csv", "http://h.example:8080/x.csv"),
    ("ftp://me:p%40ss@h.example/in/x.csv", "ftp://me:***@h.example/in/x.csv"),
    ("ftp://h.example/x.csv", "ftp://h.example/x.csv"),
    ("s3://bucket/in/x.csv", "s3://bucket/in/x.csv"),
    ("s3://bucket/x.csv?versionId=v1", "s3://bucket/x.csv?versionId=v1"),
])
def test_display_never_shows_a_password_or_a_query(url: str, shown: str) -> None:
    source = open_source(url)
    assert source.display == shown
    assert source.name == "x.csv"
    assert source.local_path is None


@pytest.mark.unit
@pytest.mark.parametrize(("url", "message"), [
    ("s3://bucket", "expected s3://BUCKET/KEY"),
    ("s3://bucket/x.csv?token=t0psecret", "the only query"),
    ("https:///x.csv?sig=t0psecret", "expected https://HOST/PATH"),
    ("ftp://user:t0psecret@host/", "expected ftp://"),
    ("gs://bucket/x.csv?sig=t0psecret", "no source reads gs://"),
])
def test_a_url_no_source_can_take_is_a_user_error(url: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        open_source(url)
    assert "t0psecret" not in str(caught.value)
    assert redacted(url) in str(caught.value) or "s3://bucket" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_seek_reads_a_range_not_the_file_from_its_start(tmp_path: Path, kind: str,
                                                          aws: None) -> None:
    data = big_file(tmp_path)
    with serve(kind, tmp_path, "big.csv") as served:
        source = opened(served)
        assert source.size() == len(data)
        middle = len(data) // 4 + 12_345
        with source.open() as handle:
            handle.seek(middle)
            assert handle.read(50_000) == data[middle:middle + 50_000]
            assert handle.tell() == middle + 50_000
        asked = served.log.starts("RETR" if kind == "ftp" else "GET")
        assert asked == [middle], served.log.requests  # one ranged request, from the offset
        if kind == "ftp":  # REST: nothing before the offset is sent; what the server pushed
            # into the loopback's socket buffers before the client's ABOR is not bounded
            assert served.log.bytes_sent <= len(data) - middle
        else:
            assert served.log.bytes_sent <= FIRST_REQUEST * 2  # 50,000 bytes asked


@pytest.mark.parametrize("kind", KINDS)
def test_the_identity_comes_from_the_metadata_and_a_change_is_another(
        tmp_path: Path, kind: str, aws: None) -> None:
    data = write_csv(tmp_path / "f.csv", customers_rows(50)).read_bytes()
    with serve(kind, tmp_path, "f.csv") as served:
        first = opened(served).identity()
        assert first.kind == {"http": "http-etag", "ftp": "ftp-mdtm", "s3": "s3-etag"}[kind]
        assert first.size == len(data)
        assert opened(served).identity() == first  # stable while the object is
        assert not served.log.starts("RETR" if kind == "ftp" else "GET")  # nothing read
        changed = data.replace(b"user1@", b"userX@")
        if kind == "ftp":  # MDTM has whole seconds: a rewrite in the same second, same size,
            changed += b"user9999@example.com,A,B,1,,C,FR,,\n"  # keeps the identity (README)
        served.replace(changed)  # type: ignore[operator]
        assert opened(served).identity() != first


def test_a_signed_url_signed_again_is_the_same_object(tmp_path: Path) -> None:
    write_csv(tmp_path / "f.csv", customers_rows(5))
    with http_server(tmp_path) as http:
        one = open_source(http.url("f.csv", "sig=a1")).identity()
        two = open_source(http.url("f.csv", "sig=b2&expires=9")).identity()
    assert one == two


def test_a_server_without_validators_is_hashed_whole(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "f.csv", customers_rows(500)).read_bytes()
    with http_server(tmp_path) as http:
        http.validators = False
        identity = open_source(http.url("f.csv")).identity()
    assert identity.kind == "sha256"
    assert identity.digest == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("pinned", [False, True])
def test_a_versioned_object_is_its_version_and_a_url_may_pin_it(tmp_path: Path, aws: None,
                                                                 pinned: bool) -> None:
    data = big_file(tmp_path, 60_000)
    with serve("s3", tmp_path, "big.csv", versioned=True) as served:
        source = opened(served)
        assert source.identity().kind == "s3-version-id"
        if pinned:
            version = source._snapshot.token[1]  # type: ignore[attr-defined]
            source = open_source(f"{served.url}?versionId={version}", served.options)
        with source.open() as handle:
            head = handle.read(1000)
            served.replace(b"email\nnew@example.com\n")  # type: ignore[operator]
            handle.seek(len(data) - 1000)
            if not pinned:  # If-Match: the new version is refused
                with pytest.raises(FileChanged):
                    handle.read()
                return
            assert head + handle.read() == data[:1000] + data[-1000:]
            assert source.state(handle) == source.state(handle)
        assert opened(served).identity() != source.identity()


@pytest.mark.parametrize("kind", ["http", "s3"])
def test_an_object_replaced_during_the_read_is_file_changed(tmp_path: Path, kind: str,
                                                             aws: None) -> None:
    data = big_file(tmp_path)
    with serve(kind, tmp_path, "big.csv") as served:
        source = opened(served)
        with source.open() as handle:
            assert handle.read(1000) == data[:1000]
            served.replace(data.replace(b"user9", b"userZ"))  # type: ignore[operator]
            handle.seek(len(data) - 100_000)
            with pytest.raises(FileChanged, match="changed while it was read") as caught:
                handle.read(10)
    assert SIGNATURE not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_state_asks_rarely_and_once_after_the_last_byte(tmp_path: Path, kind: str,
                                                        aws: None) -> None:
    data = big_file(tmp_path, 20_000)
    with serve(kind, tmp_path, "big.csv") as served:
        source = opened(served)
        with source.open() as handle:
            first = source.state(handle)
            assert handle.read(100) == data[:100]
            served.replace(data + b"x@example.com,A,B,1,,C,FR,,\n")  # type: ignore[operator]
            assert all(source.state(handle) == first for _ in range(50))  # within the interval
        served.replace(data)  # type: ignore[operator]
        source = opened(served)
        with source.open() as handle:
            first = source.state(handle)
            assert handle.read() == data  # read to its end: the next state() asks again
            served.replace(data + b"x@example.com,A,B,1,,C,FR,,\n")  # type: ignore[operator]
            assert source.state(handle) != first
    assert STATE_CHECK_INTERVAL_S >= 1


def test_a_cut_connection_and_503s_are_retried(tmp_path: Path) -> None:
    data = big_file(tmp_path)
    with http_server(tmp_path) as http:
        source = open_source(http.url("big.csv"), SourceOptions(retry_budget=30))
        with source.open() as handle:
            handle.seek(1000)
            http.cut_next, http.fail_next = 1, 2
            assert handle.read() == data[1000:]
        assert http.cut_next == http.fail_next == 0
        statuses = [status for method, _, _, status in http.log.requests if method == "GET"]
        assert statuses.count(503) == 2


def test_a_failure_past_the_budget_is_source_unavailable(tmp_path: Path) -> None:
    write_csv(tmp_path / "f.csv", customers_rows(50))
    with http_server(tmp_path) as http:
        http.signature = SIGNATURE
        source = open_source(http.url("f.csv", f"sig={SIGNATURE}"), SourceOptions(retry_budget=1))
        with source.open() as handle:
            http.fail_next = 1000
            with pytest.raises(SourceUnavailable, match="rerun to resume") as caught:
                handle.read()
    assert SIGNATURE not in str(caught.value)


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("http", "missing.csv", "not found"),
    ("ftp", "missing.csv", "not found"),
    ("s3", "missing.csv", "no such object"),
])
def test_a_missing_object_is_a_user_error(tmp_path: Path, kind: str, name: str,
                                          message: str, aws: None) -> None:
    write_csv(tmp_path / "f.csv", customers_rows(5))
    with serve(kind, tmp_path, "f.csv") as served:
        url = served.url.replace("f.csv", name)
        with pytest.raises(UserError, match=message) as caught:
            open_source(url, served.options).open()
    text = str(caught.value)
    assert all(secret not in text for secret in (SIGNATURE, FTP_PASSWORD, S3_SECRET))


def test_refused_logins_are_user_errors_without_the_secret(tmp_path: Path) -> None:
    write_csv(tmp_path / "f.csv", customers_rows(5))
    with http_server(tmp_path) as http:
        http.signature = SIGNATURE
        with pytest.raises(UserError, match="HTTP 403") as caught:
            open_source(http.url("f.csv", "sig=Wrong-Sig-123")).open()
        assert "Wrong-Sig-123" not in str(caught.value)
    with ftp_server(tmp_path) as ftp:
        with pytest.raises(UserError, match="refused the login") as caught:
            open_source(ftp.url("f.csv", password="Bad-Pass-456")).open()
        assert "Bad-Pass-456" not in str(caught.value)
        assert "ftp://loader:***@" in str(caught.value)


def test_the_s3_endpoint_may_come_from_aws_endpoint_url(tmp_path: Path, aws: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_csv(tmp_path / "f.csv", customers_rows(5)).read_bytes()
    with serve("s3", tmp_path, "f.csv") as served:
        monkeypatch.setenv("AWS_ENDPOINT_URL", str(served.options.s3_endpoint_url))
        with open_source(served.url).open() as handle:
            assert handle.read() == data
    assert "AWS_ENDPOINT_URL" in os.environ


@pytest.mark.parametrize("says_so", [True, False])
def test_a_server_without_ranges_is_read_as_one_stream(tmp_path: Path, says_so: bool) -> None:
    data = big_file(tmp_path, 20_000)  # 2 MB: more than one request
    with http_server(tmp_path) as http:
        http.ranges, http.says_no_ranges = False, says_so
        source = open_source(http.url("big.csv"))
        with source.open() as handle:
            assert handle.read(100) == data[:100]
            handle.seek(len(data) // 2)  # forward: read and dropped
            assert handle.read() == data[len(data) // 2:]
            handle.seek(10)  # back: the stream again from the start
            assert handle.read(90) == data[10:100]
        gets = http.log.starts()
        assert len(gets) == (2 if says_so else 4), gets  # else 2 ranged GETs answered 200
        assert source.identity().kind == "http-etag"


def test_an_unknown_s3_endpoint_host_is_a_user_error(aws: None) -> None:
    options = SourceOptions(retry_budget=30, s3_endpoint_url="http://nonexistent.invalid:9000")
    with pytest.raises(UserError, match=r"unknown host nonexistent\.invalid"):
        open_source("s3://bucket/x.csv", options).open()


def test_a_url_with_a_password_is_basic_authentication(tmp_path: Path) -> None:
    data = big_file(tmp_path, 20_000)
    with http_server(tmp_path) as http:
        http.basic_auth = "reader:Pw-0f-Reader"
        url = http.url("big.csv").replace("http://", "http://reader:Pw-0f-Reader@")
        source = open_source(url)
        assert source.display == url.replace("Pw-0f-Reader", "***")
        with source.open() as handle:
            handle.seek(1000)
            assert handle.read() == data[1000:]
        with pytest.raises(UserError, match="HTTP 401") as caught:
            open_source(url.replace("Pw-0f", "Wrong")).open()
    assert "Wrong" not in str(caught.value)


def test_a_path_with_a_colon_is_a_local_file_not_a_url(tmp_path: Path) -> None:
    """Only a location with ``://`` (or ``file:``) is a URL: ``backup:1.csv`` is a path."""
    path = tmp_path / "backup:1.csv"
    path.write_bytes(b"a\n1\n")
    for location in (str(path), "backup:1.csv", "C:\\x.csv"):
        assert isinstance(open_source(location), LocalSource), location
    assert open_source(str(path)).size() == 4


def test_an_s3_url_with_a_password_is_refused_without_showing_it() -> None:
    with pytest.raises(UserError) as refused:
        open_source("s3://AKIAX:topsecret@bucket/in/x.csv")
    assert "topsecret" not in str(refused.value)
    assert "takes no user or password" in str(refused.value)


def test_a_listed_name_with_url_characters_opens_its_own_object() -> None:
    """producer watch appends a listed name to the prefix's URL: ``#`` and ``?`` are
    encoded, and the S3 source decodes the key (``report#1.csv`` is not ``report``)."""
    location = member("s3://bucket/in/", "report#1 ?.csv")
    assert location == "s3://bucket/in/report%231%20%3F.csv"
    source = open_source(location)
    assert source.key == "in/report#1 ?.csv"  # type: ignore[attr-defined]
    assert source.name == "report#1 ?.csv"
    assert source_name(location) == "report#1 ?.csv"
