"""``POST /v1/jobs`` with a URL: only hosts of INGEST_URL_ALLOW, never loopback unless listed."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.fetch import checked_address, listing, safe_url
from api.problems import Problem
from tests.apiserver import assert_problem, start_api
from tests.pipeline import customers_rows, write_csv


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An http.server on 127.0.0.1 serving ``remote.csv``: (its port, the file)."""
    folder = tmp_path / "served"
    folder.mkdir()
    path = write_csv(folder / "remote.csv", customers_rows(4))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], path
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_listed_host_is_fetched_others_refused(tmp_path: Path, service_env: dict[str, str],
                                               clean_tables: None,
                                               served: tuple[int, Path]) -> None:
    port, path = served
    api = start_api(tmp_path / "a", service_env, INGEST_URL_ALLOW="localhost")
    try:
        with api.client() as client:
            url = f"http://localhost:{port}/remote.csv?X-Signature=secret-sig"
            answer = client.post("/v1/jobs", json={"url": url, "dataset": "customers"})
            assert answer.status_code == 202, answer.text
            status = client.get(answer.json()["status_url"]).json()
            assert status["source"]["name"] == "remote.csv"
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert [p.name for p in api.uploads.iterdir()] == [digest]

            refused = client.post("/v1/jobs", json={
                "url": f"http://127.0.0.1:{port}/remote.csv", "dataset": "customers"})
            assert "not in INGEST_URL_ALLOW" in assert_problem(refused, 422)["detail"]
            missing = client.post("/v1/jobs", json={
                "url": f"http://localhost:{port}/nope.csv?sig=secret-sig",
                "dataset": "customers"})
            assert "answered 404" in assert_problem(missing, 422)["detail"]
            assert "secret-sig" not in missing.text
            scheme = client.post("/v1/jobs", json={"url": "file:///etc/passwd",
                                                   "dataset": "customers"})
            assert_problem(scheme, 422)
    finally:
        run = api.stop()
    assert "secret-sig" not in run.stderr


@pytest.mark.integration
def test_loopback_is_refused_unless_listed(tmp_path: Path, service_env: dict[str, str],
                                           served: tuple[int, Path]) -> None:
    port, _ = served
    api = start_api(tmp_path, service_env, INGEST_URL_ALLOW="*")
    try:
        with api.client() as client:
            for host in ("127.0.0.1", "localhost", "[::1]"):
                answer = client.post("/v1/jobs", json={
                    "url": f"http://{host}:{port}/remote.csv", "dataset": "customers"})
                problem = assert_problem(answer, 422)
                assert "private, loopback or link-local" in problem["detail"], problem
            assert not api.uploads.exists() or list(api.uploads.iterdir()) == []
    finally:
        api.stop()


@pytest.mark.unit
@pytest.mark.parametrize(("host", "allow", "how"), [
    ("files.example.com", ("files.example.com",), "exact"),
    ("FILES.example.com.", ("files.example.com",), "exact"),
    ("a.example.com", ("*.example.com",), "pattern"),
    ("example.com", ("*.example.com",), None),
    ("badexample.com", ("*.example.com",), None),
    ("anything.org", ("*",), "pattern"),
    ("anything.org", (), None),
])
def test_listing(host: str, allow: tuple[str, ...], how: str | None) -> None:
    assert listing(host, allow) == how


@pytest.mark.unit
def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("https://u:pw@h.example:8443/a/b.csv?sig=s#f") == "https://h.example:8443/a/b.csv"


@pytest.mark.unit
@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "a..example.com", ".example.com"])
async def test_a_host_name_idna_refuses_is_a_422_not_a_500(host: str) -> None:
    with pytest.raises(Problem) as refused:
        await checked_address(f"http://{host}/f.csv", ("*",))
    assert refused.value.status == 422
    assert "not a valid host name" in refused.value.detail


@pytest.mark.unit
@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[64:ff9b:1::a9fe:a9fe]",
                                  "[2002:7f00:1::]", "[::127.0.0.1]", "[::ffff:10.0.0.1]"])
async def test_ipv6_forms_of_a_private_ipv4_address_are_private(host: str) -> None:
    """NAT64, 6to4 and IPv4-compatible addresses reach the IPv4 address they carry: a `*`
    listing refuses them as it refuses that address (Python 3.11 calls the first three
    global)."""
    with pytest.raises(Problem) as refused:
        await checked_address(f"http://{host}:8080/f.csv", ("*",))
    assert "private, loopback or link-local" in refused.value.detail


@pytest.mark.unit
async def test_ipv6_forms_of_a_public_ipv4_address_are_public() -> None:
    for host in ("[64:ff9b::808:808]", "[2002:808:808::1]"):
        _, _, address = await checked_address(f"http://{host}/f.csv", ("*",))
        assert str(address) == host.strip("[]")
